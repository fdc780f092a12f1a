// Gossip messages as C++ values: the three-way scuttlebutt exchange (van Renesse et al.,
// "Efficient Reconciliation and Flow Control for Anti-Entropy Protocols", 2008, §3) in the
// shape of Cassandra's GossipDigestSyn / GossipDigestAck / GossipDigestAck2, with
// heartbeats apart from content (van Renesse, Minsky and Hayden, "A Gossip-Style Failure
// Detection Service", 1998; Cassandra's HeartBeatState):
//
//   A ── Syn{A's state, a digest (generation, version, heartbeat) of every member A knows,
//            A's ring version} ──► B
//   A ◄── Ack{B's state, full states where B's content is newer, heartbeat entries where
//             only B's heartbeat is, requests for what A has newer, ring?} ── B
//   A ── Ack2{the requested states and heartbeat entries, ring if B asked} ──► B
//                                                                    (only if non-empty)
//
// Both senders' states name their cluster (NodeState::cluster_id) and Syn and Ack carry
// the hash of their sender's ring: a node of another cluster gets only a bare Ack (the
// replier's state and ring, so it sees what it met) and nothing of it is merged
// (gossip_core.h).
//
// Every member's heartbeat moves every round, its content seldom: heartbeat entries are a
// few bytes each and bounded by heartbeats_per_message_max (as large as the membership by
// default), full states by the much smaller states_per_message_max, so every heartbeat
// news fits in one exchange however large the cluster. A peer from before heartbeat
// entries existed (heartbeat_entries false: its decoder drops them) gets full states
// instead, as it always did.
//
// The wire codec (Cap'n Proto, node/wire/gossip_codec.h) lives outside this module; these
// are what it decodes to. Thread-safety: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gossip/node_state.h"

namespace qkv::gossip {

// What a node knows about one member: its (generation, version, heartbeat) (node_state.h).
// (0, 0, 0) = nothing. A heartbeat below the version (0 from code that sets only the
// version, or from a node before heartbeats were split off) reads as the version.
struct Digest {
  NodeId id;
  uint64_t generation = 0;
  uint64_t version = 0;
  uint64_t heartbeat = 0;

  friend bool operator==(const Digest&, const Digest&) = default;
};

// A heartbeat alone: the member `id` of `generation` was alive at `heartbeat`. Sent only
// where the receiver's copy (as its digest or request showed) holds the same content, so
// the receiver moves its copy's heartbeat and nothing else.
struct Heartbeat {
  NodeId id;
  uint64_t generation = 0;
  uint64_t heartbeat = 0;

  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

struct Syn {
  NodeState sender;               // the sender's own current state (also its heartbeat)
  std::vector<Digest> digests;    // every member the sender knows except itself
  uint64_t ring_version = 0;      // the sender's RingState::version
  bool heartbeat_entries = true;  // the sender takes Heartbeat entries (false: an old node)
  // ring_hash() of the sender's ring (0: none, or a node from before it): a receiver holding
  // another table under the same version and cluster reports a ring conflict.
  uint64_t ring_hash = 0;

  friend bool operator==(const Syn&, const Syn&) = default;
};

struct Ack {
  NodeState sender;               // the replier's own state: routes the Ack2, is a heartbeat
  std::vector<NodeState> states;  // content newer than the Syn's digests, or unknown to its
                                  // sender; size <= states_per_message_max
  std::vector<Digest> requests;   // members where the Syn's sender has newer content (or
                                  // that the replier lacks), with the replier's digest;
                                  // size <= states_per_message_max
  std::optional<RingState> ring;  // the replier's ring, if newer than the Syn's
  bool want_ring = false;         // the Syn's ring version is newer than the replier's
  // Members where only the heartbeat is newer than the Syn's digest; size <=
  // heartbeats_per_message_max.
  std::vector<Heartbeat> heartbeats{};
  // Members where only the Syn sender's heartbeat is newer, with the replier's digest;
  // size <= heartbeats_per_message_max.
  std::vector<Digest> heartbeat_requests{};
  bool heartbeat_entries = true;  // the replier takes Heartbeat entries in the Ack2
  // The replier's ring version and ring_hash() (0: unknown, a node from before them), so the
  // Syn's sender sees a conflicting table under its own version too.
  uint64_t ring_version = 0;
  uint64_t ring_hash = 0;

  friend bool operator==(const Ack&, const Ack&) = default;
};

struct Ack2 {
  std::vector<NodeState> states;  // answers to Ack::requests; size <= states_per_message_max
  std::optional<RingState> ring;  // if the Ack asked for it
  // Answers where only the heartbeat is newer; size <= heartbeats_per_message_max.
  std::vector<Heartbeat> heartbeats{};

  friend bool operator==(const Ack2&, const Ack2&) = default;
};

using Message = std::variant<Syn, Ack, Ack2>;

// A message to send. `address` is the target's peer_address (or a seed address).
struct Outgoing {
  std::string address;
  Message message;

  friend bool operator==(const Outgoing&, const Outgoing&) = default;
};

}  // namespace qkv::gossip
