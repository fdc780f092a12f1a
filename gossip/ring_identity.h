// Which cluster a ring belongs to, and which table it is (issue 15: a node given `members`
// that differed from the running cluster's built a version-1 ring of its own beside the
// cluster's version 1, and neither replaced the other).
//
// - The cluster id is fixed when a cluster's first ring is made and travels in every later
//   version (RingState::cluster_id). It is derived, not drawn: the initial members start at
//   once and must agree on it without talking, so it is XXH3-64 of the sorted member ids,
//   the partition count and n — the inputs of the first claim. Two clusters made from
//   different member lists get different ids; a ring of another cluster is refused, never
//   compared by version (Cassandra refuses gossip across cluster names, Riak ring merges
//   across clusters).
// - The content hash (ring_hash) is XXH3-64 of the version, n, owners, next owners,
//   claimant and removed members: two tables under one version of one cluster — which a
//   correct cluster never issues (only the claimant writes versions) — are told apart and
//   reported.
//
// Both values are pinned by tests: the cluster id is saved with the ring and recomputed by
// every fresh initial member, and the hash is compared between nodes of different releases.
// 0 means unknown in both (a ring from before cluster ids, or no ring): it matches anything.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "common/node_id.h"
#include "gossip/node_state.h"

namespace qkv::gossip {

// The id of the cluster whose first ring the `members` (in any order; repeats count once)
// make with `partitions` and `n`. Never 0.
uint64_t first_cluster_id(std::vector<NodeId> members, uint32_t partitions, uint32_t n);

// The content hash of `ring` (cluster_id excluded: it is compared on its own, and a ring
// from before cluster ids must hash as the same table). 0 for version 0 (no ring); never 0
// otherwise.
uint64_t ring_hash(const RingState& ring);

// True unless both ids are known and differ.
inline bool same_cluster(uint64_t a, uint64_t b) {
  return a == 0 || b == 0 || a == b;
}

}  // namespace qkv::gossip
