#include "node/version_cache.h"

#include <xxhash.h>

#include <algorithm>
#include <utility>

namespace qkv::node {

namespace {
constexpr std::size_t kIndexCellsMin = 16;
constexpr uint32_t kNoSlot = 0;
}  // namespace

uint32_t VersionCache::hash_of(std::string_view key) {
  return static_cast<uint32_t>(XXH3_64bits(key.data(), key.size()));
}

std::size_t VersionCache::cell_of(std::string_view key, uint32_t hash) const {
  const std::size_t mask = index_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Cell& c = index_[i];
    if (c.slot_plus_1 == kNoSlot) return i;
    if (c.hash == hash && slots_[c.slot_plus_1 - 1].key == key) return i;
  }
}

std::size_t VersionCache::bytes_of(const Slot& slot) const {
  // The slot, its share of the index (at most half full: up to 4 cells an entry just after
  // it doubled), the key's heap buffer past the small-string one, the summary's vectors and
  // actor names, and malloc's chunk header (8 bytes) on each of those allocations.
  constexpr std::size_t kFixed = sizeof(Slot) + 4 * sizeof(Cell);
  constexpr std::size_t kMallocHeader = 8;
  const std::size_t key_heap = slot.key.capacity() > 15 ? slot.key.capacity() + 1 : 0;
  const causal::StateSummary& summary = slot.entry.summary;
  const std::size_t allocations =
      (key_heap > 0) + 2 + summary.version_vector().size() + summary.siblings().size();
  return kFixed + key_heap + summary.heap_bytes() + allocations * kMallocHeader;
}

void VersionCache::grow_index() {
  std::vector<Cell> old = std::move(index_);
  index_.assign(std::max(kIndexCellsMin, old.size() * 2), Cell{});
  const std::size_t mask = index_.size() - 1;
  for (const Cell& c : old) {
    if (c.slot_plus_1 == kNoSlot) continue;
    std::size_t i = c.hash & mask;
    while (index_[i].slot_plus_1 != kNoSlot) i = (i + 1) & mask;
    index_[i] = c;
  }
}

const VersionCache::Entry* VersionCache::find(std::string_view key) {
  if (size_ == 0) return nullptr;
  const Cell& c = index_[cell_of(key, hash_of(key))];
  if (c.slot_plus_1 == kNoSlot) return nullptr;
  Slot& slot = slots_[c.slot_plus_1 - 1];
  slot.referenced = true;
  return &slot.entry;
}

void VersionCache::put(std::string_view key, Entry entry) {
  if (bytes_max_ == 0) return;
  bool inserted = false;
  const uint32_t s = slot_for(key, inserted);
  slots_[s].entry = std::move(entry);
  finish_put(s, inserted);
}

void VersionCache::put(std::string_view key, causal::SiblingSet&& state,
                       std::optional<antientropy::Hash128> tree_entry) {
  if (bytes_max_ == 0) return;
  bool inserted = false;
  const uint32_t s = slot_for(key, inserted);
  slots_[s].entry.summary.assign(std::move(state));
  slots_[s].entry.tree_entry = tree_entry;
  finish_put(s, inserted);
}

uint32_t VersionCache::slot_for(std::string_view key, bool& inserted) {
  if ((size_ + 1) * 2 > index_.size()) grow_index();
  const uint32_t hash = hash_of(key);
  Cell& c = index_[cell_of(key, hash)];
  inserted = c.slot_plus_1 == kNoSlot;
  if (inserted) {
    uint32_t s;
    if (!free_slots_.empty()) {
      s = free_slots_.back();
      free_slots_.pop_back();
    } else {
      s = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    slots_[s].key.assign(key);
    slots_[s].used = true;
    c = Cell{s + 1, hash};
    ++size_;
  }
  return c.slot_plus_1 - 1;
}

void VersionCache::finish_put(uint32_t s, bool inserted) {
  Slot& slot = slots_[s];
  if (!inserted) bytes_ -= slot.bytes;
  // A new key is marked once found again (then it has been used twice); an updated key
  // was used now.
  slot.referenced = !inserted;
  slot.bytes = bytes_of(slot);
  bytes_ += slot.bytes;
  evict(s);
}

void VersionCache::remove(uint32_t s) {
  Slot& slot = slots_[s];
  std::size_t hole = cell_of(slot.key, hash_of(slot.key));
  bytes_ -= slot.bytes;
  slot.used = false;
  slot.referenced = false;
  slot.key.clear();
  slot.entry = Entry{};
  free_slots_.push_back(s);
  --size_;
  // Backward-shift deletion (linear probing): move later cells of the run into the hole
  // when their home cell is not between the hole and them.
  const std::size_t mask = index_.size() - 1;
  for (std::size_t i = (hole + 1) & mask; index_[i].slot_plus_1 != kNoSlot; i = (i + 1) & mask) {
    const std::size_t home = index_[i].hash & mask;
    if (((i - home) & mask) >= ((i - hole) & mask)) {
      index_[hole] = index_[i];
      hole = i;
    }
  }
  index_[hole] = Cell{};
}

void VersionCache::evict(uint32_t keep) {
  // Each step clears a mark, passes `keep` or a free slot, or evicts: two passes at most.
  while (bytes_ > bytes_max_ && size_ > 0) {
    if (hand_ >= slots_.size()) hand_ = 0;
    Slot& slot = slots_[hand_];
    if (!slot.used) {
      ++hand_;
    } else if (slot.referenced) {
      slot.referenced = false;
      ++hand_;
    } else if (hand_ == keep && size_ > 1) {
      ++hand_;
    } else {
      remove(hand_++);
    }
  }
}

void VersionCache::erase(std::string_view key) {
  if (size_ == 0) return;
  const Cell& c = index_[cell_of(key, hash_of(key))];
  if (c.slot_plus_1 != kNoSlot) remove(c.slot_plus_1 - 1);
}

void VersionCache::clear() {
  slots_.clear();
  free_slots_.clear();
  index_.clear();
  hand_ = 0;
  size_ = 0;
  bytes_ = 0;
}

}  // namespace qkv::node
