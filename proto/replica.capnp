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
}

struct ReplicaReadReply {
  status @0 :Common.Status;
  found @1 :Bool;
  state @2 :Common.SiblingSet;
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
  }
}
