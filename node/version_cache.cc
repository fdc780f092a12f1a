#include "node/version_cache.h"

#include <utility>

namespace qkv::node {

std::size_t VersionCache::bytes_of(const std::string& key, const Slot& slot) {
  // The table's node (key, Slot, next pointer, cached hash) and bucket, the key's heap
  // buffer past the small-string one, the summary's vectors and actor names, and malloc's
  // chunk header (8 bytes) on each of those allocations.
  constexpr std::size_t kNode = sizeof(Table::value_type) + 2 * sizeof(void*) + sizeof(void*);
  constexpr std::size_t kMallocHeader = 8;
  const std::size_t key_heap = key.capacity() > 15 ? key.capacity() + 1 : 0;
  const causal::StateSummary& summary = slot.entry.summary;
  const std::size_t allocations =
      1 + (key_heap > 0) + 2 + summary.version_vector().size() + summary.siblings().size();
  return kNode + key_heap + summary.heap_bytes() + allocations * kMallocHeader;
}

const VersionCache::Entry* VersionCache::find(std::string_view key) {
  auto it = table_.find(key);
  if (it == table_.end()) return nullptr;
  it->second.referenced = true;
  return &it->second.entry;
}

void VersionCache::put(std::string_view key, Entry entry) {
  if (bytes_max_ == 0) return;
  auto [it, inserted] = table_.try_emplace(std::string(key));
  Slot& slot = it->second;
  if (!inserted) bytes_ -= slot.bytes;
  slot.entry = std::move(entry);
  // A new key is marked once found again (then it has been used twice); an updated key
  // was used now.
  slot.referenced = !inserted;
  slot.bytes = bytes_of(it->first, slot);
  bytes_ += slot.bytes;
  evict(it);
}

void VersionCache::evict(Table::iterator keep) {
  if (table_.bucket_count() != hand_buckets_) {  // rehashed: the hand is invalid
    hand_ = table_.end();
    hand_buckets_ = table_.bucket_count();
  }
  // Each step clears a mark, passes `keep` or evicts, so two passes at most.
  while (bytes_ > bytes_max_ && !table_.empty()) {
    if (hand_ == table_.end()) hand_ = table_.begin();
    if (hand_->second.referenced) {
      hand_->second.referenced = false;
      ++hand_;
    } else if (hand_ == keep && table_.size() > 1) {
      ++hand_;
    } else {
      bytes_ -= hand_->second.bytes;
      hand_ = table_.erase(hand_);
    }
  }
}

void VersionCache::erase(std::string_view key) {
  auto it = table_.find(key);
  if (it == table_.end()) return;
  bytes_ -= it->second.bytes;
  if (it == hand_) {
    hand_ = table_.erase(it);
  } else {
    table_.erase(it);
  }
}

void VersionCache::clear() {
  table_.clear();
  hand_ = table_.end();
  hand_buckets_ = table_.bucket_count();
  bytes_ = 0;
}

}  // namespace qkv::node
