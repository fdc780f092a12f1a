# Gossip: membership and the ring, spread by scuttlebutt exchanges (gossip/gossip_core.h).
# Rules (design.md §4.9): fields are only added, with new ordinals.
@0xe863946d7913b0e6;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("qkv::wire");

# persisted: do not renumber (mirrors qkv::gossip::Status).
enum MemberStatus {
  joining @0;
  normal @1;
  leaving @2;
  removed @3;
}

struct NodeState {
  id @0 :Text;
  generation @1 :UInt64;     # grows at every start of the node
  version @2 :UInt64;        # grows at every heartbeat and change within a generation
  peerAddress @3 :Text;
  clientAddress @4 :Text;
  zone @5 :Text;
  status @6 :MemberStatus;
  ringVersion @7 :UInt64;    # the ring version this node has applied
  transfersDone @8 :UInt64;  # the transition whose inbound transfers this node completed
}

struct Digest {
  id @0 :Text;
  generation @1 :UInt64;
  version @2 :UInt64;
}

struct RingState {
  version @0 :UInt64;        # 0: no ring
  n @1 :UInt32;
  owners @2 :List(Text);     # owners[p] owns partition p
  nextOwners @3 :List(Text); # the table a transition moves to; empty: none
  claimant @4 :Text;         # the node that issues ring versions
}

struct GossipSyn {
  sender @0 :NodeState;
  digests @1 :List(Digest);
  ringVersion @2 :UInt64;
}

struct GossipAck {
  sender @0 :NodeState;
  states @1 :List(NodeState);
  requests @2 :List(Digest);
  hasRing @3 :Bool;
  ring @4 :RingState;
  wantRing @5 :Bool;
}

struct GossipAck2 {
  states @0 :List(NodeState);
  hasRing @1 :Bool;
  ring @2 :RingState;
}
