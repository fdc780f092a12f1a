#include "node/held_ranges.h"

#include <algorithm>

namespace qkv::node {

HeldRanges::HeldRanges(NodeId self, uint32_t n, storage::Storage& storage)
    : self_(std::move(self)), n_(n), storage_(storage) {}

void HeldRanges::set_ring(std::shared_ptr<const ring::Ring> ring,
                          std::shared_ptr<const ring::Ring> next, uint64_t version,
                          int64_t unix_ms) {
  ring_ = std::move(ring);
  next = ring_ ? std::move(next) : nullptr;
  if (next && (!next_ || *next != *next_)) transition_started_unix_ms_ = unix_ms;
  next_ = std::move(next);
  version_ = version;
  if (!ring_) return;
  primary_ = primaries_here(*ring_);
  primary_next_ = next_ ? primaries_here(*next_) : std::vector<bool>();
  std::set<uint32_t> replicated;
  for (uint32_t p = 0; p < ring_->partition_count(); ++p) {
    if (primary_[p] || (next_ && primary_next_[next_->partition_of(ring_->first_token(p))])) {
      replicated.insert(p);
    }
  }
  if (!scanned_) find_left_over(replicated);
  for (uint32_t p : held_) {
    if (!replicated.count(p)) drop_at_.try_emplace(p, version);
  }
  for (uint32_t p : replicated) {
    drop_at_.erase(p);
    held_.insert(p);
  }
}

std::vector<bool> HeldRanges::primaries_here(const ring::Ring& ring) const {
  std::vector<bool> out(ring.partition_count());
  for (uint32_t p = 0; p < ring.partition_count(); ++p) {
    out[p] = ring.preference_list(ring.first_token(p), n_).is_primary(self_);
  }
  return out;
}

void HeldRanges::find_left_over(const std::set<uint32_t>& replicated) {
  // Ranges an earlier run held and did not get to delete (it stopped first): a seek each.
  scanned_ = true;
  for (uint32_t p = 0; p < ring_->partition_count(); ++p) {
    if (replicated.count(p)) continue;
    bool any = false;
    (void)storage_.scan(ring_->first_token(p), ring_->last_token(p),
                        [&](ring::Token, std::string_view, std::string_view) {
                          any = true;
                          return false;
                        });
    if (any) held_.insert(p);
  }
}

bool HeldRanges::drop_due() const {
  return ring_ && std::any_of(drop_at_.begin(), drop_at_.end(),
                              [&](const auto& e) { return e.second <= applied_; });
}

uint64_t HeldRanges::drop_ranges(
    const std::function<Status(ring::Token, ring::Token)>& before_delete) {
  uint64_t dropped = 0;
  for (auto it = drop_at_.begin(); it != drop_at_.end();) {
    const uint32_t p = it->first;
    const ring::Token first = ring_->first_token(p), last = ring_->last_token(p);
    if (it->second > applied_ || !before_delete(first, last).is_ok() ||
        !storage_.delete_range(first, last).is_ok()) {
      ++it;  // a failed delete is tried again at the next ring news
      continue;
    }
    ++dropped;
    held_.erase(p);
    it = drop_at_.erase(it);
  }
  return dropped;
}

std::vector<NodeId> HeldRanges::receivers_of(ring::Token token,
                                             const std::vector<NodeId>& primaries) const {
  if (!next_) return {};
  std::vector<NodeId> out;
  for (NodeId& p : next_->preference_list(token, n_).primaries) {
    if (std::find(primaries.begin(), primaries.end(), p) == primaries.end()) {
      out.push_back(std::move(p));
    }
  }
  return out;
}

bool HeldRanges::is_primary(ring::Token token) const {
  return primary_[ring_->partition_of(token)];
}

bool HeldRanges::is_replica(const NodeId& node, ring::Token token) const {
  return ring_->preference_list(token, n_).is_primary(node) ||
         (next_ && next_->preference_list(token, n_).is_primary(node));
}

bool HeldRanges::is_ring_member(const NodeId& node) const {
  auto owns = [&](const ring::Ring& r) {
    return std::find(r.owners().begin(), r.owners().end(), node) != r.owners().end();
  };
  return owns(*ring_) || (next_ && owns(*next_));
}

std::vector<NodeId> HeldRanges::primaries_of(ring::Token token) const {
  return ring_->preference_list(token, n_).primaries;
}

bool HeldRanges::takes_writes_for(ring::Token token, bool primary) const {
  if (primary) return true;
  if (next_ && primary_next_[next_->partition_of(token)]) return true;
  return held_.count(ring_->partition_of(token)) > 0;
}

}  // namespace qkv::node
