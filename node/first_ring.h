// When a fresh initial member makes its cluster's first ring (issue 15).
//
// A node configured with `members` (this node among them) and an empty data directory holds
// the first ring those members define (host.h first_ring: version 1, its cluster id derived
// from the members, gossip/ring_identity.h) but does not make it at once: first it gossips
// with the other members (they are its seeds) and learns what they hold.
//   - One of them holds a ring of the same cluster (a wiped disk, a late starter): gossip
//     brings that ring, which is adopted like any newer ring; the configured one is dropped.
//   - One of them is of another cluster (the members this node was given are not the ones
//     the running cluster was made from: a StatefulSet scaled with a new member list, a
//     typo): gossip refuses it and this node refuses to start (Membership::fatal(), qkvd
//     exits 2). It never made a ring, so it never served a competing one. Such a node joins
//     the running cluster with seeds only, then `qkvctl node join`.
//   - Every other member is known and none holds a ring (a brand-new cluster, all starting
//     together): the first ring is made. All compute the same table and id, so they agree
//     without talking.
//   - Not all of them were heard of within kFirstRingWaitRounds gossip intervals and none
//     of those heard of holds a ring (a cluster whose members start one after the other, as
//     a StatefulSet with OrderedReady does): the first ring is made anyway; a ring of
//     another cluster met later is refused and reported, no longer fatal (gossip_core.h).
// Cassandra's bootstrapping node waits for gossip to settle likewise before it picks
// tokens; Riak's joining node drops its own ring for the cluster's.
//
// Pure: the caller (Membership) passes gossip's member view and the time waited.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/node_id.h"
#include "gossip/gossip_core.h"
#include "gossip/node_state.h"

namespace qkv::node {

// How long a fresh initial member waits to hear of every other initial member before it
// makes the first ring anyway, in gossip intervals.
inline constexpr int64_t kFirstRingWaitRounds = 10;

struct FirstRingStep {
  bool create = false;      // make the first ring now
  bool waited_out = false;  // create, though not every other member was heard of
  // The other initial members not heard of yet, or heard of holding a ring (which gossip
  // is about to bring); sorted.
  std::vector<NodeId> waiting_for;
};

// REQUIRES: `first` is a first ring (version 1). `members` is gossip's view (self
// included); `waited` how long since the node started waiting.
FirstRingStep first_ring_step(const gossip::RingState& first, const NodeId& self,
                              const std::map<NodeId, gossip::NodeState>& members, Duration waited,
                              Duration wait_max);

// The distinct owners of a ring (and of its next table), sorted, comma-separated: how log
// lines and errors name a ring's members.
std::string ring_members_text(const gossip::RingState& ring);

// The error a fresh initial member stops with when it met `seen`, a node of another
// cluster: names the peer, both clusters, the ring it met and what to do.
Status first_ring_refusal(const gossip::Sighting& seen, const gossip::RingState& first);

}  // namespace qkv::node
