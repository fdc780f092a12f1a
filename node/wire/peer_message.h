// Node-to-node messages as C++ values (wire form: proto/replica.capnp; codec: replica_codec.h).
//
// Replica API: a coordinator sends ReplicaRead / ReplicaWrite to the replicas of a key and
// they answer with ReplicaReadReply / ReplicaWriteAck carrying the same request_id.
// Forwarding: a node that is not a primary of a key sends the client's request to a
// primary as Forward and relays the ForwardReply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "common/node_id.h"
#include "common/status.h"
#include "gossip/messages.h"
#include "node/causal/sibling_set.h"
#include "proto/client_api.h"

namespace qkv::node {

struct ReplicaRead {
  std::string key;
};

struct ReplicaReadReply {
  Status status;                            // ok (found or not), or the replica's storage error
  std::optional<causal::SiblingSet> state;  // nullopt: the replica holds nothing for the key
};

// The coordinator's whole new state of the key, joined into the replica's own state.
// With hint_for set the receiver is a fallback (sloppy quorum, Dynamo §4.6): it keeps the
// state as a hint for that primary and hands it off when the primary is up again.
struct ReplicaWrite {
  std::string key;
  causal::SiblingSet state;
  NodeId hint_for;  // empty: the receiver is a primary of the key
};

struct ReplicaWriteAck {
  Status status;
};

struct Forward {
  proto::ClientRequest request;
};

struct ForwardReply {
  proto::ClientResponse response;
};

// Membership gossip, handed to the gossip core by the driver (never to node::Node).
struct Gossip {
  gossip::Message message;
};

using PeerBody = std::variant<ReplicaRead, ReplicaReadReply, ReplicaWrite, ReplicaWriteAck, Forward,
                              ForwardReply, Gossip>;

struct PeerMessage {
  NodeId from;
  uint64_t request_id = 0;  // the sender's id for a request; the request's id for a reply
  PeerBody body;
};

}  // namespace qkv::node
