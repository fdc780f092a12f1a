#include "node/server.h"

#include <fmt/format.h>

#include "node/key_request.h"
#include "node/log_writer.h"
#include "node/wire/replica_codec.h"
#include "proto/client_codec.h"

namespace qkv::node {
namespace {

// How often deadlines are checked: the resolution of request timeouts.
constexpr Duration kTickInterval{5};

int64_t unix_ms() {
  return Server::unix_now_ms();
}

HostPort advertised(const std::optional<HostPort>& advertise, const HostPort& listen) {
  return advertise ? *advertise : listen;
}

// Where others reach this node's HTTP port: its listen address, on the advertised client
// host when it listens on every interface; empty when off or on a kernel-chosen port.
std::string http_advertised(const DaemonConfig& config) {
  if (!config.http_listen || config.http_listen->port == 0) return "";
  HostPort http = *config.http_listen;
  if (is_unspecified_host(http.host)) {
    http.host = advertised(config.client_advertise, config.client_listen).host;
  }
  return http.to_string();
}

gossip::GossipConfig gossip_config(const DaemonConfig& config) {
  gossip::GossipConfig g;
  g.interval = config.gossip_interval;
  g.phi_convict = config.phi_convict;
  std::string self = advertised(config.peer_advertise, config.peer_listen).to_string();
  for (const auto& seed : config.seeds) g.seeds.push_back(seed.to_string());
  // The initial members are seeds too: they are where the cluster starts.
  for (const auto& m : config.members) {
    if (m.id != config.node.node_id && m.peer.to_string() != self) {
      g.seeds.push_back(m.peer.to_string());
    }
  }
  return g;
}

handoff::HandoffConfig handoff_config(const DaemonConfig& config) {
  handoff::HandoffConfig h;
  h.hint_age_max = config.hint_age_max;
  h.hint_bytes_max = config.hint_bytes_max;
  h.hints_per_second_max = config.hints_per_second_max;
  return h;
}

net::TransportOptions transport_options(const DaemonConfig& config) {
  net::TransportOptions options;
  options.frame_bytes_max = config.node.limits.frame_bytes_max;
  options.send_queue_bytes_max = config.send_queue_bytes_max;
  options.connect_timeout_ms = config.connect_timeout_ms;
  return options;
}

// Bulkheads: anti-entropy and transfer messages (batches of up to a megabyte or more)
// travel on a link of their own to each peer ("bg:" + id; ':' is never in a node id), so
// replica writes, acks and forwards never wait behind them in one TCP send queue. Gossip
// has links of its own too ("@" + address).
constexpr std::string_view kBackgroundLink = "bg:";

bool is_background(const PeerMessage& message) {
  return std::visit(
      [](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        return std::is_same_v<T, TreeRequest> || std::is_same_v<T, TreeReply> ||
               std::is_same_v<T, SegmentRequest> || std::is_same_v<T, SegmentReply> ||
               std::is_same_v<T, KeysRequest> || std::is_same_v<T, KeysReply> ||
               std::is_same_v<T, TransferRequest> || std::is_same_v<T, TransferReply> ||
               std::is_same_v<T, ReplicaReap>;
      },
      message.body);
}

// Peers get silence bounds: a link that stops answering is replaced within seconds.
net::TransportOptions peer_transport_options(const DaemonConfig& config) {
  net::TransportOptions options = transport_options(config);
  options.ping_interval_ms = config.peer_ping_interval_ms;
  options.peer_silence_ms_max = config.peer_silence_ms_max;
  options.tcp_silence_ms_max = config.peer_silence_ms_max;
  return options;
}

HostConfig host_config(const DaemonConfig& config, const Boot& boot) {
  HostConfig h;
  h.node = config.node;
  h.node.generation = boot.generation;
  h.hinted_handoff = config.hinted_handoff;
  h.handoff = handoff_config(config);
  h.gossip = gossip_config(config);
  h.auto_join = config.auto_join;
  h.self = initial_self(config.node.node_id, boot.generation,
                        advertised(config.peer_advertise, config.peer_listen).to_string(),
                        advertised(config.client_advertise, config.client_listen).to_string(),
                        config.zone, boot.ring.version != 0, http_advertised(config));
  return h;
}

}  // namespace

Server::Server(boost::asio::io_context& io, const DaemonConfig& config, const Boot& boot,
               storage::Storage& storage, const Clock& clock)
    : io_(io),
      config_(config),
      clock_(clock),
      storage_(storage),
      host_(host_config(config, boot), boot, storage, *this, clock, unix_ms),
      node_(host_.node()),
      transport_options_(transport_options(config)),
      peer_transport_options_(peer_transport_options(config)),
      io_threads_(io, config.io_threads_or_cores() - 1),
      client_server_(io, config.client_listen.host, config.client_listen.port, transport_options_,
                     [this](auto c) { on_client_connection(std::move(c)); }),
      peer_server_(io, config.peer_listen.host, config.peer_listen.port, peer_transport_options_,
                   [this](auto c) { on_peer_connection(std::move(c)); }),
      peer_links_(io, peer_transport_options_),
      tick_timer_(io),
      drain_timer_(io),
      pause_timer_(io),
      tls_reload_timer_(io),
      auth_reload_timer_(io) {
  if (config.http_listen) {
    http_server_ = std::make_unique<net::HttpServer>(
        io, config.http_listen->host, config.http_listen->port, http_options(config.node.limits),
        [this](net::HttpRequest request, net::HttpServer::Respond respond) {
          on_http_request(std::move(request), std::move(respond));
        });
    http_server_->set_on_close([this](uint64_t connection) { on_http_close(connection); });
  }
  if (config.commit_thread_or_default()) {
    storage_thread_ = std::make_unique<StorageThread>(
        storage, [this] { boost::asio::post(io_, [this] { on_commit_done(); }); });
    node_.set_committer(storage_thread_.get());
  }
  client_server_.set_io_threads(&io_threads_);
  peer_server_.set_io_threads(&io_threads_);
  peer_links_.set_io_threads(&io_threads_);
  // Latencies need finer time than the core's milliseconds (node/latencies.h).
  node_.latencies().set_source([] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  });
  std::map<NodeId, std::string> client_addresses;
  for (const auto& m : config.members) {
    if (m.id != config.node.node_id) set_peer_address(m.id, m.peer.host, m.peer.port);
    if (!m.client.host.empty()) client_addresses[m.id] = m.client.to_string();
  }
  host_.membership().set_configured_client_addresses(std::move(client_addresses));
  host_.membership().set_on_member(
      [this](const gossip::NodeState& state) { learn_address(state); });
  node_.set_extra_counters([this] { return extra_counters(); });
  peer_links_.set_on_unreachable(
      [this](const NodeId& link, const std::string& why, bool never_sent) {
        // Background links are "bg:" + id; gossip links "@" + address: find whose it is.
        NodeId peer = node_of_link(link);
        if (peer.empty()) {
          for (const auto& [id, state] : host_.membership().gossip().members()) {
            if ("@" + state.peer_address == link) peer = id;
          }
          if (peer.empty()) return;  // a seed not known yet
        }
        log_event(LogEvent::debug("peer_unreachable").with("peer", peer).with("error", why));
        // A refused or broken connection: down now, not after phi's silence (Riak's
        // nodedown); rounds and forwards act on it only when nothing was sent.
        host_.on_peer_unreachable(peer, never_sent);
      });
  set_up_link_probes();
}

