// The simulation's checker: judges the final state and the history of one run.
//
// Properties (each violation names the seed, the key and the key's trace):
//  - No lost acknowledged write: every acknowledged put is, in the converged final state,
//    a sibling, or causally covered by a write that took effect and whose context
//    included it (directly or through a chain of such writes). Acknowledged deletes and
//    puts stay in effect: no value their context covered comes back.
//  - Convergence: the N primaries of every key hold identical sibling sets, and no other
//    node holds the key (no sloppy quorum exists yet).
//  - No spurious siblings / read-your-writes (runs whose faults lose nothing: none, or only
//    delays, duplicates and skew): the solo client writes its own keys by sequential
//    read-modify-writes with R+W>N on primaries (sloppy=false); every read sees its last
//    acknowledged write, and each key ends with exactly one sibling (keys where a solo write went
//    unanswered are skipped).
//  - Bounded metadata: a version vector has at most one entry per incarnation of the
//    key's primaries, and only primaries' actors (only primaries coordinate writes).
// What may legitimately be lost: with a destructive event (a wipe, or a machine crash
// losing unsynced writes) a write acknowledged by one replica only (W=1) may be gone, so
// those are not checked in such runs; runs allow one destructive event.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/causal/sibling_set.h"
#include "tests/sim/simulation.h"

namespace qkv::sim {

struct KeyState {
  std::vector<NodeId> primaries;
  std::map<NodeId, std::optional<causal::SiblingSet>> replicas;  // every node's copy
};

struct FinalState {
  std::map<std::string, KeyState> keys;
  std::map<NodeId, std::size_t> incarnations;  // how many each node used in the run
};

std::vector<std::string> check(const SimConfig& config, const std::vector<Op>& history,
                               const FinalState& state, bool destructive_event,
                               const std::map<std::string, std::vector<std::string>>& key_trace);

}  // namespace qkv::sim
