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
}

struct PutRequest {
  key @0 :Data;
  value @1 :Data;
  context @2 :Data;     # opaque causal context from an earlier get; empty = none
  w @3 :UInt8;          # 0 = the node's default
}

struct DeleteRequest {
  key @0 :Data;
  context @1 :Data;
  w @2 :UInt8;
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
}

struct ClientResponse {
  requestId @0 :UInt64;
  status @1 :Common.Status;
  union {
    none @2 :Void;
    get @3 :GetResponse;
    ring @4 :RingResponse;
    nodeStatus @5 :StatusResponse;
  }
}
