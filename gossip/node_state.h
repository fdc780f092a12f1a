// The gossiped state of one node, and the ring table that travels with it.
//
// Every node owns exactly one NodeState (its own) and is the only writer of it: it bumps
// `version` on every heartbeat and every change, and takes a higher `generation` on every
// process start. Others hold copies and replace a copy only with a newer one (newer_than),
// so stale gossip never overwrites fresh state: the (generation, version) pair is the
// scuttlebutt version of van Renesse et al. 2008, with Cassandra's generation on top.
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
  // Bumped by the owner on every heartbeat (once per gossip round) and every change.
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

  // True if this state supersedes `other`: a higher generation wins; within a
  // generation, a higher version. Equal pairs are not newer. Ids are not compared.
  bool newer_than(const NodeState& other) const {
    if (generation != other.generation) return generation > other.generation;
    return version > other.version;
  }

  // True if `other` differs in what subscribers react to: generation (a restart), status,
  // addresses, zone or transfer progress. A pure heartbeat (only the version moved) is not.
  bool differs_in_substance(const NodeState& other) const;

  friend bool operator==(const NodeState&, const NodeState&) = default;
};

// The partition-owner table (owners[p] owns partition p; n = replicas per key). Opaque to
// gossip: node/ turns it into a ring::Ring (gossip and ring never include each other).
// A ring with a higher version replaces the current one; equal versions keep the current
// one, so two different tables must never be issued under one version (node/ issues ring
// changes from one place, the claimant).
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

  bool newer_than(const RingState& other) const { return version > other.version; }

  friend bool operator==(const RingState&, const RingState&) = default;
};

}  // namespace qkv::gossip
