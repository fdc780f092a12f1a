#include "node/coordinator/get_round.h"

#include <fmt/format.h>

#include <algorithm>

namespace qkv::coordinator {

GetRound::GetRound(std::vector<NodeId> primaries, uint32_t r, uint32_t pr,
                   std::vector<NodeId> fallbacks)
    : primaries_(std::move(primaries)), r_(r), pr_(pr), fallbacks_left_(std::move(fallbacks)) {
  QKV_ASSERT(r_ >= 1 && r_ <= primaries_.size() && pr_ <= primaries_.size());
  for (const NodeId& p : primaries_) asked_.push_back(ReadFrom{p, {}});
}

std::vector<ReadFrom> GetRound::start() const {
  return {asked_.begin(), asked_.begin() + static_cast<std::ptrdiff_t>(primaries_.size())};
}

const ReadFrom* GetRound::asked(const NodeId& node) const {
  auto it =
      std::find_if(asked_.begin(), asked_.end(), [&](const ReadFrom& a) { return a.to == node; });
  return it == asked_.end() ? nullptr : &*it;
}

std::vector<ReadFrom> GetRound::on_reply(const NodeId& from, const Status& status,
                                         std::optional<causal::SiblingSet> state) {
  std::vector<ReadFrom> out;
  // Answers after the outcome still count: read repair needs every primary's state.
  if (timed_out_) return out;
  const ReadFrom* node = asked(from);
  if (!node || answers_.count(from) || failed_.count(from)) return out;
  const bool primary = node->stand_in_for.empty();
  if (!status.is_ok()) {
    failed_.insert(from);
    if (primary) ++primary_failures_;
    if (first_error_.empty()) first_error_ = fmt::format("{}: {}", from, status.to_string());
    // Copied: taking a stand-in grows asked_, which `node` points into.
    const NodeId for_primary = primary ? from : node->stand_in_for;
    // No stand-in once decided, nor when PR is lost: its answer could not change the outcome.
    const bool pr_lost = primary_answers_ < pr_ && primaries_done();
    if (outcome_ == Outcome::kPending && !pr_lost) stand_in_for(for_primary, out);
  } else {
    if (state) {
      found_ = true;
      merged_ = causal::SiblingSet::join(merged_, *state);
    }
    answers_.emplace(from, std::move(state));
    if (primary) ++primary_answers_;
  }
  if (outcome_ == Outcome::kPending) outcome_ = decide();
  return out;
}

void GetRound::stand_in_for(const NodeId& primary, std::vector<ReadFrom>& out) {
  if (fallbacks_left_.empty()) return;
  ReadFrom read{fallbacks_left_.front(), primary};
  fallbacks_left_.erase(fallbacks_left_.begin());
  asked_.push_back(read);
  out.push_back(std::move(read));
}

std::vector<ReadFrom> GetRound::on_sloppy_alarm() {
  std::vector<ReadFrom> out;
  if (outcome_ != Outcome::kPending || timed_out_ || answers_.size() >= r_) return out;
  for (const NodeId& primary : primaries_) {
    if (answers_.count(primary) || failed_.count(primary)) continue;
    bool replaced = std::any_of(asked_.begin(), asked_.end(),
                                [&](const ReadFrom& a) { return a.stand_in_for == primary; });
    if (!replaced) stand_in_for(primary, out);
  }
  return out;
}

Outcome GetRound::on_timeout() {
  timed_out_ = true;
  if (outcome_ != Outcome::kPending) return outcome_;
  const bool met = answers_.size() >= r_ && primary_answers_ >= pr_;
  return outcome_ = (met ? Outcome::kSucceeded : Outcome::kFailed);
}

bool GetRound::complete() const {
  return timed_out_ || answers_.size() + failed_.size() == asked_.size();
}

bool GetRound::primaries_done() const {
  return primary_answers_ + primary_failures_ == primaries_.size();
}

std::vector<NodeId> GetRound::stale_replicas() const {
  std::vector<NodeId> stale;
  if (!found_) return stale;
  for (const NodeId& primary : primaries_) {
    auto answer = answers_.find(primary);
    if (answer == answers_.end()) continue;
    // merged_ is the join of every answer, so an answer equal to it has nothing to learn.
    const std::optional<causal::SiblingSet>& state = answer->second;
    if (!state || !(*state == merged_)) stale.push_back(primary);
  }
  return stale;
}

std::vector<ReadFrom> GetRound::answered() const {
  std::vector<ReadFrom> out;
  for (const ReadFrom& a : asked_) {
    if (answers_.count(a.to)) out.push_back(a);
  }
  return out;
}

Outcome GetRound::decide() const {
  if (answers_.size() >= r_ && primary_answers_ >= pr_) return Outcome::kSucceeded;
  // As for writes, failing waits for every node asked so the counts in the error are exact;
  // PR fails as soon as every primary answered or failed (a fallback cannot help it).
  if (answers_.size() + failed_.size() == asked_.size()) return Outcome::kFailed;
  if (primary_answers_ < pr_ && primaries_done()) return Outcome::kFailed;
  return Outcome::kPending;
}

Status GetRound::result() const {
  if (outcome_ == Outcome::kSucceeded) return Status::ok();
  if (outcome_ == Outcome::kPending) return Status::unavailable("read still pending");
  std::string why = timed_out_ ? "the request timed out" : "replicas failed";
  if (!first_error_.empty()) why += fmt::format(" (first error: {})", first_error_);
  // PR first: when it is unmet, fallbacks could not have made the read succeed.
  if (primary_answers_ < pr_) {
    return Status::unavailable(
        fmt::format("primary quorum not met: {} of {} primaries answered, PR={} required "
                    "(fallbacks count towards r, not pr); {}",
                    primary_answers_, primaries_.size(), pr_, why));
  }
  const auto fallbacks = static_cast<uint32_t>(answers_.size()) - primary_answers_;
  std::string from_fallbacks =
      fallbacks == 0 ? "" : fmt::format(" ({} of them fallbacks)", fallbacks);
  return Status::unavailable(
      fmt::format("read quorum not met: {} of {} replicas answered{}, R={} required; {}",
                  answers_.size(), primaries_.size(), from_fallbacks, r_, why));
}

}  // namespace qkv::coordinator