NodeId Server::node_of_link(const NodeId& link) {
  if (link.starts_with("@")) return {};
  return link.starts_with(kBackgroundLink) ? link.substr(kBackgroundLink.size()) : link;
}

void Server::set_up_link_probes() {
  host_.membership().set_link_silent([this](const NodeId& id) { return peer_links_.silent(id); });
  peer_links_.set_ping([this](uint64_t seq) {
    return encode(PeerMessage{config_.node.node_id, seq, LinkPing{}});
  });
  // The peer answers on our outbound link: the only frames that arrive there.
  peer_links_.set_on_frame([this](const NodeId& link, kj::ArrayPtr<const capnp::word> frame) {
    auto message = decode_peer_message(frame);
    if (message && std::holds_alternative<LinkPong>(message->body)) {
      peer_links_.on_pong(link, message->request_id);
      // Alive is the node the link dialled (over TLS its certificate names it). A gossip
      // link knows only an address: over TLS any node of the CA may answer there, so its
      // pong's claimed sender is believed only without TLS.
      if (NodeId node = node_of_link(link); !node.empty()) {
        host_.on_peer_alive(node);
      } else if (!tls_peer_links_) {
        host_.on_peer_alive(message->from);
      }
    }
  });
}

Server::~Server() {
  if (node_.batch_open()) node_.commit_batch();  // the io_context stopped before its post ran
  node_.commit_now();                            // and what the storage thread writes
  node_.set_committer(nullptr);
  shutting_down_ = true;  // connections closing from here on say nothing about peers
  tick_timer_.cancel();
  drain_timer_.cancel();
  pause_timer_.cancel();
  tls_reload_timer_.cancel();
  auth_reload_timer_.cancel();
}

