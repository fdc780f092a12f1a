// VersionCache: the committed states of recently written keys without their values
// (causal::StateSummary), and with anti-entropy on their Merkle tree entries — so that
// Replica (node/replica.h) applies most writes without reading the stored state: a
// replica write that has seen every stored sibling, and a coordinated put whose context
// covers them, need only the summary (issue 17: the read before every write was a fifth
// of a node's CPU).
//
// Exact, not a hint: an entry is the key's committed state. Replica puts an entry after
// each successful commit of the key (a failed commit leaves the store and the entry as
// they were), drops it when the key is removed (a reaped tombstone), and the node clears
// the cache when it deletes ranges; nothing else writes data (storage/storage.h). A key
// that is not here is read from storage as before.
//
// Bounded: at most `bytes_max` bytes (keys, summaries and the table itself, estimated).
// Eviction is CLOCK (second chance, as in operating systems' page caches): a find or an
// update marks its entry referenced; to make room a hand sweeps the entries, clearing marks
// and evicting the first entry found unmarked (never the one just put, unless it alone
// exceeds the budget). It approximates least-recently-used with no list beside the table,
// so a find writes only its own entry (docs/performance.md, "What was tried"). 0 turns the
// cache off.
//
// Layout: the entries sit in one array (slots, reused when freed), indexed by an
// open-addressing table of (slot, key hash) pairs with linear probing, kept at most half
// full; a find reads one or two table cells and its slot, where a node-based hash map
// reads a bucket, the node before its own and its own. The clock hand walks the slots.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "antientropy/merkle_tree.h"
#include "causal/state_summary.h"

namespace qkv::node {

class VersionCache {
 public:
  struct Entry {
    causal::StateSummary summary;
    std::optional<antientropy::Hash128> tree_entry;  // the state's entry_hash, if tracked
  };

  explicit VersionCache(std::size_t bytes_max) : bytes_max_(bytes_max) {}
  VersionCache(const VersionCache&) = delete;
  VersionCache& operator=(const VersionCache&) = delete;

  // The key's entry, or null; marks it recently used. Valid until the next put or clear.
  const Entry* find(std::string_view key);
  // Sets the key's entry (its committed state now), then evicts down to bytes_max.
  void put(std::string_view key, Entry entry);
  // put(key, Entry{StateSummary::of(std::move(state)), tree_entry}), with the summary
  // built in the key's entry, if it has one, reusing its buffers (a commit's common case).
  void put(std::string_view key, causal::SiblingSet&& state,
           std::optional<antientropy::Hash128> tree_entry);
  // Drops the key's entry, if any (the key was removed from storage).
  void erase(std::string_view key);
  void clear();

  std::size_t size() const { return size_; }
  std::size_t bytes() const { return bytes_; }

 private:
  struct Slot {
    std::string key;
    Entry entry;
    std::size_t bytes = 0;
    bool used = false;        // false: free, on free_slots_
    bool referenced = false;  // found (or updated) since the hand last passed
  };
  // A cell of the index: the slot's number + 1 (0: an empty cell) and the key's hash, whose
  // low bits give its home cell; probes compare it before the key, so other keys are
  // told apart without reading their slot, and a rehash reads no key.
  struct Cell {
    uint32_t slot_plus_1 = 0;
    uint32_t hash = 0;
  };
  static uint32_t hash_of(std::string_view key);  // XXH3's low 32 bits
  // The index cell holding `key`, or the empty cell where it would go.
  std::size_t cell_of(std::string_view key, uint32_t hash) const;
  std::size_t bytes_of(const Slot& slot) const;
  void grow_index();
  // The slot for `key`, a new one if absent (`inserted`); the entry is then set by the
  // caller and finish_put() called.
  uint32_t slot_for(std::string_view key, bool& inserted);
  void finish_put(uint32_t s, bool inserted);
  // Frees slot `s` and its index cell (backward-shift deletion, so probes stay unbroken).
  void remove(uint32_t s);
  // Evicts entries at the hand until bytes_ <= bytes_max_; slot `keep` (the entry just
  // put) only if it is the last one left.
  void evict(uint32_t keep);

  std::size_t bytes_max_;
  std::size_t bytes_ = 0;
  std::size_t size_ = 0;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<Cell> index_;  // a power of two cells, or none before the first put
  uint32_t hand_ = 0;        // the clock hand: the next slot to look at
};

}  // namespace qkv::node
