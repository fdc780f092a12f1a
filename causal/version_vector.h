// Actors, dots and version vectors for dotted version vectors (Preguiça et al.,
// "Dotted Version Vectors: Logical Clocks for Optimistic Replication", 2010; Riak 2's dvvset).
//
// An actor is a node *and* the incarnation of its data directory: a node whose disk was
// wiped, or that restarted after losing unsynced writes, gets a new incarnation and so
// never reuses a dot it issued before (Riak's kv679 data-loss bug).
// Values; thread-safety as for any value type.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/node_id.h"

namespace qkv::causal {

struct Actor {
  NodeId node;
  uint64_t incarnation = 0;
  friend auto operator<=>(const Actor&, const Actor&) = default;
  friend bool operator==(const Actor&, const Actor&) = default;
};

// One event: the counter-th write coordinated by actor.
struct Dot {
  Actor actor;
  uint64_t counter = 0;  // >= 1
  friend auto operator<=>(const Dot&, const Dot&) = default;
  friend bool operator==(const Dot&, const Dot&) = default;
};

// A map actor -> counter (missing = 0), kept sorted by actor so equal vectors compare
// and encode equal. Size is bounded by the actors that ever coordinated a write of the
// key: at most N primaries times their incarnations.
class VersionVector {
 public:
  struct Entry {
    Actor actor;
    uint64_t counter = 0;
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  VersionVector() = default;
  // Entries in any order; zero counters dropped; duplicate actors keep the max.
  explicit VersionVector(std::vector<Entry> entries);

  uint64_t get(const Actor& actor) const;  // 0 if absent
  // Raises actor's counter to at least `counter`.
  void raise(const Actor& actor, uint64_t counter);
  // True if this vector has seen the dot: get(dot.actor) >= dot.counter.
  bool covers(const Dot& dot) const;
  // this >= other pointwise.
  bool descends(const VersionVector& other) const;
  // Neither descends the other.
  bool concurrent(const VersionVector& other) const;
  // Pointwise max (the join of the lattice).
  static VersionVector merge(const VersionVector& a, const VersionVector& b);

  const std::vector<Entry>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  friend bool operator==(const VersionVector&, const VersionVector&) = default;

 private:
  std::vector<Entry> entries_;  // sorted by actor, counters > 0
};

}  // namespace qkv::causal