int64_t Server::unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status Server::start() {
  QKV_RETURN_IF_ERROR(start_tls());
  QKV_RETURN_IF_ERROR(start_auth());
  QKV_RETURN_IF_ERROR(host_.open());
  QKV_RETURN_IF_ERROR(peer_server_.listen());
  QKV_RETURN_IF_ERROR(client_server_.listen());
  if (http_server_) QKV_RETURN_IF_ERROR(http_server_->listen());
  arm_tick();
  started_ = true;
  return Status::ok();
}

namespace {
constexpr std::string_view kSavedTreesMeta = "aae_trees";
}  // namespace

Status Server::load_saved_trees(bool after_clean_stop) {
  auto saved = storage_.get_meta(kSavedTreesMeta);
  if (!saved) return saved.status();
  if (after_clean_stop && saved.value() && !saved.value()->empty()) {
    Status loaded = node_.anti_entropy().load_trees(*saved.value(), clock_.now(), unix_ms());
    if (loaded.is_ok()) {
      log_event(LogEvent::info("aae_trees_loaded").with("bytes", saved.value()->size()));
    } else {
      log_event(
          LogEvent::warn("aae_trees_not_loaded").with("error", loaded).with("action", "rebuild"));
    }
  }
  if (saved.value() && !saved.value()->empty()) return storage_.put_meta(kSavedTreesMeta, "");
  return Status::ok();
}

Status Server::save_trees() {
  if (node_.batch_open()) node_.commit_batch();
  node_.commit_now();  // the trees must hold every write storage holds
  return storage_.put_meta(kSavedTreesMeta,
                           node_.anti_entropy().save_trees(clock_.now(), unix_ms()));
}

void Server::arm_tick() {
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    TimePoint now = clock_.now();
    open_member_links(now);
    send_gossip(host_.on_tick());
    if (host_.membership().exit_due() && on_removed_) std::exchange(on_removed_, nullptr)();
    for (const auto& event : host_.membership().take_log_events()) log_event(event);
    if (host_.membership().fatal() && on_fatal_) std::exchange(on_fatal_, nullptr)();  // logged
    for (const auto& event : host_.handoff().take_log_events()) log_event(event);
    for (const auto& event : node_.take_log_events()) log_event(event);
    for (const auto& event : node_.anti_entropy().take_log_events()) log_event(event);
    log_progress();
    backpressure();  // deadlines that passed in the tick finished requests too
    arm_tick();
  });
}

