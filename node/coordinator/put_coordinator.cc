#include "node/coordinator/put_coordinator.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "common/assert.h"
#include "common/mutation.h"
#include "node/deadline.h"
#include "node/wire/replica_codec.h"

namespace qkv::node {
namespace {

// A key for a log line: at most 64 bytes, backslashes and non-printable bytes escaped (keys
// are arbitrary bytes; the log writer then escapes the text as its format needs).
std::string printable(const std::string& key) {
  std::string out;
  for (std::size_t i = 0; i < key.size() && i < 64; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (key.size() > 64) out += "...";
  return out;
}

}  // namespace

PutCoordinator::PutCoordinator(const NodeConfig& config, const causal::Actor& actor,
                               Transport& transport, InFlight& in_flight, Replier& replier,
                               Replica& replica, const HeldRanges& held, const Liveness& liveness,
                               handoff::HintedHandoff* handoff, NodeCounters& counters,
                               std::function<int64_t()> unix_ms)
    : config_(config),
      actor_(actor),
      transport_(transport),
      in_flight_(in_flight),
      replier_(replier),
      replica_(replica),
      held_(held),
      liveness_(liveness),
      handoff_(handoff),
      counters_(counters),
      unix_ms_(std::move(unix_ms)) {}

void PutCoordinator::start(ReplyTo reply_to, KeyRequest request, TimePoint now) {
  ++counters_.coordinated_puts;
  const std::vector<NodeId>& primaries = request.list.primaries;
  Status enough = coordinator::check_replica_count("write", "W", request.quorum, primaries.size());
  if (!enough.is_ok()) return replier_.reply_status(reply_to, std::move(enough));
  // The sibling's timestamp and its expiry are the coordinator's clock, read once.
  const int64_t unix_ms = unix_ms_ ? unix_ms_() : 0;
  const int64_t expires_ms = request.ttl_ms > 0 ? unix_ms + request.ttl_ms : 0;
  auto update = replica_.updated(request.token, request.key(), request.context, actor_,
                                 request.take_value(), expires_ms, unix_ms);
  if (!update) return replier_.reply_status(reply_to, update.status());
  causal::SiblingSet updated = update.value().state;
  if (Status s = check_siblings(request.key(), updated.siblings().size(), now); !s.is_ok()) {
    ++counters_.siblings_refused;
    return replier_.reply_status(reply_to, std::move(s));
  }
  replica_.store(request.token, request.key(), std::move(update).value());

  // In a ring transition the key's receivers are replicas of the write too, and each one
  // raises the quorum by one (Cassandra's pending ranges): W + p acks among the old
  // primaries and the p receivers leave at least W in either table, so a read of R from
  // the old or the new primaries (R + W > N) still sees the write after the switch.
  std::vector<NodeId> replicas = primaries;
  if (!QKV_MUTATION(kWritesSkipReceivers)) {
    for (NodeId& receiver : held_.receivers_of(request.token, primaries)) {
      replicas.push_back(std::move(receiver));
    }
  }
  const auto quorum = static_cast<uint32_t>(request.quorum + replicas.size() - primaries.size());
  // Fallbacks that are up first, in ring order; the others after them: when no up one is
  // left, a node believed down (perhaps wrongly, under load) is still worth a try.
  // A receiver is a replica already, never a stand-in.
  std::vector<NodeId> fallbacks = request.list.fallbacks;
  std::erase_if(fallbacks, [&](const NodeId& f) {
    return std::find(replicas.begin(), replicas.end(), f) != replicas.end();
  });
  std::stable_partition(fallbacks.begin(), fallbacks.end(),
                        [&](const NodeId& f) { return liveness_.is_up(f); });
  const Duration alarm =
      latency_.stand_in_alarm(config_.node_id, replicas, config_.stand_in_alarm_min,
                              std::max(config_.stand_in_alarm_min, config_.request_timeout / 2));
  TimePoint sloppy_at = std::min(request.deadline, now + alarm);
  // Sent on (and tracked) once this node's copy is committed.
  if (reply_to.client) ++staged_clients_;
  staged_.push_back(
      Staged{std::move(reply_to), request.deadline, sloppy_at,
             Op{coordinator::PutRound(config_.node_id, std::move(replicas), quorum,
                                      std::move(fallbacks), !request.primaries_only),
                PeerMessage{config_.node_id, 0, ReplicaWrite{request.key(), std::move(updated), {}},
                            deadline_after(unix_ms_ ? unix_ms_() : 0, request.deadline - now)},
                now}});
  staged_.back().op.ring_version = held_.version();
}

Status PutCoordinator::check_siblings(const std::string& key, std::size_t siblings, TimePoint now) {
  QKV_RETURN_IF_ERROR(config_.limits.check_siblings(siblings));
  if (siblings <= config_.limits.siblings_warn) return Status::ok();
  ++counters_.siblings_warned;
  // One line a second at most, naming the latest key: a hot key would flood the log.
  if (now >= next_siblings_log_) {
    next_siblings_log_ = now + Duration(1000);
    log_events_.push_back(LogEvent::warn("siblings_warn")
                              .with("key", printable(key))
                              .with("siblings", siblings)
                              .with("siblings_warn", config_.limits.siblings_warn)
                              .with("siblings_max", config_.limits.siblings_max)
                              .with("warned_total", counters_.siblings_warned));
  }
  return Status::ok();
}

void PutCoordinator::on_commit_started() {
  QKV_ASSERT(committing_.empty());
  committing_.swap(staged_);
  committing_clients_ = std::exchange(staged_clients_, 0);
}

void PutCoordinator::discard_staged(const Status& status) {
  auto staged = std::move(staged_);
  staged_.clear();
  staged_clients_ = 0;
  for (auto& s : staged) replier_.reply_status(s.reply_to, status);
}

void PutCoordinator::on_committed(const Status& status) {
  auto staged = std::move(committing_);
  committing_.clear();
  committing_clients_ = 0;
  for (auto& s : staged) {
    if (status.is_ok()) {
      start_round(std::move(s));
    } else {
      // As a failed single write did: the client has the error, no replica was sent it.
      replier_.reply_status(s.reply_to, status);
    }
  }
}

uint64_t PutCoordinator::oldest_ring_version() const {
  uint64_t oldest = UINT64_MAX;
  for (const Staged& s : staged_) oldest = std::min(oldest, s.op.ring_version);
  for (const Staged& s : committing_) oldest = std::min(oldest, s.op.ring_version);
  for (const auto& [id, op] : ops_) oldest = std::min(oldest, op.ring_version);
  return oldest;
}

void PutCoordinator::start_round(Staged staged) {
  uint64_t id = in_flight_.next_id();
  TimePoint first_alarm = staged.op.round.sloppy() ? staged.sloppy_at : staged.deadline;
  in_flight_.track(id, RequestKind::kPut, std::move(staged.reply_to), staged.deadline, first_alarm);
  Op& op = ops_.emplace(id, std::move(staged.op)).first->second;
  op.write.request_id = id;
  op.sent_us = replier_.latencies().now_us();
  execute(id, op, op.round.start());
  // Replicas whose links are silent were sent the write too; they get stand-ins at once.
  std::vector<NodeId> suspects;
  for (const NodeId& r : op.round.replicas()) {
    if (liveness_.is_suspect(r)) suspects.push_back(r);
  }
  if (!suspects.empty() && !op.round.done()) execute(id, op, op.round.stand_in_beside(suspects));
  finish_if_done(id);
}

void PutCoordinator::execute(uint64_t id, Op& op, std::vector<coordinator::PutAction> actions) {
  for (auto& action : actions) {
    if (auto* send = std::get_if<coordinator::SendWrite>(&action)) {
      Status sent = Status::ok();
      if (!send->hint_for.empty()) {
        ++counters_.hinted_writes;
      } else if (liveness_.is_convicted(send->to)) {
        // A replica the failure detector holds down is not sent the write: it fails now
        // and gets a stand-in (a stand-in is tried whatever its liveness). A suspect one
        // is sent it: it may answer in time (node/liveness.h).
        sent = Status::unavailable(send->to + " is down");
      }
      if (sent.is_ok()) {
        std::get<ReplicaWrite>(op.write.body).hint_for = send->hint_for;
        sent = transport_.send_copy_of(send->to, op.write);
      }
      if (!sent.is_ok()) execute(id, op, op.round.on_reply(send->to, sent));
    } else if (auto* hint = std::get_if<coordinator::KeepHint>(&action)) {
      if (!handoff_) continue;
      Status kept = handoff_->store(hint->primary, ring::token_of(op.key()), op.key(), op.state(),
                                    unix_ms_ ? unix_ms_() : 0);
      if (kept.is_ok()) ++counters_.coordinator_hints;  // a failure is counted by the handoff
    } else {
      answer(id, op, std::move(std::get<coordinator::Answer>(action).status));
    }
  }
  if (auto more = op.round.more(); !more.empty()) execute(id, op, std::move(more));
}

void PutCoordinator::answer(uint64_t id, const Op& op, Status status) {
  in_flight_.answered(id);
  const ReplyTo& to = in_flight_.find(id)->reply_to;
  if (!status.is_ok()) return replier_.reply_status(to, std::move(status));
  // The new context covers what was written, so the client may write again unread.
  proto::ClientResponse response;
  response.request_id = to.client_request_id;
  response.body = proto::PutResponse{encode_context(op.state().version_vector())};
  replier_.reply(to, std::move(response));
}

void PutCoordinator::finish_if_done(uint64_t id) {
  auto it = ops_.find(id);
  if (it == ops_.end() || !it->second.round.done()) return;
  in_flight_.forget(id);
  ops_.erase(it);
}

void PutCoordinator::on_reply(uint64_t id, const NodeId& from, const Status& status,
                              TimePoint now) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  if (status.is_ok()) {
    latency_.record(from, now - it->second.started);
    replier_.latencies().on_replica_ack(it->second.sent_us);
  }
  on_result(id, from, status);
}

void PutCoordinator::on_result(uint64_t id, const NodeId& from, const Status& status) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  execute(id, it->second, it->second.round.on_reply(from, status));
  finish_if_done(id);
}

void PutCoordinator::on_alarm(uint64_t id, TimePoint now) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  Op& op = it->second;
  const TimePoint deadline = in_flight_.find(id)->deadline;
  if (now < deadline) {
    in_flight_.rearm(id, deadline);
    return execute(id, op, op.round.on_sloppy_alarm());
  }
  execute(id, op, op.round.on_timeout());
  finish_if_done(id);
}

void PutCoordinator::on_peer_unreachable(const NodeId& peer) {
  Status unreachable = Status::unavailable(fmt::format("{} is unreachable", peer));
  std::vector<uint64_t> ids;
  for (const auto& [id, op] : ops_) ids.push_back(id);
  for (uint64_t id : ids) on_result(id, peer, unreachable);
}

}  // namespace qkv::node
