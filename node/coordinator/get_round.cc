#include "node/coordinator/get_round.h"

#include <fmt/format.h>

#include <algorithm>

namespace qkv::coordinator {

GetRound::GetRound(std::vector<NodeId> primaries, uint32_t r, uint32_t pr,
                   std::vector<NodeId> fallbacks, NodeId data_from, Fanout fanout)
    : primaries_(std::move(primaries)),
      r_(r),
      pr_(pr),
      fallbacks_left_(std::move(fallbacks)),
      digest_reads_(!data_from.empty()) {
  QKV_ASSERT(r_ >= 1 && r_ <= primaries_.size() && pr_ <= primaries_.size());
  QKV_ASSERT(!digest_reads_ ||
             std::find(primaries_.begin(), primaries_.end(), data_from) != primaries_.end());
  const std::size_t ask = fanout == Fanout::kAll ? primaries_.size() : std::max(r_, pr_);
  std::vector<NodeId> order = primaries_;
  if (ask < order.size() && digest_reads_) {  // the node sending its state is always asked
    auto it = std::find(order.begin(), order.end(), data_from);
    std::rotate(order.begin(), it, it + 1);
  }
  for (const NodeId& p : order) {
    if (asked_.size() < ask) {
      asked_.push_back(ReadFrom{p, {}, digest_reads_ && p != data_from});
    } else {
      spares_.push_back(p);
    }
  }
  asked_first_ = asked_.size();
}

std::vector<ReadFrom> GetRound::start() const {
  return {asked_.begin(), asked_.begin() + static_cast<std::ptrdiff_t>(asked_first_)};
}

const ReadFrom* GetRound::asked(const NodeId& node) const {
  auto it =
      std::find_if(asked_.begin(), asked_.end(), [&](const ReadFrom& a) { return a.to == node; });
  return it == asked_.end() ? nullptr : &*it;
}

bool GetRound::known(const Digest& digest) const {
  static const Digest kNothing = causal::StateSummary().digest();
  return digest == kNothing ||
         std::find(state_digests_.begin(), state_digests_.end(), digest) != state_digests_.end();
}

bool GetRound::counts(const NodeId& node) const {
  if (answers_.count(node)) return true;
  auto digest = digests_.find(node);
  return digest != digests_.end() && !failed_.count(node) && known(digest->second);
}

bool GetRound::settled(const NodeId& node) const {
  return failed_.count(node) || answers_.count(node) ||
         (digests_.count(node) && !fetching_.count(node));
}

bool GetRound::primaries_settled() const {
  return std::all_of(primaries_.begin(), primaries_.end(),
                     [&](const NodeId& p) { return settled(p); });
}

uint32_t GetRound::replies() const {
  return static_cast<uint32_t>(
      std::count_if(asked_.begin(), asked_.end(), [&](const ReadFrom& a) { return counts(a.to); }));
}

uint32_t GetRound::primary_replies() const {
  return static_cast<uint32_t>(std::count_if(primaries_.begin(), primaries_.end(),
                                             [&](const NodeId& p) { return counts(p); }));
}

std::vector<ReadFrom> GetRound::on_reply(const NodeId& from, const Status& status,
                                         std::optional<causal::SiblingSet> state) {
  std::vector<ReadFrom> out;
  // Answers after the outcome still count: read repair needs every primary's state.
  if (timed_out_) return out;
  if (!asked(from) || settled(from)) return out;
  if (!status.is_ok()) {
    on_failure(from, status, out);
  } else {
    if (state) {
      found_ = true;
      merged_ = causal::SiblingSet::join(merged_, *state);
    }
    if (digest_reads_) {
      state_digests_.push_back(state ? causal::StateSummary::of(*state).digest()
                                     : causal::StateSummary().digest());
    }
    digests_.erase(from);
    fetching_.erase(from);
    answers_.emplace(from, std::move(state));
  }
  fetch_mismatched(out);
  if (outcome_ == Outcome::kPending) outcome_ = decide();
  return out;
}

std::vector<ReadFrom> GetRound::on_digest(const NodeId& from, const Digest& digest) {
  std::vector<ReadFrom> out;
  if (timed_out_) return out;
  const ReadFrom* node = asked(from);
  if (!node || !node->digest || settled(from) || digests_.count(from)) return out;
  digests_.emplace(from, digest);
  fetch_mismatched(out);
  if (outcome_ == Outcome::kPending) outcome_ = decide();
  return out;
}

void GetRound::on_failure(const NodeId& from, const Status& status, std::vector<ReadFrom>& out) {
  const ReadFrom* node = asked(from);
  failed_.insert(from);
  digests_.erase(from);
  fetching_.erase(from);
  if (first_error_.empty()) first_error_ = fmt::format("{}: {}", from, status.to_string());
  // Copied: taking a stand-in grows asked_, which `node` points into.
  const NodeId for_primary = node->stand_in_for.empty() ? from : node->stand_in_for;
  // No stand-in once decided, nor when PR is lost: its answer could not change the outcome.
  const bool pr_lost = primary_replies() < pr_ && primaries_settled();
  if (outcome_ == Outcome::kPending && !pr_lost) stand_in_for(for_primary, out);
}

void GetRound::fetch_mismatched(std::vector<ReadFrom>& out) {
  if (digests_.empty()) return;
  // Wait for a state to compare with while one is coming.
  const bool state_coming = std::any_of(
      asked_.begin(), asked_.end(), [&](const ReadFrom& a) { return !a.digest && !settled(a.to); });
  if (answers_.empty() && state_coming) return;
  std::vector<Digest> asked_for;  // mismatched digests whose state is being read
  for (const NodeId& node : fetching_) asked_for.push_back(digests_.at(node));
  for (const auto& [node, digest] : digests_) {
    if (fetching_.count(node) || known(digest)) continue;
    if (std::find(asked_for.begin(), asked_for.end(), digest) != asked_for.end()) continue;
    fetching_.insert(node);
    asked_for.push_back(digest);
    ++digest_mismatches_;
    out.push_back(ReadFrom{node, asked(node)->stand_in_for, false});
  }
}

void GetRound::stand_in_for(const NodeId& primary, std::vector<ReadFrom>& out) {
  if (!spares_.empty()) {  // a primary not asked yet: it counts towards PR too
    ReadFrom read{spares_.front(), {}, digest_reads_};
    spares_.erase(spares_.begin());
    ++spare_reads_;
    stood_in_.insert(primary);
    asked_.push_back(read);
    out.push_back(std::move(read));
    return;
  }
  if (fallbacks_left_.empty()) return;
  stood_in_.insert(primary);
  ReadFrom read{fallbacks_left_.front(), primary, false};
  fallbacks_left_.erase(fallbacks_left_.begin());
  asked_.push_back(read);
  out.push_back(std::move(read));
}

std::vector<ReadFrom> GetRound::on_sloppy_alarm() {
  std::vector<ReadFrom> out;
  if (outcome_ != Outcome::kPending || timed_out_ || replies() >= r_) return out;
  // The silent ones first: a spare asked for one of them is not itself silent yet.
  std::vector<NodeId> silent;
  for (const NodeId& primary : primaries_) {
    if (!asked(primary) || stood_in_.count(primary)) continue;
    if (answers_.count(primary) || digests_.count(primary) || failed_.count(primary)) continue;
    silent.push_back(primary);
  }
  for (const NodeId& primary : silent) stand_in_for(primary, out);
  return out;
}

Outcome GetRound::on_timeout() {
  timed_out_ = true;
  if (outcome_ != Outcome::kPending) return outcome_;
  const bool met = replies() >= r_ && primary_replies() >= pr_;
  return outcome_ = (met ? Outcome::kSucceeded : Outcome::kFailed);
}

bool GetRound::complete() const {
  return timed_out_ || std::all_of(asked_.begin(), asked_.end(),
                                   [&](const ReadFrom& a) { return settled(a.to); });
}

std::vector<NodeId> GetRound::stale_replicas() const {
  std::vector<NodeId> stale;
  if (!found_) return stale;
  std::optional<Digest> merged_digest;
  for (const NodeId& primary : primaries_) {
    if (auto answer = answers_.find(primary); answer != answers_.end()) {
      // merged_ is the join of every answer, so an answer equal to it has nothing to learn.
      const std::optional<causal::SiblingSet>& state = answer->second;
      if (!state || !(*state == merged_)) stale.push_back(primary);
      continue;
    }
    auto digest = digests_.find(primary);
    if (digest == digests_.end()) continue;
    if (!merged_digest) merged_digest = causal::StateSummary::of(merged_).digest();
    if (digest->second != *merged_digest) stale.push_back(primary);
  }
  return stale;
}

std::vector<ReadFrom> GetRound::answered() const {
  std::vector<ReadFrom> out;
  for (const ReadFrom& a : asked_) {
    if (counts(a.to)) out.push_back(a);
  }
  return out;
}

Outcome GetRound::decide() const {
  const uint32_t replies = this->replies();
  if (replies >= r_ && primary_replies() >= pr_) return Outcome::kSucceeded;
  // As for writes, failing waits for every node asked so the counts in the error are exact;
  // PR fails as soon as every primary answered or failed (a fallback cannot help it).
  if (complete()) return Outcome::kFailed;
  if (primary_replies() < pr_ && primaries_settled()) return Outcome::kFailed;
  return Outcome::kPending;
}

Status GetRound::result() const {
  if (outcome_ == Outcome::kSucceeded) return Status::ok();
  if (outcome_ == Outcome::kPending) return Status::unavailable("read still pending");
  std::string why = timed_out_ ? "the request timed out" : "replicas failed";
  if (!first_error_.empty()) why += fmt::format(" (first error: {})", first_error_);
  // PR first: when it is unmet, fallbacks could not have made the read succeed.
  const uint32_t replies = this->replies();
  const uint32_t primary_replies = this->primary_replies();
  if (primary_replies < pr_) {
    return Status::unavailable(
        fmt::format("primary quorum not met: {} of {} primaries answered, PR={} required "
                    "(fallbacks count towards r, not pr); {}",
                    primary_replies, primaries_.size(), pr_, why));
  }
  const auto fallbacks = replies - primary_replies;
  std::string from_fallbacks =
      fallbacks == 0 ? "" : fmt::format(" ({} of them fallbacks)", fallbacks);
  return Status::unavailable(
      fmt::format("read quorum not met: {} of {} replicas answered{}, R={} required; {}", replies,
                  primaries_.size(), from_fallbacks, r_, why));
}

}  // namespace qkv::coordinator
