#include "node/coordinator/get_coordinator.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/assert.h"
#include "common/mutation.h"
#include "node/deadline.h"
#include "node/wire/replica_codec.h"

namespace qkv::node {

GetCoordinator::GetCoordinator(const NodeConfig& config, Transport& transport, InFlight& in_flight,
                               Replier& replier, Replica& replica, const HeldRanges& held,
                               const Liveness& liveness, NodeCounters& counters,
                               std::function<int64_t()> unix_ms)
    : config_(config),
      transport_(transport),
      in_flight_(in_flight),
      replier_(replier),
      replica_(replica),
      held_(held),
      liveness_(liveness),
      counters_(counters),
      unix_ms_(std::move(unix_ms)) {}

namespace {

// A get's answer: the state's values readers see at `unix_ms` (expired ones are not), each
// one's metadata and then the tombstones' (proto::GetResponse::siblings), its context, and
// who answered.
proto::GetResponse get_response(const causal::SiblingSet& state, int64_t unix_ms,
                                std::vector<proto::ReplicaAnswer> replicas) {
  proto::GetResponse out;
  out.context = encode_context(state.version_vector());
  out.replicas = std::move(replicas);
  auto info = [](const causal::Sibling& s) {
    return proto::SiblingInfo{s.tombstone, s.timestamp_ms, s.dot.actor.node, s.expires_ms};
  };
  for (const causal::Sibling& s : state.siblings()) {
    const bool seen = QKV_MUTATION(kTtlIgnoredOnRead) ? !s.tombstone : s.live_at(unix_ms);
    if (!seen) continue;
    out.values.push_back(s.value);
    out.siblings.push_back(info(s));
  }
  for (const causal::Sibling& s : state.siblings()) {
    if (s.tombstone) out.siblings.push_back(info(s));
  }
  return out;
}

std::vector<proto::ReplicaAnswer> answered_by(const coordinator::GetRound& round) {
  std::vector<proto::ReplicaAnswer> out;
  for (const auto& a : round.answered()) out.push_back({a.to, !a.stand_in_for.empty()});
  return out;
}

}  // namespace

void GetCoordinator::start(ReplyTo reply_to, const KeyRequest& request, TimePoint now,
                           OnRead on_read) {
  ++counters_.coordinated_gets;
  const std::vector<NodeId>& primaries = request.list.primaries;
  Status enough = coordinator::check_replica_count("read", "R", request.quorum, primaries.size());
  if (enough.is_ok()) {
    enough = coordinator::check_replica_count("read", "PR", request.pr, primaries.size());
  }
  if (!enough.is_ok()) {
    if (on_read) return on_read(enough, causal::SiblingSet(), {});
    return replier_.reply_status(reply_to, std::move(enough));
  }
  coordinator::GetRound round(primaries, request.quorum, request.pr, stand_ins(request),
                              data_from(primaries), request.fanout);
  uint64_t id = in_flight_.next_id();
  // As for puts: primaries still silent at the stand-in alarm get a stand-in.
  const Duration alarm =
      latency_.stand_in_alarm(config_.node_id, primaries, config_.stand_in_alarm_min,
                              std::max(config_.stand_in_alarm_min, config_.request_timeout / 2));
  // A suspect primary (its link silent) is still asked, with stand-ins at once. (With a
  // quorum's fanout, a suspect spare is not asked, so it does not count.)
  std::vector<coordinator::ReadFrom> first = round.start();
  const bool suspect = std::any_of(first.begin(), first.end(), [&](const coordinator::ReadFrom& r) {
    return liveness_.is_suspect(r.to);
  });
  TimePoint sloppy_at = suspect ? now : std::min(request.deadline, now + alarm);
  in_flight_.track(id, RequestKind::kGet, std::move(reply_to), request.deadline, sloppy_at);
  const uint64_t deadline_unix_ms =
      deadline_after(unix_ms_ ? unix_ms_() : 0, request.deadline - now);
  Op& op = ops_.emplace(id, Op{std::move(round), request.key(), request.token, deadline_unix_ms,
                               now, false, std::move(on_read)})
               .first->second;
  execute(id, op, std::move(first));
  progress(id);
}

NodeId GetCoordinator::data_from(const std::vector<NodeId>& primaries) const {
  const NodeId& self = config_.node_id;
  if (std::find(primaries.begin(), primaries.end(), self) != primaries.end()) return self;
  for (const NodeId& p : primaries) {
    if (!liveness_.is_convicted(p) && !liveness_.is_suspect(p)) return p;
  }
  return primaries.front();
}

std::vector<NodeId> GetCoordinator::stand_ins(const KeyRequest& request) const {
  std::vector<NodeId> receivers = held_.receivers_of(request.token, request.list.primaries);
  std::vector<NodeId> out;
  for (const NodeId& f : request.list.fallbacks) {
    if (!liveness_.is_up(f)) continue;
    if (std::find(receivers.begin(), receivers.end(), f) != receivers.end()) continue;
    out.push_back(f);
  }
  return out;
}

void GetCoordinator::execute(uint64_t id, Op& op, std::vector<coordinator::ReadFrom> reads) {
  const NodeId& self = config_.node_id;
  for (const coordinator::ReadFrom& read : reads) {
    const bool fallback = !read.stand_in_for.empty();
    if (fallback) ++counters_.fallback_reads;
    if (read.to == self) {
      auto local =
          fallback ? replica_.load_with_hints(op.token, op.key) : replica_.read(op.token, op.key);
      if (local) {
        execute(id, op, op.round.on_reply(self, Status::ok(), std::move(local).value()));
      } else {
        execute(id, op, op.round.on_reply(self, local.status(), std::nullopt));
      }
      continue;
    }
    // A primary the failure detector holds down is not asked: it fails now and gets a
    // stand-in (stand-ins are up ones). A suspect one is asked (node/liveness.h).
    Status sent = fallback || !liveness_.is_convicted(read.to)
                      ? Status::ok()
                      : Status::unavailable(read.to + " is down");
    if (sent.is_ok()) {
      sent = transport_.send(
          read.to,
          PeerMessage{self, id, ReplicaRead{op.key, fallback, read.digest}, op.deadline_unix_ms});
    }
    if (!sent.is_ok()) execute(id, op, op.round.on_reply(read.to, sent, std::nullopt));
  }
}

void GetCoordinator::reply_local(const ReplyTo& reply_to, const KeyRequest& request) {
  auto local = replica_.load(request.token, request.key());
  if (!local) return replier_.reply_status(reply_to, local.status());
  causal::SiblingSet state = local.value().value_or(causal::SiblingSet());
  proto::ClientResponse response;
  response.request_id = reply_to.client_request_id;
  const bool primary = held_.ring() && held_.is_primary(request.token);
  proto::GetResponse body =
      get_response(state, unix_ms_ ? unix_ms_() : 0, {{config_.node_id, !primary}});
  if (body.values.empty()) response.status = Status::not_found("key not found on this node");
  response.body = std::move(body);
  replier_.reply(reply_to, std::move(response));
}

void GetCoordinator::on_reply(uint64_t id, const NodeId& from, const Status& status,
                              std::optional<causal::SiblingSet> state, TimePoint now) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  if (status.is_ok()) latency_.record(from, now - it->second.started);
  on_result(id, from, status, std::move(state));
}

