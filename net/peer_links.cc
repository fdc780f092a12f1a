#include "net/peer_links.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <vector>

#include "net/framed_connection.h"

namespace qkv::net {

using Clock = std::chrono::steady_clock;

struct PeerLinks::Link {
  enum class State { kIdle, kConnecting, kConnected, kBackoff };

  Link(asio::io_context& io, NodeId id_in, std::string host_in, uint16_t port_in)
      : id(std::move(id_in)), host(std::move(host_in)), port(port_in), socket(io), timer(io) {}

  std::string address() const { return fmt::format("{}:{}", host, port); }

  NodeId id;
  std::string host;
  uint16_t port;
  State state = State::kIdle;
  // Bumped whenever an attempt or connection ends: completions of older ones are ignored.
  uint64_t generation = 0;
  asio::ip::tcp::socket socket;                     // the socket being connected
  std::optional<asio::ip::tcp::resolver> resolver;  // only for host names
  asio::steady_timer timer;                         // the connect deadline
  std::shared_ptr<Connection> connection;           // when kConnected
  std::vector<kj::Array<capnp::word>> queued;       // while kConnecting
  uint64_t queued_bytes = 0;
  uint32_t backoff_ms = 0;  // 0: no failure since the last success
  Clock::time_point retry_at;
  std::string last_error;
  // Liveness probes on the current connection: the pings not answered yet, oldest first.
  std::deque<std::pair<uint64_t, Clock::time_point>> unanswered;
};

PeerLinks::PeerLinks(asio::io_context& io, TransportOptions options)
    : io_(io), options_(options), probe_timer_(io) {}

PeerLinks::~PeerLinks() {
  close_all();
  probe_timer_.cancel();
}

void PeerLinks::set_ping(PingMaker make_ping) {
  const bool was_set = static_cast<bool>(make_ping_);
  make_ping_ = std::move(make_ping);
  if (!was_set && make_ping_ && options_.ping_interval_ms > 0) arm_probe();
}

void PeerLinks::on_pong(const NodeId& id, uint64_t seq) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  Link& link = *it->second;
  if (link.state != Link::State::kConnected) return;
  // Pings on one connection are answered in order: this answers every earlier one too.
  while (!link.unanswered.empty() && link.unanswered.front().first <= seq) {
    link.unanswered.pop_front();
  }
}

bool PeerLinks::silent(const NodeId& id) const {
  auto it = links_.find(id);
  if (it == links_.end() || it->second->state != Link::State::kConnected) return false;
  const auto& unanswered = it->second->unanswered;
  return !unanswered.empty() && Clock::now() - unanswered.front().second >
                                    std::chrono::milliseconds(options_.ping_interval_ms);
}

void PeerLinks::arm_probe() {
  probe_timer_.expires_after(std::chrono::milliseconds(options_.ping_interval_ms));
  probe_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const auto& ec) {
    if (ec || alive.expired()) return;
    probe();
    arm_probe();
  });
}

void PeerLinks::probe() {
  const auto now = Clock::now();
  const auto silence_max = std::chrono::milliseconds(options_.peer_silence_ms_max);
  for (auto& [id, link] : links_) {
    if (link->state != Link::State::kConnected) continue;
    if (!link->unanswered.empty() && now - link->unanswered.front().second > silence_max) {
      ++counters_.links_silent;
      auto silent_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          now - link->unanswered.front().second);
      back_off(link,
               fmt::format("no answer to a ping for {} ms (peer_silence_ms_max {})",
                           silent_ms.count(), options_.peer_silence_ms_max),
               /*never_sent=*/false);
      continue;
    }
    const uint64_t seq = next_ping_seq_++;
    if (!link->connection->send(make_ping_(seq)).is_ok()) continue;  // a full queue: wait
    ++counters_.pings_sent;
    link->unanswered.emplace_back(seq, now);
  }
}

void PeerLinks::set_address(const NodeId& id, std::string host, uint16_t port) {
  auto it = links_.find(id);
  if (it == links_.end()) {
    links_.emplace(id, std::make_shared<Link>(io_, id, std::move(host), port));
    return;
  }
  Link& link = *it->second;
  if (link.host == host && link.port == port) return;
  reset(link);
  link.host = std::move(host);
  link.port = port;
}

