#include "node/coordinator/conditional_write.h"

#include <fmt/format.h>

#include <utility>

#include "common/assert.h"

namespace qkv::node {
namespace {

const char* write_name(const KeyRequest& request) {
  return request.kind == KeyRequest::Kind::kPut ? "put" : "delete";
}

std::string plural(std::size_t count, const char* one, const char* many) {
  return fmt::format("{} {}", count, count == 1 ? one : many);
}

std::string names(const std::vector<proto::ReplicaAnswer>& answered) {
  if (answered.empty()) return "none";
  std::string out;
  for (const proto::ReplicaAnswer& a : answered) {
    if (!out.empty()) out += ", ";
    out += a.node;
    if (a.fallback) out += " (fallback)";
  }
  return out;
}

}  // namespace

std::optional<NodeId> first_up_primary(const ring::PreferenceList& list, const Liveness& liveness) {
  for (const NodeId& p : list.primaries) {
    if (liveness.is_up(p)) return p;
  }
  return std::nullopt;
}

Status check_condition(const KeyRequest& request, const std::optional<causal::SiblingSet>& state,
                       int64_t unix_ms) {
  if (request.condition == proto::WriteCondition::kIfAbsent) {
    const std::size_t live = state ? state->values_at(unix_ms).size() : 0;
    if (live == 0) return Status::ok();
    return Status::precondition_failed(fmt::format("{}-if-absent refused: the key has {}",
                                                   write_name(request),
                                                   plural(live, "live value", "live values")));
  }
  if (request.condition == proto::WriteCondition::kIfUnchanged) {
    // Tombstones count: a delete since the context was read is a change too.
    std::size_t uncovered = 0;
    if (state) {
      for (const causal::Sibling& s : state->siblings()) {
        if (!request.context.covers(s.dot)) ++uncovered;
      }
    }
    if (uncovered == 0) return Status::ok();
    return Status::precondition_failed(fmt::format(
        "{}-if-unchanged refused: {} the context does not cover (the key was written since the "
        "context was read)",
        write_name(request), plural(uncovered, "sibling", "siblings")));
  }
  return Status::ok();
}

ConditionalWrites::ConditionalWrites(const NodeConfig& config, Replica& replica,
                                     const HeldRanges& held, GetCoordinator& gets,
                                     PutCoordinator& puts, Replier& replier, NodeCounters& counters,
                                     std::function<int64_t()> unix_ms,
                                     std::function<TimePoint()> now)
    : config_(config),
      replica_(replica),
      held_(held),
      gets_(gets),
      puts_(puts),
      replier_(replier),
      counters_(counters),
      unix_ms_(std::move(unix_ms)),
      now_(std::move(now)) {}

void ConditionalWrites::start(ReplyTo reply_to, const KeyRequest& request, TimePoint now) {
  QKV_ASSERT(request.is_write() && request.condition != proto::WriteCondition::kNone);
  ++counters_.conditional_writes;
  // The pre-read: a get of the key at the node's default R and fanout, no PR, within the
  // write's deadline.
  KeyRequest read = request;
  read.kind = KeyRequest::Kind::kGet;
  read.quorum = config_.r;
  read.pr = 0;
  read.fanout = config_.read_fanout;
  gets_.start(reply_to, read, now,
              [this, reply_to, request](const Status& status, const causal::SiblingSet& merged,
                                        const std::vector<proto::ReplicaAnswer>& answered) {
                on_read(reply_to, request, status, merged, answered);
              });
}

void ConditionalWrites::on_read(const ReplyTo& reply_to, const KeyRequest& request,
                                const Status& status, const causal::SiblingSet& merged,
                                const std::vector<proto::ReplicaAnswer>& answered) {
  if (!status.is_ok()) {
    return replier_.reply_status(
        reply_to,
        Status::unavailable(fmt::format("conditional write needs a read quorum: answered by {}; {}",
                                        names(answered), status.message())));
  }
  // A ring change since the write began may have taken the key's range away: joining into
  // it, or writing, would then be lost with the range.
  if (!held_.takes_writes_for(request.token)) {
    return replier_.reply_status(
        reply_to, Status::unavailable(fmt::format(
                      "{} stopped replicating the key while its conditional write read it (a "
                      "ring change); retry",
                      config_.node_id)));
  }
  // Join what the replicas hold into this node's copy first: the check below and the
  // write's update both read the joined (staged) state.
  if (Status joined = replica_.merge(request.token, request.key(), merged); !joined.is_ok()) {
    return replier_.reply_status(reply_to, joined);
  }
  auto local = replica_.load(request.token, request.key());
  if (!local) return replier_.reply_status(reply_to, local.status());
  if (Status holds = check_condition(request, local.value(), unix_ms_ ? unix_ms_() : 0);
      !holds.is_ok()) {
    ++counters_.preconditions_failed;
    return replier_.reply_status(reply_to, std::move(holds));
  }
  // Same step, no event in between: the write is staged on the state just checked.
  puts_.start(reply_to, request, now_ ? now_() : TimePoint{});
}

}  // namespace qkv::node
