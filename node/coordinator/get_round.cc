#include "node/coordinator/get_round.h"

#include <fmt/format.h>

#include <algorithm>

namespace qkv::coordinator {

GetRound::GetRound(std::vector<NodeId> replicas, uint32_t r)
    : replicas_(std::move(replicas)), r_(r) {
  QKV_ASSERT(r_ >= 1 && r_ <= replicas_.size());
}

Outcome GetRound::on_reply(const NodeId& from, const Status& status,
                           std::optional<causal::SiblingSet> state) {
  // Answers after the outcome still count: read repair needs every replica's state.
  if (timed_out_) return outcome_;
  if (std::find(replicas_.begin(), replicas_.end(), from) == replicas_.end()) return outcome_;
  if (answers_.count(from) || failed_.count(from)) return outcome_;
  if (!status.is_ok()) {
    failed_.insert(from);
    if (first_error_.empty()) first_error_ = fmt::format("{}: {}", from, status.to_string());
  } else {
    if (state) {
      found_ = true;
      merged_ = causal::SiblingSet::join(merged_, *state);
    }
    answers_.emplace(from, std::move(state));
  }
  if (outcome_ == Outcome::kPending) outcome_ = decide();
  return outcome_;
}

Outcome GetRound::on_timeout() {
  timed_out_ = true;
  if (outcome_ != Outcome::kPending) return outcome_;
  return outcome_ = (answers_.size() >= r_ ? Outcome::kSucceeded : Outcome::kFailed);
}

bool GetRound::complete() const {
  return timed_out_ || answers_.size() + failed_.size() == replicas_.size();
}

std::vector<NodeId> GetRound::stale_replicas() const {
  std::vector<NodeId> stale;
  if (!found_) return stale;
  for (const auto& [node, state] : answers_) {
    // merged_ is the join of every answer, so an answer equal to it has nothing to learn.
    if (!state || !(*state == merged_)) stale.push_back(node);
  }
  return stale;
}

Outcome GetRound::decide() {
  if (answers_.size() >= r_) return Outcome::kSucceeded;
  // As for writes, failing waits for every replica so the count in the error is exact.
  if (answers_.size() + failed_.size() == replicas_.size()) return Outcome::kFailed;
  return Outcome::kPending;
}

Status GetRound::result() const {
  if (outcome_ == Outcome::kSucceeded) return Status::ok();
  if (outcome_ == Outcome::kPending) return Status::unavailable("read still pending");
  std::string why = timed_out_ ? "the request timed out" : "replicas failed";
  if (!first_error_.empty()) why += fmt::format(" (first error: {})", first_error_);
  return Status::unavailable(
      fmt::format("read quorum not met: {} of {} replicas answered, R={} required; {}",
                  answers_.size(), replicas_.size(), r_, why));
}

}  // namespace qkv::coordinator