Status PeerLinks::send(const NodeId& to, kj::Array<capnp::word> frame) {
  auto it = links_.find(to);
  if (it == links_.end()) {
    return Status::invalid_argument(fmt::format("unknown peer '{}': no address is set", to));
  }
  const std::shared_ptr<Link>& link = it->second;
  if (link->state == Link::State::kConnected) {
    Status status = link->connection->send(std::move(frame));
    if (status.is_ok()) ++counters_.frames_sent;
    return status;
  }
  end_backoff_if_due(*link);
  if (link->state == Link::State::kBackoff) return unavailable(*link);
  if (frame.size() == 0) return Status::invalid_argument("cannot send an empty frame");
  uint64_t bytes = uint64_t{frame.size()} * sizeof(capnp::word);
  if (link->queued_bytes + bytes > options_.send_queue_bytes_max) {
    return Status::overloaded(fmt::format(
        "send queue to peer '{}' at {} holds {} bytes while connecting; a {}-byte frame would "
        "exceed send_queue_bytes_max {}",
        link->id, link->address(), link->queued_bytes, bytes, options_.send_queue_bytes_max));
  }
  link->queued_bytes += bytes;
  link->queued.push_back(std::move(frame));
  if (link->state == Link::State::kIdle) connect(link);
  return Status::ok();
}

void PeerLinks::open(const NodeId& id) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  const std::shared_ptr<Link>& link = it->second;
  end_backoff_if_due(*link);
  if (link->state == Link::State::kIdle) connect(link);
}

void PeerLinks::end_backoff_if_due(Link& link) {
  if (link.state == Link::State::kBackoff && Clock::now() >= link.retry_at) {
    link.state = Link::State::kIdle;
  }
}

void PeerLinks::peer_is_alive(const NodeId& id) {
  auto it = links_.find(id);
  if (it == links_.end() || it->second->state != Link::State::kBackoff) return;
  // The peer just talked to us: it is back. Connect on the next send, with a fresh backoff.
  it->second->state = Link::State::kIdle;
  it->second->backoff_ms = 0;
}

void PeerLinks::connect(const std::shared_ptr<Link>& link) {
  link->state = Link::State::kConnecting;
  uint64_t generation = ++link->generation;
  std::weak_ptr<int> alive = alive_;
  link->timer.expires_after(std::chrono::milliseconds(options_.connect_timeout_ms));
  link->timer.async_wait([this, alive, link, generation](const boost::system::error_code& ec) {
    if (ec || alive.expired() || link->generation != generation) return;
    ++counters_.connect_failures;
    back_off(link, fmt::format("connect timed out after connect_timeout_ms {}",
                               options_.connect_timeout_ms));
  });
  boost::system::error_code ec;
  auto address = asio::ip::make_address(link->host, ec);
  if (!ec) {  // an IP address: no resolver (Asio resolves on a thread of its own)
    link->socket.async_connect(
        asio::ip::tcp::endpoint(address, link->port),
        [this, alive, link, generation](const boost::system::error_code& connect_ec) {
          if (alive.expired() || link->generation != generation) return;
          on_connect_result(link, connect_ec);
        });
    return;
  }
  if (!link->resolver) link->resolver.emplace(io_);
  link->resolver->async_resolve(
      link->host, std::to_string(link->port),
      [this, alive, link, generation](const boost::system::error_code& resolve_ec,
                                      asio::ip::tcp::resolver::results_type results) {
        if (alive.expired() || link->generation != generation) return;
        if (resolve_ec) {
          back_off(link, fmt::format("cannot resolve: {}", resolve_ec.message()));
          ++counters_.connect_failures;
          return;
        }
        asio::async_connect(link->socket, results,
                            [this, alive, link, generation](const boost::system::error_code& e,
                                                            const asio::ip::tcp::endpoint&) {
                              if (alive.expired() || link->generation != generation) return;
                              on_connect_result(link, e);
                            });
      });
}

void PeerLinks::on_connect_result(const std::shared_ptr<Link>& link,
                                  const boost::system::error_code& ec) {
  if (ec) {
    ++counters_.connect_failures;
    back_off(link, fmt::format("connect failed: {}", ec.message()));
    return;
  }
  if (io_threads_ && io_threads_->size() > 0) return hand_to_io_thread(link);
  if (!tls_context_) {
    return on_connected(link, FramedConnection::create(std::move(link->socket), options_));
  }
  // The connect deadline (still armed) covers the handshake too.
  auto context = tls_context_();
  const std::string node = tls_node_of_ ? tls_node_of_(link->id) : std::string();
  connect_tls(
      std::move(link->socket), context, node, /*server_is_node=*/true, options_.connect_timeout_ms,
      [this, alive = std::weak_ptr<int>(alive_), link, generation = link->generation,
       context](Result<TlsStream> stream) {
        if (alive.expired() || link->generation != generation) return;
        if (!stream) {
          ++counters_.connect_failures;
          ++counters_.tls_handshake_failures;
          return back_off(link, stream.status().message());
        }
        on_connected(link, FramedConnection::create(std::move(stream).value(), context, options_));
      });
}

