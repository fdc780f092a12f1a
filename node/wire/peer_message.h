// Node-to-node messages as C++ values (wire form: proto/replica.capnp; codec: replica_codec.h).
//
// Replica API: a coordinator sends ReplicaRead / ReplicaWrite to the replicas of a key and
// they answer with ReplicaReadReply / ReplicaWriteAck carrying the same request_id.
// Forwarding: a node that is not a primary of a key sends the client's request to a
// primary as Forward and relays the ForwardReply.
// Anti-entropy (node/anti_entropy.h): an exchange compares one partition's Merkle trees
// level by level (TreeRequest), then the entries of the differing segments
// (SegmentRequest), then fetches the differing keys' states (KeysRequest); the repairs go
// back as ordinary ReplicaWrites.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "antientropy/merkle_tree.h"
#include "causal/sibling_set.h"
#include "causal/state_summary.h"
#include "common/node_id.h"
#include "common/status.h"
#include "gossip/messages.h"
#include "proto/client_api.h"

namespace qkv::node {

// A coordinator's read of the receiver's copy of a key. With `with_hints` the receiver is
// asked as a fallback standing in for a primary (sloppy read, Dynamo §4.6): it answers
// with the join of its copy and every hint it holds for the key. A node older than the
// field answers with its copy alone. With `digest_only` it answers with the digest of its
// copy (causal::StateSummary::digest; Cassandra's digest reads) instead of the copy: a
// node older than that field answers with its copy, which the coordinator takes as well.
struct ReplicaRead {
  std::string key;
  bool with_hints = false;
  bool digest_only = false;
};

struct ReplicaReadReply {
  Status status;                            // ok (found or not), or the replica's storage error
  std::optional<causal::SiblingSet> state;  // nullopt: the replica holds nothing for the key
  // Set: a digest answer (state is nullopt); the digest of a key held nowhere is
  // StateSummary().digest().
  std::optional<causal::StateSummary::Digest> digest;
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

// Tombstone reaping (node/reaper.h): the key's first primary asks each primary to remove
// its copy of the key if it is still exactly `state`. Not answered (request_id 0).
struct ReplicaReap {
  std::string key;
  causal::SiblingSet state;
};

// A client request sent on to a primary (it carries a deadline: see PeerMessage).
struct Forward {
  proto::ClientRequest request;
};

struct ForwardReply {
  proto::ClientResponse response;
};

// The hashes of nodes `indices` of `level` of the receiver's tree of `partition`, which
// must have `segments` leaves (trees of different shapes cannot be compared).
struct TreeRequest {
  uint32_t partition = 0;
  uint32_t segments = 0;
  uint32_t level = 0;
  std::vector<uint32_t> indices;
};

// Errors: unavailable when the tree is not built yet, invalid_argument for another shape
// or a partition the receiver does not replicate.
struct TreeReply {
  Status status;
  std::vector<antientropy::Hash128> hashes;  // one per requested index, in order
};

// The entries (key, entry hash) of the receiver's `segment_ids` of `partition`.
struct SegmentRequest {
  uint32_t partition = 0;
  uint32_t segments = 0;
  std::vector<uint32_t> segment_ids;
};

// The entries of the first `segments_included` requested segments (the rest did not fit
// in one reply: ask again for them).
struct SegmentReply {
  Status status;
  uint32_t segments_included = 0;
  std::vector<antientropy::SegmentEntry> entries;
};

// The receiver's states of `keys` (all in `partition`).
struct KeysRequest {
  uint32_t partition = 0;
  std::vector<std::string> keys;
};

struct KeyState {
  std::string key;
  std::optional<causal::SiblingSet> state;  // nullopt: the receiver holds nothing for it
};

// The states of the first `keys_included` requested keys (the rest: ask again).
struct KeysReply {
  Status status;
  uint32_t keys_included = 0;
  std::vector<KeyState> states;
};

// Ownership transfer (node/transfer.h): the next batch of key range `partition` after the
// cursor (none: from the start), in (token, key) order, for the transition `ring_version`.
struct TransferRequest {
  uint32_t partition = 0;
  uint64_t ring_version = 0;
  std::optional<std::pair<ring::Token, std::string>> after;
  uint32_t bytes_max = 0;
};

// Errors: invalid_argument when the sender does not replicate the range, unavailable when
// it has not seen the transition yet. `states` hold only found keys.
struct TransferReply {
  Status status;
  std::vector<KeyState> states;
  bool done = false;
};

// Membership gossip, handed to the gossip core by the driver (never to node::Node).
struct Gossip {
  gossip::Message message;
};

// Link liveness probes (net/peer_links.h), handled by the driver (never by node::Node): a
// ping is answered with a pong of the same request_id on the connection it came in on.
struct LinkPing {};
struct LinkPong {};

using PeerBody = std::variant<ReplicaRead, ReplicaReadReply, ReplicaWrite, ReplicaWriteAck, Forward,
                              ForwardReply, Gossip, TreeRequest, TreeReply, SegmentRequest,
                              SegmentReply, KeysRequest, KeysReply, TransferRequest, TransferReply,
                              LinkPing, LinkPong, ReplicaReap>;

struct PeerMessage {
  NodeId from;
  uint64_t request_id = 0;  // the sender's id for a request; the request's id for a reply
  PeerBody body;
  // Requests (Forward, ReplicaRead, ReplicaWrite): when the sender gives up on it (its wall
  // clock, unix ms; 0: never). A receiver drops a request that arrives later than that
  // (node/deadline.h), so a write the client was told may have been applied is never
  // coordinated or applied long after (Cassandra drops late mutations the same way).
  uint64_t deadline_unix_ms = 0;
};

}  // namespace qkv::node