void Server::open_member_links(TimePoint now) {
  if (now < next_links_check_) return;
  next_links_check_ = now + config_.gossip_interval;
  for (const auto& [id, state] : host_.membership().gossip().members()) {
    if (id != config_.node.node_id && state.status != gossip::Status::kRemoved) {
      peer_links_.open(id);
    }
  }
}

void Server::on_client_connection(std::shared_ptr<net::Connection> connection) {
  ClientId id = next_client_id_++;
  if (clients_paused_ && !shedding_) connection->pause_reading();
  clients_.emplace(id, connection);
  connection->set_on_frame([this, id](auto frame) { on_client_frame(id, frame); });
  connection->set_on_error([this, id](const Status& status) {
    // The stream cannot be resynchronized: answer once (request id 0), then close.
    log_event(LogEvent::warn("client_frame_error").with("client", id).with("error", status));
    send_to_client(id, proto::ClientResponse{0, status, {}});
  });
  connection->set_on_send_failure([id](const Status& status) {
    log_event(LogEvent::warn("client_reply_dropped").with("client", id).with("error", status));
  });
  connection->set_on_close([this, id] {
    clients_.erase(id);
    outstanding_.erase(id);
    rate_limits_.erase(id);
    users_of_.erase(id);
  });
  if (authenticator_) {
    // Mutual TLS: a client certificate naming a user makes the connection that user.
    if (const User* user = authenticator_->user_of_certificate(connection->peer_names())) {
      users_of_.emplace(id, user->name);
    }
  }
}

void Server::on_client_frame(ClientId id, kj::ArrayPtr<const capnp::word> frame) {
  auto request = proto::decode_client_request(frame);
  if (!request) {
    // Framing is intact, so the connection keeps serving; the bad request gets an error.
    return send_to_client(
        id, proto::ClientResponse{0, Status::invalid_argument(request.status().message()), {}});
  }
  if (shutting_down_) {
    return send_to_client(
        id, proto::ClientResponse{
                request->request_id, Status::unavailable("the node is shutting down"), {}});
  }
  if (const auto* login = std::get_if<proto::AuthenticateRequest>(&request->op)) {
    return authenticate(id, request->request_id, *login);
  }
  if (authenticator_) {
    if (Status allowed = check_access(id, *request); !allowed.is_ok()) {
      return send_to_client(id, proto::ClientResponse{request->request_id, allowed, {}});
    }
  }
  if (is_key_request(*request)) {
    if (Status admitted = admit(id); !admitted.is_ok()) {
      return send_to_client(id, proto::ClientResponse{request->request_id, admitted, {}});
    }
  }
  ++outstanding_[id];  // every request decoded here gets exactly one answer (reply below)
  batch_writes();
  host_.on_client_request(id, std::move(request).value());
}

void Server::batch_writes() {
  if (node_.batch_open()) return;
  // Group commit: the frames already read in this io_context turn (their completions are
  // queued ahead of this post) share one storage write; their acks leave after it.
  node_.begin_batch();
  boost::asio::post(io_, [this] {
    node_.commit_batch();
    io_threads_.flush();  // the commit's answers and replica writes leave now
    backpressure();
  });
}

void Server::on_commit_done() {
  // The next commit starts at the end of this io turn, with the frames it reads.
  batch_writes();
  node_.on_commit_done(clock_.now());
  io_threads_.flush();  // the commit's answers and replica writes leave now
  backpressure();
}

