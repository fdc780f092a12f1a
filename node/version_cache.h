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
// Bounded: at most `bytes_max` bytes (keys, summaries and the containers' own nodes,
// estimated), least recently used entries evicted first. 0 turns the cache off.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstddef>
#include <list>
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

  std::size_t size() const { return index_.size(); }
  std::size_t bytes() const { return bytes_; }

 private:
  struct Slot {
    std::string key;
    Entry entry;
    std::size_t bytes = 0;
  };
  static std::size_t bytes_of(const Slot& slot);

  std::size_t bytes_max_;
  std::size_t bytes_ = 0;
  std::list<Slot> lru_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Slot>::iterator> index_;  // views of Slot::key
};

}  // namespace qkv::node
