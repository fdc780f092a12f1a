#include "node/coordinator/write_quorum.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/mutation.h"

namespace qkv::coordinator {

WriteQuorum::WriteQuorum(std::vector<NodeId> replicas, uint32_t w)
    : replicas_(std::move(replicas)), w_(w) {
  QKV_ASSERT(w_ >= 1 && w_ <= replicas_.size());
}

Outcome WriteQuorum::on_reply(const NodeId& from, const Status& status) {
  // Answers after the outcome still count: stand-ins for late failures need them.
  if (timed_out_) return outcome_;
  if (std::find(replicas_.begin(), replicas_.end(), from) == replicas_.end()) return outcome_;
  if (acked_.count(from) || failed_.count(from)) return outcome_;
  if (status.is_ok()) {
    acked_.insert(from);
  } else {
    failed_.insert(from);
    if (first_error_.empty()) first_error_ = fmt::format("{}: {}", from, status.to_string());
  }
  if (outcome_ == Outcome::kPending) outcome_ = decide();
  return outcome_;
}

bool WriteQuorum::complete() const {
  return timed_out_ || acked_.size() + failed_.size() == replicas_.size();
}

Outcome WriteQuorum::on_timeout() {
  timed_out_ = true;
  if (outcome_ != Outcome::kPending) return outcome_;
  return outcome_ = (acked_.size() >= w_ ? Outcome::kSucceeded : Outcome::kFailed);
}

void WriteQuorum::add_replica(const NodeId& fallback) {
  QKV_ASSERT(std::find(replicas_.begin(), replicas_.end(), fallback) == replicas_.end());
  replicas_.push_back(fallback);
}

Outcome WriteQuorum::decide() {
  if (acked_.size() >= w_) return Outcome::kSucceeded;
  if (QKV_MUTATION(kAckBeforeW) && !acked_.empty()) return Outcome::kSucceeded;
  // Failing waits for every replica (or the deadline), not just until W is impossible:
  // the client then learns exactly how many replicas hold the write.
  if (acked_.size() + failed_.size() == replicas_.size()) return Outcome::kFailed;
  return Outcome::kPending;
}

Status WriteQuorum::result() const {
  if (outcome_ == Outcome::kSucceeded) return Status::ok();
  if (outcome_ == Outcome::kPending) return Status::unavailable("write still pending");
  std::string why = timed_out_ ? "the request timed out" : "replicas failed";
  if (!first_error_.empty()) why += fmt::format(" (first error: {})", first_error_);
  return Status::unavailable(
      fmt::format("write quorum not met: {} of {} replicas acknowledged, W={} required; {}. The "
                  "replicas that acknowledged keep the write (it is not rolled back)",
                  acked_.size(), replicas_.size(), w_, why));
}

std::vector<NodeId> WriteQuorum::waiting() const {
  std::vector<NodeId> out;
  for (const auto& r : replicas_) {
    if (!acked_.count(r) && !failed_.count(r)) out.push_back(r);
  }
  return out;
}

}  // namespace qkv::coordinator
