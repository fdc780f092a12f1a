#include "node/coordinator/put_round.h"

#include <algorithm>

namespace qkv::coordinator {

PutRound::PutRound(NodeId self, std::vector<NodeId> replicas, uint32_t w,
                   std::vector<NodeId> fallbacks, bool sloppy)
    : self_(std::move(self)),
      replicas_(replicas),
      quorum_(std::move(replicas), w),
      fallbacks_left_(std::move(fallbacks)),
      sloppy_(sloppy) {}

bool PutRound::is_replica(const NodeId& node) const {
  return std::find(replicas_.begin(), replicas_.end(), node) != replicas_.end();
}

bool PutRound::covered(const NodeId& primary) const {
  if (quorum_.acked(primary) || hinted_here_.contains(primary)) return true;
  return std::any_of(standing_in_.begin(), standing_in_.end(),
                     [&](const auto& e) { return e.second == primary && quorum_.acked(e.first); });
}

bool PutRound::done() const {
  if (!answered_) return false;
  if (quorum_.complete()) return true;
  // Whoever is still waited on stands for a covered primary: its answer would change
  // nothing (on_timeout keeps no hint for a covered primary), so the round ends now.
  return quorum_.all_waiting([&](const NodeId& waiting) {
    auto standing = standing_in_.find(waiting);
    return covered(standing != standing_in_.end() ? standing->second : waiting);
  });
}

std::vector<PutAction> PutRound::start() {
  std::vector<PutAction> out;
  for (const NodeId& replica : replicas_) {
    if (replica == self_) {
      quorum_.on_reply(replica, Status::ok());  // committed before the round started
    } else {
      out.push_back(SendWrite{replica, {}});
    }
  }
  maybe_answer(out);
  return out;
}

std::vector<PutAction> PutRound::on_reply(const NodeId& from, const Status& status) {
  std::vector<PutAction> out;
  quorum_.on_reply(from, status);
  if (!status.is_ok()) {
    if (auto standing = standing_in_.find(from); standing != standing_in_.end()) {
      stand_in_for(standing->second, out);  // a fallback failed: the next one
    } else if (is_replica(from)) {
      if (sloppy_) {
        stand_in_for(from, out);
      } else {
        keep_hint(from, out);  // no stand-in may count (PW), but the primary gets its copy
      }
    }
  }
  maybe_answer(out);
  return out;
}

std::vector<PutAction> PutRound::on_sloppy_alarm() {
  silent_.clear();
  for (const NodeId& p : quorum_.waiting()) {
    bool covered = std::any_of(standing_in_.begin(), standing_in_.end(),
                               [&](const auto& e) { return e.second == p; });
    if (is_replica(p) && !covered) silent_.push_back(p);
  }
  return more();
}

std::vector<PutAction> PutRound::stand_in_beside(const std::vector<NodeId>& suspects) {
  if (!sloppy_) return {};
  const std::vector<NodeId> waiting = quorum_.waiting();
  for (const NodeId& p : suspects) {
    if (silent_.size() >= fallbacks_left_.size()) break;  // no fallback left for it
    const bool covered = std::any_of(standing_in_.begin(), standing_in_.end(),
                                     [&](const auto& e) { return e.second == p; });
    const bool is_waiting = std::find(waiting.begin(), waiting.end(), p) != waiting.end();
    if (is_replica(p) && is_waiting && !covered) silent_.push_back(p);
  }
  return more();
}

std::vector<PutAction> PutRound::more() {
  std::vector<PutAction> out;
  if (silent_.empty()) return out;
  NodeId primary = std::move(silent_.front());
  silent_.erase(silent_.begin());
  stand_in_for(primary, out);
  // Nothing to send (no fallback left, a hint already kept): on to the next.
  if (out.empty() && !silent_.empty()) return more();
  return out;
}

std::vector<PutAction> PutRound::on_timeout() {
  std::vector<PutAction> out;
  // Whoever has not acked may never have got the write; the primary it was meant for gets
  // a hint here (a duplicate of one a silent fallback keeps is harmless).
  for (const NodeId& silent : quorum_.waiting()) {
    auto standing = standing_in_.find(silent);
    NodeId primary = standing != standing_in_.end() ? standing->second : silent;
    if (!covered(primary)) keep_hint(primary, out);
  }
  quorum_.on_timeout();
  maybe_answer(out);
  return out;
}

void PutRound::stand_in_for(const NodeId& primary, std::vector<PutAction>& out) {
  if (fallbacks_left_.empty()) return keep_hint(primary, out);
  NodeId fallback = fallbacks_left_.front();
  fallbacks_left_.erase(fallbacks_left_.begin());
  quorum_.add_replica(fallback);
  standing_in_[fallback] = primary;
  out.push_back(SendWrite{std::move(fallback), primary});
}

void PutRound::keep_hint(const NodeId& primary, std::vector<PutAction>& out) {
  // Once per primary, never for the coordinator itself (its copy is committed).
  if (primary == self_ || !hinted_here_.insert(primary).second) return;
  out.push_back(KeepHint{primary});
}

void PutRound::maybe_answer(std::vector<PutAction>& out) {
  if (answered_ || quorum_.outcome() == Outcome::kPending) return;
  answered_ = true;
  out.push_back(Answer{quorum_.result()});
}

}  // namespace qkv::coordinator
