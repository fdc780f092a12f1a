// The client API as C++ values (the wire form is proto/client.capnp; see client_codec.h).
// Used by qkvd, the client SDK and qkvctl. The causal context is opaque bytes here:
// only qkvd decodes it (node/wire/context_codec.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/node_id.h"
#include "common/status.h"

namespace qkv::proto {

struct GetRequest {
  std::string key;
  uint8_t r = 0;       // 0 = the node's default
  bool local = false;  // this node's own copy only, no quorum (diagnostics, tests)
};

struct PutRequest {
  std::string key;
  std::string value;
  std::string context;  // opaque; empty = no causal context (the write is concurrent with all)
  uint8_t w = 0;
  bool primaries_only = false;  // sloppy=false: W counts primaries only (Riak's PW)
};

struct DeleteRequest {
  std::string key;
  std::string context;
  uint8_t w = 0;
  bool primaries_only = false;
};

struct RingRequest {};
struct StatusRequest {};
struct MembersRequest {};

using ClientOp =
    std::variant<GetRequest, PutRequest, DeleteRequest, RingRequest, StatusRequest, MembersRequest>;

struct ClientRequest {
  uint64_t request_id = 0;
  uint32_t timeout_ms = 0;  // 0 = the node's default
  ClientOp op;
};

struct GetResponse {
  std::vector<std::string> values;  // live siblings; empty when not found
  std::string context;
};

// A successful put or delete: the causal context of what it wrote (covers the new value and
// every sibling the request's context superseded). Pass it to the next put/delete of the key.
struct PutResponse {
  std::string context;
};

struct RingResponse {
  uint32_t partition_count = 0;
  uint8_t n = 0;
  std::vector<NodeId> owners;  // owners[p] owns partition p
};

struct StatusResponse {
  NodeId node_id;
  uint64_t incarnation = 0;
  std::string version;
  uint64_t uptime_ms = 0;
  uint8_t n = 0, r = 0, w = 0;
  std::vector<NodeId> members;
  std::vector<std::pair<std::string, uint64_t>> counters;
};

struct MemberInfo {
  NodeId id;
  std::string peer_address, client_address, zone;
  std::string status;  // joining | normal | leaving | removed
  bool up = false;     // the answering node's failure-detector verdict
  double phi = 0;
  uint64_t incarnation = 0;
  uint32_t partitions = 0;
  uint64_t hints_pending = 0;
  uint64_t hint_bytes_pending = 0;
};

struct MembersResponse {
  std::vector<MemberInfo> members;
  uint64_t ring_version = 0;
};

using ClientBody = std::variant<std::monostate, GetResponse, RingResponse, StatusResponse,
                                MembersResponse, PutResponse>;

struct ClientResponse {
  uint64_t request_id = 0;
  Status status;
  ClientBody body;
};

// "get", "put", "delete", "ring", "status".
const char* op_name(const ClientOp& op);

}  // namespace qkv::proto
