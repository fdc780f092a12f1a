// The simulation's checker: judges the final state and the history of one run.
//
// Properties (each violation names the seed, the key and the key's trace):
//  - No lost acknowledged write: every acknowledged put is, in the converged final state,
//    a sibling, or causally covered by a write that took effect and whose context
//    included it (directly or through a chain of such writes). Acknowledged deletes and
//    puts stay in effect: no value their context covered comes back.
//  - Convergence: the N primaries of every key hold identical sibling sets, and no other
//    node holds the key (fallbacks keep hints, never the key itself). With ring changes the
//    primaries are those of the final ring.
//  - Ring changes (ring_changes > 0): every node holds (held_ranges()) and stores only the
//    key ranges it replicates in the final ring; a node that left holds and stores nothing.
//  - No spurious siblings / read-your-writes (runs whose faults lose nothing: none, or only
//    delays, duplicates and skew): the solo client writes its own keys by sequential
//    read-modify-writes with R+W>N on primaries (sloppy=false); every read sees its last
//    acknowledged write, and each key ends with exactly one sibling (keys where a solo write went
//    unanswered are skipped).
//  - No resurrected delete: once a key was reaped after an acknowledged delete, no get that
//    starts later returns a value that delete's context covered.
//  - Bounded metadata: a version vector has at most one entry per incarnation of the
//    key's primaries, and only primaries' actors (only primaries coordinate writes). With
//    ring changes: of the nodes that were primaries of the key in some ring of the run.
// What may legitimately be lost: with a destructive event (a wipe, or a machine crash
// losing unsynced writes) a write acknowledged by one replica only (W=1) may be gone, so
// those are not checked in such runs; runs allow one destructive event.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "causal/sibling_set.h"
#include "tests/sim/simulation.h"

namespace qkv::sim {

struct KeyState {
  std::vector<NodeId> primaries;  // in the final ring
  // Every node that was a primary of the key in some ring of the run (owners or next
  // owners of any version), sorted; the final primaries when the ring never changed.
  std::vector<NodeId> ever_primaries;
  std::map<NodeId, std::optional<causal::SiblingSet>> replicas;  // every node's copy
};

// What one node holds at the end of a run with ring changes.
struct NodeHolding {
  bool removed = false;                    // left the ring and exited
  std::set<uint32_t> replicated;           // partitions it is a primary of in the final ring
  std::set<uint32_t> held;                 // the core's held_ranges() (empty once exited)
  std::map<uint32_t, std::size_t> stored;  // partition -> keys in its storage
};

struct FinalState {
  std::map<std::string, KeyState> keys;
  std::map<NodeId, std::size_t> incarnations;  // how many each node used in the run
  std::map<NodeId, NodeHolding> holdings;      // ring changes only
  uint64_t ring_version = 0;                   // of the final ring
  // When each key's first primary sent a reap (node/reaper.h): the key was removed
  // everywhere it was the same tombstone.
  std::map<std::string, std::vector<TimePoint>> reaps;
};

std::vector<std::string> check(const SimConfig& config, const std::vector<Op>& history,
                               const FinalState& state, bool destructive_event,
                               const std::map<std::string, std::vector<std::string>>& key_trace);

}  // namespace qkv::sim
