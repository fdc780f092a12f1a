# Client API: what qkv::client and qkvctl send to any qkvd's client port.
# Framing: Cap'n Proto's standard stream framing, one message per request/response.
# Responses carry the requestId of their request; several requests may be in flight.
# A response with requestId 0 and an error answers a request the node could not read
# (malformed, or a frame over frame_bytes_max); after a frame error the node closes.
@0xaeba33c68621f6af;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("qkv::wire");

using Common = import "common.capnp";

struct GetRequest {
  key @0 :Data;
  r @1 :UInt8;          # 0 = the node's default
  local @2 :Bool;       # answer from this node's own copy only (a replica-only read)
}

struct PutRequest {
  key @0 :Data;
  value @1 :Data;
  context @2 :Data;     # opaque causal context from an earlier get; empty = none
  w @3 :UInt8;          # 0 = the node's default
  primariesOnly @4 :Bool;  # sloppy=false: W counts primaries only (Riak's PW)
}

struct DeleteRequest {
  key @0 :Data;
  context @1 :Data;
  w @2 :UInt8;
  primariesOnly @3 :Bool;
}

# Runs anti-entropy exchanges now (qkvctl repair), answered by the receiving node itself:
# for every partition it replicates, or only `partition`, with every other primary of it.
struct RepairRequest {
  hasPartition @0 :Bool;  # false: all of the node's partitions (partition is ignored)
  partition @1 :UInt32;
}

struct ClientRequest {
  requestId @0 :UInt64;
  timeoutMs @1 :UInt32; # 0 = the node's default
  union {
    get @2 :GetRequest;
    put @3 :PutRequest;
    delete @4 :DeleteRequest;
    ring @5 :Void;
    nodeStatus @6 :Void;
    members @7 :Void;
    repair @8 :RepairRequest;
  }
}

struct GetResponse {
  values @0 :List(Data);  # one per live sibling; empty when not found
  context @1 :Data;       # pass back on the next put/delete of this key
}

struct RingResponse {
  partitionCount @0 :UInt32;
  n @1 :UInt8;
  owners @2 :List(Text);  # owners[p] owns partition p
}

struct Counter {
  name @0 :Text;
  value @1 :UInt64;
}

# The node's current (or last) repair started by a RepairRequest; all zero when none ran.
struct RepairProgress {
  running @0 :Bool;
  partitionsTotal @1 :UInt32;
  partitionsDone @2 :UInt32;     # finished, successfully or not
  partitionsFailed @3 :UInt32;   # finished with an error (retried by the periodic exchanges)
  keysCompared @4 :UInt64;       # keys in differing segments compared with a peer
  keysRepaired @5 :UInt64;       # keys written on either side
  bytesSent @6 :UInt64;          # anti-entropy bytes this node sent for the repair
  lastError @7 :Text;            # the last failure, empty if none
}

struct PartitionExchange {
  partition @0 :UInt32;
  lastSuccessUnixMs @1 :Int64;   # when it last completed an exchange; 0 = never since start
}

struct StatusResponse {
  nodeId @0 :Text;
  incarnation @1 :UInt64;
  version @2 :Text;
  uptimeMs @3 :UInt64;
  n @4 :UInt8;
  r @5 :UInt8;
  w @6 :UInt8;
  members @7 :List(Text);
  counters @8 :List(Counter);
  repair @9 :RepairProgress;
  exchanges @10 :List(PartitionExchange);  # one per partition the node replicates
}

struct Member {
  id @0 :Text;
  peerAddress @1 :Text;
  clientAddress @2 :Text;
  zone @3 :Text;
  status @4 :Text;        # joining | normal | leaving | removed (what the node says)
  up @5 :Bool;            # the answering node's failure-detector verdict
  phi @6 :Float64;
  incarnation @7 :UInt64;
  partitions @8 :UInt32;  # partitions it owns in the ring
  hintsPending @9 :UInt64;   # hints the answering node holds for it
  hintBytesPending @10 :UInt64;
}

struct MembersResponse {
  members @0 :List(Member);
  ringVersion @1 :UInt64;
}

# The answer to a successful put or delete: the causal context of the state it wrote (as
# Riak's return_head), so a client can write the key again without reading it first.
struct PutResponse {
  context @0 :Data;
}

# A RepairRequest was accepted: `partitions` exchanges were queued (0 when the node
# replicates no such partition). Progress shows in StatusResponse.repair.
struct RepairResponse {
  partitions @0 :UInt32;
}

struct ClientResponse {
  requestId @0 :UInt64;
  status @1 :Common.Status;
  union {
    none @2 :Void;
    get @3 :GetResponse;
    ring @4 :RingResponse;
    nodeStatus @5 :StatusResponse;
    members @6 :MembersResponse;
    put @7 :PutResponse;
    repair @8 :RepairResponse;
  }
}
