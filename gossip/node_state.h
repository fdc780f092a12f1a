// The gossiped state of one node, and the ring table that travels with it.
//
// Every node owns exactly one NodeState (its own) and is the only writer of it. It takes a
// higher `generation` on every process start; within a generation it counts on one clock
// (Cassandra's VersionGenerator): `heartbeat` takes the next value every gossip round and
// at every change of content, and a change of content (status, addresses, zone, ring
// progress) also sets `version` to that value. So version <= heartbeat, and a copy is
// "current from `version` through `heartbeat`": the owner's content did not change between
// the two. Others hold copies and only move them forward: a copy with an older generation
// never replaces a newer one, and within a generation a higher heartbeat moves the copy's
// heartbeat, and its content too when the newer copy's version lies past the old copy's
// heartbeat (gossip_core.h). Splitting the heartbeat from the content version is van
// Renesse, Minsky and Hayden's gossip-style failure detector (1998) and Cassandra's
// HeartBeatState: heartbeats travel as small (id, generation, heartbeat) entries, and full
// states only when the content moved (the scuttlebutt reconciliation of van Renesse et al.
// 2008, with Cassandra's generation on top).
//
// Thread-safety: values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/node_id.h"

namespace qkv::gossip {

// What a node says about itself. (Inside qkv::gossip this name hides qkv::Status, the
// error type: gossip code spells that one qkv::Status.) "Down" is not a status: it is each
// observer's own failure-detector verdict (failure_detector.h), never gossiped. persisted: do not
// renumber (wire format).
enum class Status : uint8_t {
  kJoining = 0,  // started, not yet serving its partitions
  kNormal = 1,   // serving
  kLeaving = 2,  // handing its partitions off before it leaves
  kRemoved = 3,  // gone from the cluster; its state stays so old gossip cannot revive it
};

// "joining", "normal", "leaving", "removed" ("unknown" for a value outside the enum).
std::string_view status_name(Status status);

struct NodeState {
  NodeId id;
  // The node's incarnation as a process: every start must take a higher one than any
  // earlier start with the same id (a restart with the same data dir gets a higher one),
  // or the restarted node's state, whose version starts again at 1, loses to its old one.
  uint64_t generation = 0;
  // The content version: the owner's clock value at its last change of content (status,
  // addresses, zone, ring progress). Heartbeats do not move it.
  uint64_t version = 0;
  std::string peer_address;    // "host:port" other nodes gossip and replicate to
  std::string client_address;  // "host:port" clients connect to
  std::string zone;            // failure domain (rack, availability zone); may be empty
  Status status = Status::kJoining;
  // Ownership transfer progress (node/transfer.h): the version of the ring this node has
  // applied (0: none), and the version of the last ring transition (a RingState with
  // next_owners) for which this node has received every key range it takes over and whose
  // Merkle trees are current (0: none). The claimant completes a transition once every
  // node taking over a range reports it here.
  uint64_t ring_version = 0;
  uint64_t transfers_done = 0;
  // The owner's clock value at its last gossip round or change, whichever is later: bumped
  // once per round (the heartbeat proper) and at every change. >= version; a smaller value
  // (0 from code, or a state from a node before heartbeats were split off) reads as
  // `version` (beat()). Last so that aggregate initializers written before it still work.
  uint64_t heartbeat = 0;
  // "host:port" of its HTTP operations port (metrics, console); empty when it has none or
  // predates it. Content, like the other addresses.
  std::string http_address{};
  // The cluster this node belongs to: its ring's RingState::cluster_id, or, before it has a
  // ring, the one its configured first ring will have (node/first_ring.h); 0 = unknown (a
  // node joining from seeds, or from before cluster ids). Gossip from a node of another
  // cluster is refused (gossip_core.h). Content.
  uint64_t cluster_id = 0;

  // The heartbeat as the ordering uses it: max(heartbeat, version).
  uint64_t beat() const { return heartbeat > version ? heartbeat : version; }

  // True if this state's content supersedes `other`'s: a higher generation wins; within a
  // generation, a higher version. Equal pairs are not newer. Ids are not compared.
  bool newer_than(const NodeState& other) const {
    if (generation != other.generation) return generation > other.generation;
    return version > other.version;
  }

  // True if this state is news about a live node compared with `other`: a higher
  // generation, or within one a higher beat(). What the failure detector counts as a
  // heartbeat arrival.
  bool heartbeat_newer_than(const NodeState& other) const {
    if (generation != other.generation) return generation > other.generation;
    return beat() > other.beat();
  }

  // True if `other` differs in what subscribers react to: generation (a restart), status,
  // addresses, zone or transfer progress. A heartbeat (only version or heartbeat moved) is
  // not.
  bool differs_in_substance(const NodeState& other) const;

  friend bool operator==(const NodeState&, const NodeState&) = default;
};

// The partition-owner table (owners[p] owns partition p; n = replicas per key). Opaque to
// gossip: node/ turns it into a ring::Ring (gossip and ring never include each other).
// A ring with a higher version replaces the current one; equal versions keep the current
// one, so two different tables must never be issued under one version (node/ issues ring
// changes from one place, the claimant).
//
// Identity (gossip/ring_identity.h): `cluster_id` is fixed when a cluster's first ring is
// made and every later version carries it, so rings of two clusters never compete by
// version; ring_hash() of the content tells two tables issued under one version apart.
struct RingState {
  uint64_t version = 0;  // 0: no ring yet
  uint32_t n = 0;        // replicas per key
  std::vector<NodeId> owners;
  // A transition in progress (an operator's committed plan): the owner table the ring moves
  // to once every range is copied to its new primaries; empty when none is.
  std::vector<NodeId> next_owners;
  // The one node that issues ring versions (Riak's claimant): it applies staged changes at
  // commit and completes transitions (node/claimant.h).
  NodeId claimant;
  // The cluster's id (ring_identity.h first_cluster_id), copied into every later version;
  // 0 = unknown (a ring from before cluster ids): compatible with every cluster.
  uint64_t cluster_id = 0;
  // Members the transition in progress removes without a handoff (qkvctl node remove: they
  // are lost, their disks gone): they are in `owners`, not in `next_owners`, and are never a
  // transfer source; their ranges are copied from the surviving replicas. Sorted; empty
  // without a transition. Last so that aggregate initializers written before it still work.
  std::vector<NodeId> removed{};

  bool newer_than(const RingState& other) const { return version > other.version; }

  friend bool operator==(const RingState&, const RingState&) = default;
};

}  // namespace qkv::gossip