void GetCoordinator::on_digest(uint64_t id, const NodeId& from,
                               const causal::StateSummary::Digest& digest, TimePoint now) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  Op& op = it->second;
  latency_.record(from, now - op.started);
  execute(id, op, op.round.on_digest(from, digest));
  progress(id);
}

void GetCoordinator::on_result(uint64_t id, const NodeId& from, const Status& status,
                               std::optional<causal::SiblingSet> state) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  Op& op = it->second;
  execute(id, op, op.round.on_reply(from, status, std::move(state)));
  progress(id);
}

void GetCoordinator::on_alarm(uint64_t id, TimePoint now) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  Op& op = it->second;
  const TimePoint deadline = in_flight_.find(id)->deadline;
  if (now < deadline) {
    in_flight_.rearm(id, deadline);
    execute(id, op, op.round.on_sloppy_alarm());
  } else {
    op.round.on_timeout();
  }
  progress(id);
}

void GetCoordinator::on_peer_unreachable(const NodeId& peer) {
  Status unreachable = Status::unavailable(fmt::format("{} is unreachable", peer));
  std::vector<uint64_t> ids;
  for (auto& [id, op] : ops_) ids.push_back(id);
  for (uint64_t id : ids) on_result(id, peer, unreachable, std::nullopt);
}

void GetCoordinator::progress(uint64_t id) {
  auto it = ops_.find(id);
  QKV_ASSERT(it != ops_.end());
  Op& op = it->second;
  const coordinator::GetRound& round = op.round;
  if (!op.answered && round.outcome() != coordinator::Outcome::kPending) {
    op.answered = true;
    in_flight_.answered(id);  // read repair may keep the round: no client waits on it
    if (op.on_read) {
      // Taken out: it runs once. It may start other rounds; `op` stays put (std::map).
      OnRead on_read = std::move(op.on_read);
      on_read(round.result(), round.result().is_ok() ? round.merged() : causal::SiblingSet(),
              answered_by(round));
      return progress_repair(id);
    }
    const ReplyTo& to = in_flight_.find(id)->reply_to;
    proto::ClientResponse response;
    response.request_id = to.client_request_id;
    response.status = round.result();
    if (response.status.is_ok()) {
      proto::GetResponse body =
          get_response(round.merged(), unix_ms_ ? unix_ms_() : 0, answered_by(round));
      if (body.values.empty()) response.status = Status::not_found("key not found");
      response.body = std::move(body);
    }
    replier_.reply(to, std::move(response));
  }
  progress_repair(id);
}

void GetCoordinator::progress_repair(uint64_t id) {
  auto it = ops_.find(id);
  QKV_ASSERT(it != ops_.end());
  Op& op = it->second;
  if (op.answered && op.round.complete()) {
    counters_.digest_mismatches += op.round.digest_mismatches();
    counters_.spare_reads += op.round.spare_reads();
    read_repair(op.key, op.round);
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
