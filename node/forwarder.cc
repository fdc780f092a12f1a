#include "node/forwarder.h"

#include <fmt/format.h>

#include <algorithm>

#include "node/deadline.h"

namespace qkv::node {
namespace {

// The share of its remaining deadline a forward gives to one primary before trying the
// next: the first primary gets half, so a dead one still leaves time for another.
Duration attempt_budget(Duration remaining, std::size_t attempts_left) {
  if (attempts_left <= 1) return remaining;
  return std::max(Duration(1), remaining / 2);
}

}  // namespace

Forwarder::Forwarder(const NodeConfig& config, Transport& transport, InFlight& in_flight,
                     Replier& replier, NodeCounters& counters, std::function<int64_t()> unix_ms)
    : config_(config),
      transport_(transport),
      in_flight_(in_flight),
      replier_(replier),
      counters_(counters),
      unix_ms_(std::move(unix_ms)) {}

void Forwarder::start(ReplyTo reply_to, KeyRequest request, std::vector<NodeId> primaries,
                      TimePoint now) {
  ++counters_.forwarded;
  uint64_t id = in_flight_.next_id();
  in_flight_.track(id, RequestKind::kForward, std::move(reply_to), request.deadline,
                   request.deadline);
  bool is_write = request.is_write();
  Op& op = ops_[id] = Op{std::move(request.request), std::move(primaries), 0, {}, is_write};
  send_attempt(id, op, now);
}

void Forwarder::send_attempt(uint64_t id, Op& op, TimePoint now) {
  const TimePoint deadline = in_flight_.find(id)->deadline;
  Duration remaining = std::max(Duration(1), deadline - now);
  // A write gets one timed attempt (see the top of forwarder.h); a read a share.
  Duration budget =
      op.is_write ? remaining : attempt_budget(remaining, op.primaries.size() - op.attempt);
  // The primary must answer inside this attempt's budget: give it 90% of it.
  proto::ClientRequest request = op.request;
  request.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(1, budget.count() * 9 / 10));
  in_flight_.rearm(id, now + budget);
  Status sent = transport_.send(op.primaries[op.attempt],
                                PeerMessage{config_.node_id, id, Forward{std::move(request)},
                                            deadline_after(unix_ms_ ? unix_ms_() : 0, budget)});
  // Certainly not sent: safe to try the next primary, even for a write. (Tail call:
  // it may erase `op`.)
  if (!sent.is_ok()) failed_attempt(id, sent.message(), /*maybe_delivered=*/false, now);
}

void Forwarder::failed_attempt(uint64_t id, std::string why, bool maybe_delivered, TimePoint now) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  Op& op = it->second;
  op.failures.push_back(fmt::format("{}: {}", op.primaries[op.attempt], why));
  ++op.attempt;
  bool retry_safe = !(op.is_write && maybe_delivered);
  const InFlight::Entry& entry = *in_flight_.find(id);
  if (retry_safe && op.attempt < op.primaries.size() && now < entry.deadline) {
    ++counters_.forward_failovers;
    return send_attempt(id, op, now);
  }
  std::string tried;
  for (const auto& f : op.failures) tried += (tried.empty() ? "" : "; ") + f;
  ReplyTo to = entry.reply_to;
  in_flight_.forget(id);
  ops_.erase(it);
  if (!retry_safe) {
    return replier_.reply_status(
        to, Status::unavailable(fmt::format(
                "the forwarded write got no answer ({}); it may have been applied, so it was "
                "not sent to another primary (that could add a duplicate sibling): read the "
                "key to see its outcome",
                tried)));
  }
  replier_.reply_status(
      to, Status::unavailable(
              fmt::format("no primary of the key answered the forwarded request ({})", tried)));
}

void Forwarder::on_reply(uint64_t id, proto::ClientResponse response) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  ReplyTo to = in_flight_.find(id)->reply_to;
  in_flight_.forget(id);
  ops_.erase(it);
  replier_.reply(to, std::move(response));
}

void Forwarder::on_alarm(uint64_t id, TimePoint now) {
  failed_attempt(id, "no answer in time", /*maybe_delivered=*/true, now);
}

void Forwarder::on_peer_unreachable(const NodeId& peer, TimePoint now) {
  std::vector<uint64_t> waiting;
  for (const auto& [id, op] : ops_) {
    if (op.primaries[op.attempt] == peer) waiting.push_back(id);
  }
  // The notice is about the link, not about one message: a forward sent before the link
  // broke may have arrived, so a write is not sent elsewhere (a read may be).
  for (uint64_t id : waiting) failed_attempt(id, "unreachable", /*maybe_delivered=*/true, now);
}

bool Forwarder::first_time(const NodeId& from, uint64_t request_id, TimePoint now) {
  while (!seen_expiry_.empty() &&
         (seen_expiry_.begin()->first <= now || seen_.size() > kForwardsSeenMax)) {
    seen_.erase(seen_expiry_.begin()->second);
    seen_expiry_.erase(seen_expiry_.begin());
  }
  auto key = std::make_pair(from, request_id);
  TimePoint expiry = now + config_.request_timeout_max;
  if (!seen_.emplace(key, expiry).second) return false;
  seen_expiry_.insert({expiry, key});
  return true;
}

}  // namespace qkv::node
