# Replica API: node-to-node messages on the peer port.
# Every message names its sender; replies carry the requestId of their request.
@0xa6371e5d460c1cbb;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("qkv::wire");

using Common = import "common.capnp";
using Client = import "client.capnp";
using Gossip = import "gossip.capnp";

struct ReplicaRead {
  key @0 :Data;
  withHints @1 :Bool;   # asked as a fallback: answer with the hints held for the key joined in
  digestOnly @2 :Bool;  # answer with the state's digest, not the state (older nodes: the state)
}

struct ReplicaReadReply {
  status @0 :Common.Status;
  found @1 :Bool;
  state @2 :Common.SiblingSet;
  hasDigest @3 :Bool;   # a digest answer: digestHigh/Low, not found/state
  digestHigh @4 :UInt64;
  digestLow @5 :UInt64;
}

# The coordinator's whole merged state of the key; the replica joins it into its own.
struct ReplicaWrite {
  key @0 :Data;
  state @1 :Common.SiblingSet;
  hintFor @2 :Text;     # set when the receiver is a fallback: keep it as a hint for this node
}

struct ReplicaWriteAck {
  status @0 :Common.Status;
}

# Tombstone reaping: remove the key if its state is still exactly `state` (not answered).
struct ReplicaReap {
  key @0 :Data;
  state @1 :Common.SiblingSet;
}

# Anti-entropy (node/wire/peer_message.h).
struct Hash128 {
  lo @0 :UInt64;
  hi @1 :UInt64;
}

struct TreeRequest {
  partition @0 :UInt32;
  segments @1 :UInt32;
  level @2 :UInt32;
  indices @3 :List(UInt32);
}

struct TreeReply {
  status @0 :Common.Status;
  hashes @1 :List(Hash128);
}

struct SegmentRequest {
  partition @0 :UInt32;
  segments @1 :UInt32;
  segmentIds @2 :List(UInt32);
}

struct SegmentEntry {
  key @0 :Data;
  hash @1 :Hash128;
}

struct SegmentReply {
  status @0 :Common.Status;
  segmentsIncluded @1 :UInt32;
  entries @2 :List(SegmentEntry);
}

struct KeysRequest {
  partition @0 :UInt32;
  keys @1 :List(Data);
}

struct KeyState {
  key @0 :Data;
  found @1 :Bool;
  state @2 :Common.SiblingSet;
}

struct KeysReply {
  status @0 :Common.Status;
  keysIncluded @1 :UInt32;
  states @2 :List(KeyState);
}

# Ownership transfer (node/transfer.h): the receiver of a key range pulls it from an old
# replica in (token, key) order, one batch per request.
struct TransferRequest {
  partition @0 :UInt32;     # the key range (keys whose token is in this partition)
  ringVersion @1 :UInt64;   # the transition the receiver pulls for
  hasCursor @2 :Bool;       # false: from the start of the range
  afterToken @3 :UInt64;    # the last entry received: the batch starts after it
  afterKey @4 :Data;
  bytesMax @5 :UInt32;      # stop adding entries past this many bytes (at least one entry)
}

struct TransferReply {
  status @0 :Common.Status;
  states @1 :List(KeyState);  # in (token, key) order; found is always true
  done @2 :Bool;              # the range ends with this batch
}

struct PeerMessage {
  from @0 :Text;
  requestId @1 :UInt64;
  union {
    replicaRead @2 :ReplicaRead;
    replicaReadReply @3 :ReplicaReadReply;
    replicaWrite @4 :ReplicaWrite;
    replicaWriteAck @5 :ReplicaWriteAck;
    forward @6 :Client.ClientRequest;       # a client request sent on to a primary
    forwardReply @7 :Client.ClientResponse;
    gossipSyn @8 :Gossip.GossipSyn;
    gossipAck @9 :Gossip.GossipAck;
    gossipAck2 @10 :Gossip.GossipAck2;
    treeRequest @11 :TreeRequest;
    treeReply @12 :TreeReply;
    segmentRequest @13 :SegmentRequest;
    segmentReply @14 :SegmentReply;
    keysRequest @15 :KeysRequest;
    keysReply @16 :KeysReply;
    transferRequest @17 :TransferRequest;
    transferReply @18 :TransferReply;
    ping @20 :Void;  # a link liveness probe (net/peer_links.h), answered on its connection
    pong @21 :Void;  # requestId: the ping's
    replicaReap @22 :ReplicaReap;
  }
  # With a request (forward, replicaRead, replicaWrite): its absolute deadline (unix ms at
  # the sender; 0: none). A receiver whose clock is past it by more than clock_skew_max_ms
  # drops the request unanswered: its sender has given up on it already.
  deadlineUnixMs @19 :UInt64;
}
