// Gossip messages as C++ values: the three-way scuttlebutt exchange (van Renesse et al.,
// "Efficient Reconciliation and Flow Control for Anti-Entropy Protocols", 2008, §3) in the
// shape of Cassandra's GossipDigestSyn / GossipDigestAck / GossipDigestAck2.
//
//   A ── Syn{A's state, digests of every member A knows, A's ring version} ──► B
//   A ◄── Ack{B's state, states B has newer, requests for what A has newer, ring?} ── B
//   A ── Ack2{the requested states, ring if B asked} ──► B          (only if non-empty)
//
// The wire codec (Cap'n Proto) lives outside this module; these are what it decodes to.
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gossip/node_state.h"

namespace qkv::gossip {

// What a node knows about one member: its (generation, version). (0, 0) = nothing.
struct Digest {
  NodeId id;
  uint64_t generation = 0;
  uint64_t version = 0;

  friend bool operator==(const Digest&, const Digest&) = default;
};

struct Syn {
  NodeState sender;             // the sender's own current state (also its heartbeat)
  std::vector<Digest> digests;  // every member the sender knows except itself
  uint64_t ring_version = 0;    // the sender's RingState::version

  friend bool operator==(const Syn&, const Syn&) = default;
};

struct Ack {
  NodeState sender;               // the replier's own state: routes the Ack2, is a heartbeat
  std::vector<NodeState> states;  // newer than the Syn's digests, or unknown to its sender;
                                  // size <= states_per_message_max
  std::vector<Digest> requests;   // members where the Syn's sender is newer (or that the
                                  // replier lacks), with the replier's (generation, version);
                                  // size <= states_per_message_max
  std::optional<RingState> ring;  // the replier's ring, if newer than the Syn's
  bool want_ring = false;         // the Syn's ring version is newer than the replier's

  friend bool operator==(const Ack&, const Ack&) = default;
};

struct Ack2 {
  std::vector<NodeState> states;  // answers to Ack::requests; size <= states_per_message_max
  std::optional<RingState> ring;  // if the Ack asked for it

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