void Server::on_peer_connection(std::shared_ptr<net::Connection> connection) {
  std::weak_ptr<net::Connection> weak = connection;
  // Who this inbound connection is from (peers name themselves in every message).
  auto sender = std::make_shared<NodeId>();
  connection->set_on_close([this, sender] {
    // The sender's connection to us broke: it died or stopped (or is restarting, and will
    // speak again). Direct evidence, as a refused connect is; not when we are stopping.
    if (shutting_down_ || sender->empty()) return;
    host_.on_peer_unreachable(*sender, /*never_sent=*/false);
  });
  connection->set_on_frame([this, weak, sender](kj::ArrayPtr<const capnp::word> frame) {
    auto message = decode_peer_message(frame);
    if (!message) {
      sender->clear();  // we close it ourselves: no evidence about the peer
      auto c = weak.lock();
      log_event(LogEvent::warn("peer_message_malformed")
                    .with("remote", c ? c->remote_endpoint() : "?")
                    .with("error", message.status()));
      if (c) c->close();
      return;
    }
    if (auto c = weak.lock(); c && !sender_authenticated(*c, message->from)) {
      sender->clear();
      c->close();
      return;
    }
    peer_links_.peer_is_alive(message->from);
    host_.on_peer_alive(message->from);
    *sender = message->from;
    if (std::holds_alternative<LinkPing>(message->body)) {
      // Answered here, on the connection it came in on, whatever the node core is doing.
      if (auto c = weak.lock()) {
        (void)c->send(encode(PeerMessage{config_.node.node_id, message->request_id, LinkPong{}}));
      }
      return;
    }
    if (!is_gossip(*message)) batch_writes();
    send_gossip(host_.on_peer_message(std::move(message).value()));
  });
  connection->set_on_error([](const Status& status) {
    log_event(LogEvent::warn("peer_frame_error").with("error", status));
  });
}

void Server::set_peer_address(const NodeId& id, const std::string& host, uint16_t port) {
  peer_links_.set_address(id, host, port);
  peer_links_.set_address(std::string(kBackgroundLink) + id, host, port);
}

Status Server::send(const NodeId& to, PeerMessage message) {
  if (to == config_.node.node_id) {
    // Never expected (a node does not message itself), but keep it correct: loop back later.
    boost::asio::post(io_, [this, m = std::move(message)]() mutable {
      node_.on_peer_message(std::move(m), clock_.now());
    });
    return Status::ok();
  }
  return send_copy_of(to, message);
}

Status Server::send_copy_of(const NodeId& to, const PeerMessage& message) {
  if (to == config_.node.node_id) return send(to, message);  // a copy, looped back
  // An error here means the frame was not queued: the core acts on it at once.
  if (is_background(message)) {
    return peer_links_.send(std::string(kBackgroundLink) + to, encode(message));
  }
  return peer_links_.send(to, encode(message));
}

void Server::send_gossip(std::vector<gossip::Outgoing> outgoing) {
  for (auto& out : outgoing) {
    // Gossip goes by address (a seed's id is not known yet) on links of its own.
    std::string link = "@" + out.address;
    auto hp = parse_host_port(out.address, "gossip address");
    if (!hp) continue;
    peer_links_.set_address(link, hp->host, hp->port);
    (void)peer_links_.send(
        link, encode(PeerMessage{config_.node.node_id, 0, Gossip{std::move(out.message)}}));
  }
}

void Server::learn_address(const gossip::NodeState& state) {
  if (state.id == config_.node.node_id) return;
  auto hp = parse_host_port(state.peer_address, "peer address of " + state.id);
  if (hp) set_peer_address(state.id, hp->host, hp->port);
}

void Server::log_progress() {
  // Hints delivered and read repairs are frequent: one line per second that saw any.
  TimePoint now = clock_.now();
  if (now - last_progress_log_ < Duration(1000)) return;
  last_progress_log_ = now;
  uint64_t delivered = host_.handoff().stats().delivered;
  uint64_t repairs = node_.counters().read_repairs;
  if (delivered != logged_delivered_) {
    log_event(LogEvent::info("hints_delivered")
                  .with("count", delivered - logged_delivered_)
                  .with("total", delivered));
    logged_delivered_ = delivered;
  }
  if (repairs != logged_repairs_) {
    log_event(LogEvent::info("read_repairs")
                  .with("count", repairs - logged_repairs_)
                  .with("total", repairs));
    logged_repairs_ = repairs;
  }
}

