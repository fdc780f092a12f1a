#include "node/server.h"

#include <spdlog/spdlog.h>

#include "node/wire/replica_codec.h"
#include "proto/client_codec.h"

namespace qkv::node {
namespace {

// How often deadlines are checked: the resolution of request timeouts.
constexpr Duration kTickInterval{5};

transport::TransportOptions transport_options(const DaemonConfig& config) {
  transport::TransportOptions options;
  options.frame_bytes_max = config.node.limits.frame_bytes_max;
  options.send_queue_bytes_max = config.send_queue_bytes_max;
  options.connect_timeout_ms = config.connect_timeout_ms;
  return options;
}

}  // namespace

Server::Server(boost::asio::io_context& io, const DaemonConfig& config,
               std::shared_ptr<const ring::Ring> ring, storage::Storage& storage,
               const Clock& clock, causal::Actor actor)
    : io_(io),
      config_(config),
      clock_(clock),
      node_(config.node, std::move(ring), storage, *this, std::move(actor), clock.now()),
      transport_options_(transport_options(config)),
      client_server_(io, config.client_listen.host, config.client_listen.port, transport_options_,
                     [this](auto c) { on_client_connection(std::move(c)); }),
      peer_server_(io, config.peer_listen.host, config.peer_listen.port, transport_options_,
                   [this](auto c) { on_peer_connection(std::move(c)); }),
      peer_links_(io, transport_options_),
      tick_timer_(io),
      drain_timer_(io) {
  for (const auto& m : config.members) {
    if (m.id != config.node.node_id) peer_links_.set_address(m.id, m.peer.host, m.peer.port);
  }
  peer_links_.set_on_unreachable([this](const NodeId& peer, const std::string& why) {
    spdlog::debug("event=peer_unreachable peer={} why=\"{}\"", peer, why);
    node_.on_peer_unreachable(peer, clock_.now());
  });
}

Server::~Server() {
  tick_timer_.cancel();
  drain_timer_.cancel();
}

Status Server::start() {
  QKV_RETURN_IF_ERROR(peer_server_.listen());
  QKV_RETURN_IF_ERROR(client_server_.listen());
  arm_tick();
  return Status::ok();
}

void Server::arm_tick() {
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    node_.on_tick(clock_.now());
    arm_tick();
  });
}

void Server::on_client_connection(std::shared_ptr<transport::FramedConnection> connection) {
  ClientId id = next_client_id_++;
  clients_.emplace(id, connection);
  connection->set_on_frame([this, id](auto frame) { on_client_frame(id, frame); });
  connection->set_on_error([this, id](const Status& status) {
    // The stream cannot be resynchronized: answer once (request id 0), then close.
    spdlog::warn("event=client_frame_error client={} error=\"{}\"", id, status.to_string());
    reply(id, proto::ClientResponse{0, status, {}});
  });
  connection->set_on_close([this, id] { clients_.erase(id); });
}

void Server::on_client_frame(ClientId id, kj::ArrayPtr<const capnp::word> frame) {
  auto request = proto::decode_client_request(frame);
  if (!request) {
    // Framing is intact, so the connection keeps serving; the bad request gets an error.
    return reply(
        id, proto::ClientResponse{0, Status::invalid_argument(request.status().message()), {}});
  }
  if (shutting_down_) {
    return reply(id,
                 proto::ClientResponse{
                     request->request_id, Status::unavailable("the node is shutting down"), {}});
  }
  node_.on_client_request(id, std::move(request).value(), clock_.now());
}

void Server::on_peer_connection(std::shared_ptr<transport::FramedConnection> connection) {
  std::weak_ptr<transport::FramedConnection> weak = connection;
  connection->set_on_frame([this, weak](kj::ArrayPtr<const capnp::word> frame) {
    auto message = decode_peer_message(frame);
    if (!message) {
      auto c = weak.lock();
      spdlog::warn("event=peer_message_malformed remote={} error=\"{}\"",
                   c ? c->remote_endpoint() : "?", message.status().to_string());
      if (c) c->close();
      return;
    }
    peer_links_.peer_is_alive(message->from);
    node_.on_peer_message(std::move(message).value(), clock_.now());
  });
  connection->set_on_error([](const Status& status) {
    spdlog::warn("event=peer_frame_error error=\"{}\"", status.to_string());
  });
}

Status Server::send(const NodeId& to, PeerMessage message) {
  if (to == config_.node.node_id) {
    // Never expected (a node does not message itself), but keep it correct: loop back later.
    boost::asio::post(io_, [this, m = std::move(message)]() mutable {
      node_.on_peer_message(std::move(m), clock_.now());
    });
    return Status::ok();
  }
  // An error here means the frame was not queued: the core acts on it at once.
  return peer_links_.send(to, encode(message));
}

void Server::reply(ClientId client, proto::ClientResponse response) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;  // the client went away; nothing to tell
  Status status = it->second->send(proto::encode(response));
  if (!status.is_ok()) {
    spdlog::warn("event=client_reply_dropped client={} error=\"{}\"", client, status.to_string());
  }
}

void Server::shutdown(std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  client_server_.stop_accepting();
  spdlog::info("event=shutdown_begin in_flight={}", node_.in_flight());
  drain_step(clock_.now() + config_.shutdown_drain, std::move(done));
}

void Server::drain_step(TimePoint until, std::function<void()> done) {
  if (node_.in_flight() == 0 || clock_.now() >= until) {
    if (node_.in_flight() > 0) {
      spdlog::warn("event=shutdown_drain_expired in_flight={}", node_.in_flight());
    }
    // Let the last replies reach the kernel before closing.
    auto clients = clients_;  // closing erases from clients_
    for (auto& [id, c] : clients) c->close_after_flush();
    client_server_.stop();
    peer_server_.stop();
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
