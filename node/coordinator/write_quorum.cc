#include "node/coordinator/write_quorum.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/mutation.h"

namespace qkv::coordinator {

WriteQuorum::WriteQuorum(std::vector<NodeId> replicas, uint32_t w)
    : replicas_(std::move(replicas)), answers_(replicas_.size(), Answer::kNone), w_(w) {
  QKV_ASSERT(w_ >= 1 && w_ <= replicas_.size());
}

std::size_t WriteQuorum::index_of(const NodeId& replica) const {
  return static_cast<std::size_t>(std::find(replicas_.begin(), replicas_.end(), replica) -
                                  replicas_.begin());
}

bool WriteQuorum::acked(const NodeId& replica) const {
  const std::size_t i = index_of(replica);
  return i < replicas_.size() && answers_[i] == Answer::kAck;
}

Outcome WriteQuorum::on_reply(const NodeId& from, const Status& status) {
  // Answers after the outcome still count: stand-ins for late failures need them.
  if (timed_out_) return outcome_;
  const std::size_t i = index_of(from);
  if (i == replicas_.size() || answers_[i] != Answer::kNone) return outcome_;
  if (status.is_ok()) {
    answers_[i] = Answer::kAck;
    ++acks_;
  } else {
    answers_[i] = Answer::kFailed;
    ++failures_;
    if (first_error_.empty()) first_error_ = fmt::format("{}: {}", from, status.to_string());
  }
  if (outcome_ == Outcome::kPending) outcome_ = decide();
  return outcome_;
}

bool WriteQuorum::complete() const {
  return timed_out_ || acks_ + failures_ == replicas_.size();
}

Outcome WriteQuorum::on_timeout() {
  timed_out_ = true;
  if (outcome_ != Outcome::kPending) return outcome_;
  return outcome_ = (acks_ >= w_ ? Outcome::kSucceeded : Outcome::kFailed);
}

void WriteQuorum::add_replica(const NodeId& fallback) {
  QKV_ASSERT(index_of(fallback) == replicas_.size());
  replicas_.push_back(fallback);
  answers_.push_back(Answer::kNone);
}

Outcome WriteQuorum::decide() {
  if (acks_ >= w_) return Outcome::kSucceeded;
  if (QKV_MUTATION(kAckBeforeW) && acks_ > 0) return Outcome::kSucceeded;
  // Failing waits for every replica (or the deadline), not just until W is impossible:
  // the client then learns exactly how many replicas hold the write.
  if (acks_ + failures_ == replicas_.size()) return Outcome::kFailed;
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
                  acks_, replicas_.size(), w_, why));
}

std::vector<NodeId> WriteQuorum::waiting() const {
  std::vector<NodeId> out;
  for (std::size_t i = 0; i < replicas_.size(); ++i) {
    if (answers_[i] == Answer::kNone) out.push_back(replicas_[i]);
  }
  return out;
}

}  // namespace qkv::coordinator
