#include "node/coordinator/get_coordinator.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/assert.h"
#include "node/wire/replica_codec.h"

namespace qkv::node {

GetCoordinator::GetCoordinator(const NodeConfig& config, Transport& transport, InFlight& in_flight,
                               Replier& replier, Replica& replica, const HeldRanges& held,
                               const Liveness& liveness, NodeCounters& counters)
    : config_(config),
      transport_(transport),
      in_flight_(in_flight),
      replier_(replier),
      replica_(replica),
      held_(held),
      liveness_(liveness),
      counters_(counters) {}

void GetCoordinator::start(ReplyTo reply_to, const KeyRequest& request) {
  ++counters_.coordinated_gets;
  const std::vector<NodeId>& replicas = request.list.primaries;
  Status enough = coordinator::check_replica_count("read", "R", request.quorum, replicas.size());
  if (!enough.is_ok()) return replier_.reply_status(reply_to, std::move(enough));
  coordinator::GetRound round(replicas, request.quorum);
  const NodeId& self = config_.node_id;
  if (std::find(replicas.begin(), replicas.end(), self) != replicas.end()) {
    auto local = replica_.load(request.token, request.key());
    if (local) {
      round.on_reply(self, Status::ok(), std::move(local).value());
    } else {
      round.on_reply(self, local.status(), std::nullopt);
    }
  }
  uint64_t id = in_flight_.next_id();
  for (const NodeId& replica : replicas) {
    if (replica == self) continue;
    if (!liveness_.is_up(replica)) {
      round.on_reply(replica, Status::unavailable(replica + " is down"), std::nullopt);
      continue;
    }
    Status sent = transport_.send(replica, PeerMessage{self, id, ReplicaRead{request.key()}});
    if (!sent.is_ok()) round.on_reply(replica, sent, std::nullopt);
  }
  in_flight_.track(id, RequestKind::kGet, std::move(reply_to), request.deadline, request.deadline);
  ops_.emplace(id, Op{std::move(round), request.key()});
  progress(id);
}

void GetCoordinator::reply_local(const ReplyTo& reply_to, const KeyRequest& request) {
  auto local = replica_.load(request.token, request.key());
  if (!local) return replier_.reply_status(reply_to, local.status());
  causal::SiblingSet state = local.value().value_or(causal::SiblingSet());
  proto::ClientResponse response;
  response.request_id = reply_to.client_request_id;
  proto::GetResponse body{state.values(), encode_context(state.version_vector())};
  if (body.values.empty()) response.status = Status::not_found("key not found on this node");
  response.body = std::move(body);
  replier_.reply(reply_to, std::move(response));
}

void GetCoordinator::on_reply(uint64_t id, const NodeId& from, const Status& status,
                              std::optional<causal::SiblingSet> state) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  it->second.round.on_reply(from, status, std::move(state));
  progress(id);
}

void GetCoordinator::on_alarm(uint64_t id) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  it->second.round.on_timeout();
  progress(id);
}

void GetCoordinator::on_peer_unreachable(const NodeId& peer) {
  Status unreachable = Status::unavailable(fmt::format("{} is unreachable", peer));
  std::vector<uint64_t> ids;
  for (auto& [id, op] : ops_) ids.push_back(id);
  for (uint64_t id : ids) on_reply(id, peer, unreachable, std::nullopt);
}

void GetCoordinator::progress(uint64_t id) {
  auto it = ops_.find(id);
  QKV_ASSERT(it != ops_.end());
  Op& op = it->second;
  const coordinator::GetRound& round = op.round;
  if (!op.answered && round.outcome() != coordinator::Outcome::kPending) {
    op.answered = true;
    const ReplyTo& to = in_flight_.find(id)->reply_to;
    proto::ClientResponse response;
    response.request_id = to.client_request_id;
    response.status = round.result();
    if (response.status.is_ok()) {
      const causal::SiblingSet& merged = round.merged();
      proto::GetResponse body{merged.values(), encode_context(merged.version_vector())};
      if (body.values.empty()) response.status = Status::not_found("key not found");
      response.body = std::move(body);
    }
    replier_.reply(to, std::move(response));
  }
  if (op.answered && round.complete()) {
    read_repair(op.key, round);
    in_flight_.forget(id);
    ops_.erase(it);
  }
}

void GetCoordinator::read_repair(const std::string& key, const coordinator::GetRound& round) {
  ring::Token token = ring::token_of(key);
  for (const NodeId& stale : round.stale_replicas()) {
    ++counters_.read_repairs;
    if (stale == config_.node_id) {
      // Not into a range this node has dropped since the get began (a ring change).
      if (!held_.takes_writes_for(token)) continue;
      (void)replica_.merge(token, key, round.merged());  // a failure is counted in storage_errors
    } else {
      // Request id 0: no round waits for this ack (ids start at 1), so it is dropped.
      (void)transport_.send(stale,
                            PeerMessage{config_.node_id, 0, ReplicaWrite{key, round.merged(), {}}});
    }
  }
}

}  // namespace qkv::node
