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

# Versions within a generation count on one clock per node (gossip/node_state.h): the
# heartbeat moves every gossip round and at every change; a change of content takes that
# value as its content version. `version` @2 is the heartbeat (it has always moved at every
# heartbeat and change, and nodes from before contentVersion order states by it alone);
# `contentVersion` is the content version, 0 when the sender did not set it (a node from
# before it existed, or a relay through one): then it reads as `version`, whose content the
# state holds.
struct NodeState {
  id @0 :Text;
  generation @1 :UInt64;     # grows at every start of the node
  version @2 :UInt64;        # the heartbeat: grows at every round and change in a generation
  peerAddress @3 :Text;
  clientAddress @4 :Text;
  zone @5 :Text;
  status @6 :MemberStatus;
  ringVersion @7 :UInt64;    # the ring version this node has applied
  transfersDone @8 :UInt64;  # the transition whose inbound transfers this node completed
  contentVersion @9 :UInt64; # grows at every change of content; 0: read as `version`
  httpAddress @10 :Text;     # its HTTP operations port; empty: none (or an older node)
  clusterId @11 :UInt64;     # its cluster (gossip/ring_identity.h); 0: unknown (older node)
}

struct Digest {
  id @0 :Text;
  generation @1 :UInt64;
  version @2 :UInt64;        # the heartbeat, as in NodeState
  contentVersion @3 :UInt64; # 0: read as `version`
}

# A member's heartbeat alone: sent where the receiver already holds its content.
struct Heartbeat {
  id @0 :Text;
  generation @1 :UInt64;
  heartbeat @2 :UInt64;
}

struct RingState {
  version @0 :UInt64;        # 0: no ring
  n @1 :UInt32;
  owners @2 :List(Text);     # owners[p] owns partition p
  nextOwners @3 :List(Text); # the table a transition moves to; empty: none
  claimant @4 :Text;         # the node that issues ring versions
  clusterId @5 :UInt64;      # fixed at the first ring, kept by every version; 0: unknown
  removed @6 :List(Text);    # removed without a handoff by the transition (never a source)
}

struct GossipSyn {
  sender @0 :NodeState;
  digests @1 :List(Digest);
  ringVersion @2 :UInt64;
  heartbeatEntries @3 :Bool;   # the sender takes Heartbeat entries (false: an older node)
  ringHash @4 :UInt64;         # ring_hash of the sender's ring; 0: none or an older node
}

struct GossipAck {
  sender @0 :NodeState;
  states @1 :List(NodeState);
  requests @2 :List(Digest);
  hasRing @3 :Bool;
  ring @4 :RingState;
  wantRing @5 :Bool;
  heartbeats @6 :List(Heartbeat);        # only the heartbeat is newer than the Syn's digest
  heartbeatRequests @7 :List(Digest);    # only the Syn sender's heartbeat is newer
  heartbeatEntries @8 :Bool;             # the sender takes Heartbeat entries in the Ack2
  ringVersion @9 :UInt64;                # the sender's ring version; 0: none or an older node
  ringHash @10 :UInt64;                  # ring_hash of the sender's ring; 0: as above
}

struct GossipAck2 {
  states @0 :List(NodeState);
  hasRing @1 :Bool;
  ring @2 :RingState;
  heartbeats @3 :List(Heartbeat);
}
