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
// Bounded: at most `bytes_max` bytes (keys, summaries and the table's own nodes,
// estimated). Eviction is CLOCK (second chance, as in operating systems' page caches): a
// find or an update marks its entry referenced; to make room a hand sweeps the entries,
// clearing marks and evicting the first entry found unmarked (never the one just put,
// unless it alone exceeds the budget). It approximates least-recently-used with one table
// node per key and no list beside it, so an entry is smaller and a find writes only its
// own node (docs/performance.md, "What was tried"). 0 turns the cache off.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

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
  // Drops the key's entry, if any (the key was removed from storage).
  void erase(std::string_view key);
  void clear();

  std::size_t size() const { return table_.size(); }
  std::size_t bytes() const { return bytes_; }

 private:
  struct Slot {
    Entry entry;
    std::size_t bytes = 0;
    bool referenced = false;  // found (or updated) since the hand last passed
  };
  struct KeyHash {  // lets find() take a string_view (C++20 heterogeneous lookup)
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };
  using Table = std::unordered_map<std::string, Slot, KeyHash, std::equal_to<>>;
  static std::size_t bytes_of(const std::string& key, const Slot& slot);
  // Evicts entries at the hand until bytes_ <= bytes_max_; `keep` (the entry just put)
  // only if it is the last one left.
  void evict(Table::iterator keep);

  std::size_t bytes_max_;
  std::size_t bytes_ = 0;
  Table table_;
  // The clock hand: the next entry to look at (end() = wrap to begin()). A rehash
  // invalidates it, so it is valid only while table_ has hand_buckets_ buckets.
  Table::iterator hand_ = table_.end();
  std::size_t hand_buckets_ = 0;
};

}  // namespace qkv::node