void PeerLinks::hand_to_io_thread(const std::shared_ptr<Link>& link) {
  IoThread::Tls tls;
  if (tls_context_) {
    // The connect deadline (still armed) covers the handshake too.
    tls.context = tls_context_();
    tls.handshake_timeout_ms = options_.connect_timeout_ms;
    tls.client = true;
    tls.server_name = tls_node_of_ ? tls_node_of_(link->id) : std::string();
    tls.server_is_node = true;
  }
  io_threads_->next().adopt(
      std::move(link->socket), options_, std::move(tls),
      [this, alive = std::weak_ptr<int>(alive_), link, generation = link->generation](
          std::shared_ptr<ThreadedConnection> connection, const Status& handshake) {
        if (alive.expired() || link->generation != generation) return connection->close();
        if (!handshake.is_ok()) {
          ++counters_.connect_failures;
          ++counters_.tls_handshake_failures;
          return back_off(link, handshake.message());
        }
        on_connected(link, std::move(connection));
      });
}

void PeerLinks::set_tls(TlsContextFn context, std::function<std::string(const NodeId&)> node_of) {
  tls_context_ = std::move(context);
  tls_node_of_ = std::move(node_of);
}

void PeerLinks::on_connected(const std::shared_ptr<Link>& link,
                             std::shared_ptr<Connection> connection) {
  uint64_t generation = ++link->generation;  // the connect deadline no longer applies
  link->timer.cancel();
  ++counters_.connects;
  link->backoff_ms = 0;
  link->last_error.clear();
  link->connection = std::move(connection);
  std::weak_ptr<int> alive = alive_;
  // The handlers capture the link weakly: the link owns the connection.
  std::weak_ptr<Link> weak_link = link;
  link->connection->set_on_frame([this, alive, weak_link](kj::ArrayPtr<const capnp::word> frame) {
    auto strong = weak_link.lock();
    if (!alive.expired() && strong && on_frame_) on_frame_(strong->id, frame);
  });
  link->connection->set_on_close([this, alive, weak_link, generation] {
    auto strong = weak_link.lock();
    if (alive.expired() || !strong || strong->generation != generation) return;
    // The peer went away (crash, restart, stop): back off as after a failed connect, so a
    // dead peer costs at most one attempt per backoff.
    ++counters_.links_broken;
    back_off(strong, "the connection closed", /*never_sent=*/false);
  });
  link->state = Link::State::kConnected;
  link->unanswered.clear();
  link->connection->start();
  // The queue was bounded by send_queue_bytes_max, as is the connection's: it all fits.
  for (auto& frame : link->queued) {
    if (link->connection->send(std::move(frame)).is_ok()) {
      ++counters_.frames_sent;
    } else {
      ++counters_.frames_dropped;
    }
  }
  link->queued.clear();
  link->queued_bytes = 0;
}

void PeerLinks::back_off(const std::shared_ptr<Link>& link, const std::string& why,
                         bool never_sent) {
  uint32_t previous_ms = link->backoff_ms;
  reset(*link);  // drops the queued frames
  link->backoff_ms = previous_ms == 0
                         ? std::min(kReconnectBackoffMsInitial, options_.reconnect_backoff_ms_max)
                         : static_cast<uint32_t>(std::min<uint64_t>(
                               uint64_t{previous_ms} * 2, options_.reconnect_backoff_ms_max));
  link->retry_at = Clock::now() + std::chrono::milliseconds(link->backoff_ms);
  link->last_error = why;
  link->state = Link::State::kBackoff;
  if (on_unreachable_) on_unreachable_(link->id, why, never_sent);
}

void PeerLinks::reset(Link& link) {
  ++link.generation;  // pending completions and the connection's on_close are now ignored
  boost::system::error_code ignored;
  link.timer.cancel();
  if (link.resolver) link.resolver->cancel();
  link.socket.close(ignored);
  if (link.connection) {
    link.connection->close();
    link.connection.reset();
  }
  counters_.frames_dropped += link.queued.size();
  link.queued.clear();
  link.queued_bytes = 0;
  link.state = Link::State::kIdle;
  link.backoff_ms = 0;
}

Status PeerLinks::unavailable(const Link& link) const {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(link.retry_at - Clock::now());
  return Status::unavailable(
      fmt::format("peer '{}' at {} is unavailable ({}); next connect attempt in {} ms", link.id,
                  link.address(), link.last_error, left.count()));
}

std::map<NodeId, uint64_t> PeerLinks::queued_bytes() const {
  std::map<NodeId, uint64_t> out;
  for (const auto& [id, link] : links_) {
    const uint64_t bytes =
        link->queued_bytes + (link->connection ? link->connection->queued_bytes() : 0);
    if (bytes > 0) out[id] = bytes;
  }
  return out;
}

void PeerLinks::close_all() {
  for (auto& [id, link] : links_) reset(*link);
}

}  // namespace qkv::net
