#include "node/version_cache.h"

#include <utility>

namespace qkv::node {

std::size_t VersionCache::bytes_of(const Slot& slot) {
  // The list node (Slot and two pointers), the index's node and bucket, the key's heap
  // buffer past the small-string one, the summary's vectors and actor names, and malloc's
  // chunk header (8 bytes) on each of those allocations.
  constexpr std::size_t kNodes = sizeof(Slot) + 2 * sizeof(void*) + 48;
  constexpr std::size_t kMallocHeader = 8;
  const std::size_t key_heap = slot.key.capacity() > 15 ? slot.key.capacity() + 1 : 0;
  const causal::StateSummary& summary = slot.entry.summary;
  const std::size_t allocations =
      2 + (key_heap > 0) + 2 + summary.version_vector().size() + summary.siblings().size();
  return kNodes + key_heap + summary.heap_bytes() + allocations * kMallocHeader;
}

const VersionCache::Entry* VersionCache::find(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->entry;
}

void VersionCache::put(std::string_view key, Entry entry) {
  if (bytes_max_ == 0) return;
  if (auto it = index_.find(key); it != index_.end()) {
    Slot& slot = *it->second;
    bytes_ -= slot.bytes;
    slot.entry = std::move(entry);
    slot.bytes = bytes_of(slot);
    bytes_ += slot.bytes;
    lru_.splice(lru_.begin(), lru_, it->second);
  } else {
    lru_.push_front(Slot{std::string(key), std::move(entry), 0});
    Slot& slot = lru_.front();
    slot.bytes = bytes_of(slot);
    bytes_ += slot.bytes;
    index_.emplace(slot.key, lru_.begin());
  }
  while (bytes_ > bytes_max_ && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

void VersionCache::erase(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  bytes_ -= it->second->bytes;
  auto slot = it->second;
  index_.erase(it);  // before the slot: the index's key views the slot's string
  lru_.erase(slot);
}

void VersionCache::clear() {
  index_.clear();
  lru_.clear();
  bytes_ = 0;
}

}  // namespace qkv::node