std::vector<std::pair<std::string, uint64_t>> Server::extra_counters() const {
  std::vector<std::pair<std::string, uint64_t>> out = host_.membership().counters();
  const auto& h = host_.handoff().stats();
  out.insert(out.end(), {{"hints_stored", h.stored},
                         {"hints_delivered", h.delivered},
                         {"hints_dropped_expired", h.dropped_expired},
                         {"hints_dropped_full", h.dropped_full},
                         {"hint_delivery_failures", h.failed_deliveries},
                         {"hints_dropped_corrupt", h.dropped_corrupt}});
  uint64_t pending = 0;
  for (const auto& [target, count_bytes] : host_.handoff().pending()) pending += count_bytes.first;
  out.emplace_back("hints_pending", pending);
  const auto& links = peer_links_.counters();
  out.insert(
      out.end(),
      {{"peer_links_broken", links.links_broken},
       {"peer_links_silent", links.links_silent},
       {"peer_connect_failures", links.connect_failures},
       {"overloaded_connection", connection_refusals_},
       {"overloaded_user", user_refusals_},
       {"client_read_pauses", client_read_pauses_},
       {"client_shedding_spells", client_shedding_spells_},
       {"overloaded_backpressure", backpressure_refusals_},
       {"peer_sender_refusals", peer_sender_refusals_},
       {"peer_tls_handshake_failures", links.tls_handshake_failures},
       {"client_tls_handshake_failures", client_server_.tls_handshake_failures()},
       {"peer_port_tls_handshake_failures", peer_server_.tls_handshake_failures()},
       {"tls_reloads", tls_reloads_},
       {"auth_failures", auth_failures_},
       {"unauthenticated_refusals", unauthenticated_refusals_},
       {"permission_denials", permission_denials_},
       {"users_reloads", users_reloads_},
       {"http_tls_handshake_failures", http_server_ ? http_server_->tls_handshake_failures() : 0}});
  return out;
}

void Server::reply(ClientId client, proto::ClientResponse response) {
  // The answer to a request counted in on_client_frame.
  if (auto out = outstanding_.find(client); out != outstanding_.end() && out->second > 0) {
    --out->second;
  }
  if (answer_http(client, response)) return;
  send_to_client(client, std::move(response));
}

void Server::send_to_client(ClientId client, proto::ClientResponse response) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;  // the client went away; nothing to tell
  Status status = it->second->send(proto::encode(response));
  if (!status.is_ok()) {
    log_event(LogEvent::warn("client_reply_dropped").with("client", client).with("error", status));
  }
}

void Server::shutdown(std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  client_server_.stop_accepting();
  log_event(LogEvent::info("shutdown_begin").with("in_flight", node_.in_flight()));
  drain_step(clock_.now() + config_.shutdown_drain, std::move(done));
}

void Server::drain_step(TimePoint until, std::function<void()> done) {
  if (node_.in_flight() == 0 || clock_.now() >= until) {
    if (node_.in_flight() > 0) {
      log_event(LogEvent::warn("shutdown_drain_expired").with("in_flight", node_.in_flight()));
    }
    // Let the last replies reach the kernel before closing.
    auto clients = clients_;  // closing erases from clients_
    for (auto& [id, c] : clients) c->close_after_flush();
    client_server_.stop();
    peer_server_.stop();
    if (http_server_) http_server_->stop();
    peer_links_.close_all();
    tick_timer_.cancel();
    return done();
  }
  drain_timer_.expires_after(kTickInterval);
  drain_timer_.async_wait(
      [this, until, done = std::move(done)](const boost::system::error_code& ec) mutable {
        if (!ec) drain_step(until, std::move(done));
      });
}

}  // namespace qkv::node
