// qkvd's Server: load shedding on the client port (node/server.h): per-connection limits,
// and the backpressure that pauses reading clients over limits.in_flight_max and turns a
// pause longer than client_pause_ms_max into shedding (docs/architecture.md).
#include <fmt/format.h>

#include "node/log_writer.h"
#include "node/server.h"

namespace qkv::node {

Status Server::admit(ClientId id) {
  // Load shedding per connection: a fast, typed refusal (node/node.h sheds the node's).
  const Limits& limits = config_.node.limits;
  if (shedding_) {
    ++backpressure_refusals_;
    return Status::overloaded(
        fmt::format("this node has {} requests in flight that no client waits for (replica work of "
                    "writes already answered); in_flight_max is {}, reached for over "
                    "client_pause_ms_max {} ms: back off and retry",
                    node_.in_flight_unawaited(), limits.in_flight_max, limits.client_pause_ms_max));
  }
  const uint32_t outstanding = outstanding_[id];
  if (outstanding >= limits.client_requests_per_connection_max) {
    ++connection_refusals_;
    return Status::overloaded(fmt::format(
        "this connection has {} requests in flight; client_requests_per_connection_max is {}: "
        "wait for answers, or spread the load over more connections",
        outstanding, limits.client_requests_per_connection_max));
  }
  if (limits.client_requests_per_second_max > 0) {
    // A rate limit per connection (a token bucket with a burst of one second's worth).
    const auto rate = static_cast<double>(limits.client_requests_per_second_max);
    TokenBucket& bucket = rate_limits_.try_emplace(id, rate, rate).first->second;
    bucket.refill(clock_.now());
    if (!bucket.try_take()) {
      ++connection_refusals_;
      return Status::overloaded(fmt::format(
          "this connection sends more than client_requests_per_second_max {} requests a second: "
          "slow down, or raise the limit",
          limits.client_requests_per_second_max));
    }
  }
  return admit_user(id);
}

Status Server::admit_user(ClientId id) {
  // The user's own rate limit (the users file's requests_per_second_max): one bucket per
  // user on this node, shared by all its connections, a burst of one second's worth.
  if (!authenticator_) return Status::ok();
  auto named = users_of_.find(id);
  if (named == users_of_.end()) return Status::ok();  // check_access refused it already
  const User* user = authenticator_->find(named->second);
  if (user == nullptr || user->requests_per_second_max == 0) return Status::ok();
  const uint32_t rate = user->requests_per_second_max;
  auto it = user_rate_limits_.find(user->name);
  if (it == user_rate_limits_.end() || it->second.rate != rate) {  // new, or the file changed it
    const auto per_second = static_cast<double>(rate);
    it = user_rate_limits_
             .insert_or_assign(user->name, UserRateLimit{rate, TokenBucket(per_second, per_second)})
             .first;
  }
  TokenBucket& bucket = it->second.bucket;
  bucket.refill(clock_.now());
  if (bucket.try_take()) return Status::ok();
  ++user_refusals_;
  return Status::overloaded(fmt::format(
      "user {} sends more than its requests_per_second_max {} requests a second to this node "
      "(the users file): slow down, or ask for a higher limit",
      user->name, rate));
}

void Server::backpressure() {
  // limits.in_flight_max: requests finish on peer answers and deadlines, both of which
  // keep being read; client connections wait in their kernel buffers meanwhile.
  const uint32_t max = config_.node.limits.in_flight_max;
  const std::size_t in_flight = node_.in_flight_unawaited();
  if (!clients_paused_ && max > 0 && in_flight >= max) return pause_clients();
  if (clients_paused_ && in_flight <= max / 4 * 3) resume_clients();
}

void Server::pause_clients() {
  clients_paused_ = true;
  ++client_read_pauses_;
  set_clients_reading(false);
  const uint32_t pause_ms_max = config_.node.limits.client_pause_ms_max;
  if (pause_ms_max == 0) return;
  pause_timer_.expires_after(std::chrono::milliseconds(pause_ms_max));
  pause_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !clients_paused_) return;
    // Still over the bound: read again, and refuse key requests at once (admit()) rather
    // than leave them waiting in socket buffers for as long as the overload lasts.
    shedding_ = true;
    ++client_shedding_spells_;
    set_clients_reading(true);
  });
}

void Server::resume_clients() {
  clients_paused_ = false;
  shedding_ = false;
  pause_timer_.cancel();
  set_clients_reading(true);
}

void Server::set_clients_reading(bool reading) {
  // A snapshot: resuming delivers the frames read meanwhile, and handling one may close
  // its connection (erasing it from clients_).
  std::vector<std::shared_ptr<net::Connection>> connections;
  connections.reserve(clients_.size());
  for (const auto& [id, connection] : clients_) connections.push_back(connection);
  for (const auto& connection : connections) {
    if (reading) {
      connection->resume_reading();
    } else {
      connection->pause_reading();
    }
  }
}

}  // namespace qkv::node
