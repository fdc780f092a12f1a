// The client API as C++ values (the wire form is proto/client.capnp; see client_codec.h).
// Used by qkvd, the client SDK and qkvctl. The causal context is opaque bytes here:
// only qkvd decodes it (node/wire/context_codec.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/node_id.h"
#include "common/status.h"

namespace qkv::proto {

// Whom a get asks first (wire enum ReadFanout; docs/protocol.md).
enum class ReadFanout : uint8_t {
  kDefault = 0,  // the node's [cluster] read_fanout
  kAll = 1,      // every primary of the key (Dynamo, Riak)
  kQuorum = 2,   // max(r, pr) primaries; another only if one fails or is slow (Cassandra)
};

struct GetRequest {
  std::string key;
  uint8_t r = 0;       // 0 = the node's default
  bool local = false;  // this node's own copy only, no quorum (diagnostics, tests)
  // Primaries required (Riak's PR): the get succeeds only once at least pr of the key's
  // primaries answered (fallbacks count towards r, never towards pr). 0 = none; at most n.
  uint8_t pr = 0;
  ReadFanout fanout = ReadFanout::kDefault;
};

// A conditional write (wire enum WriteCondition; docs/protocol.md). The key's first primary
// that is up coordinates it, reads the key (R = the node's default), joins what it read
// into its copy and checks the condition there before writing; conditional writes of a key
// at one coordinator run one after another. A condition that does not hold is answered
// precondition_failed and nothing is written.
// persisted (wire enum WriteCondition): do not renumber.
enum class WriteCondition : uint8_t {
  kNone = 0,
  kIfAbsent = 1,     // the key has no live value (missing, deleted, expired)
  kIfUnchanged = 2,  // the context covers every sibling the key holds, tombstones included
};

struct PutRequest {
  std::string key;
  std::string value;
  std::string context;  // opaque; empty = no causal context (the write is concurrent with all)
  uint8_t w = 0;
  bool primaries_only = false;  // sloppy=false: W counts primaries only (Riak's PW)
  // Time to live, seconds: reads stop seeing the value this long after the coordinator
  // wrote it (its clock), and it is then reaped as a tombstone is. 0: never expires.
  uint32_t ttl_seconds = 0;
  WriteCondition condition = WriteCondition::kNone;
};

struct DeleteRequest {
  std::string key;
  std::string context;
  uint8_t w = 0;
  bool primaries_only = false;
  WriteCondition condition = WriteCondition::kNone;  // kIfAbsent is invalid_argument
};

struct RingRequest {};
struct StatusRequest {};
struct MembersRequest {};

// Runs anti-entropy exchanges now (qkvctl repair): for every partition the answering node
// replicates, or only `partition`, with every other primary of it. Answered by that node
// itself (never forwarded) with a RepairResponse; the exchanges run in the background.
struct RepairRequest {
  std::optional<uint32_t> partition;  // nullopt: all of this node's partitions
};

// persisted (wire enum RingAction): do not renumber.
enum class RingAction : uint8_t { kStage = 0, kPlan = 1, kCommit = 2, kCancel = 3 };
// persisted (wire enum RingChangeKind): do not renumber.
enum class RingChangeKind : uint8_t {
  kJoin = 0,
  kLeave = 1,
  kReplace = 2,
  kRebalance = 3,
  kRemove = 4,  // a lost node leaves without a handoff (Riak's force-remove)
};

// A ring change (Riak's staged clustering: `cluster join/leave/replace`, `plan`, `commit`,
// `clear`), answered by the claimant only (node/claimant.h). Another node answers with an
// error and a RingAdminResponse naming the claimant and its client address.
struct RingAdminRequest {
  RingAction action = RingAction::kPlan;
  RingChangeKind kind = RingChangeKind::kRebalance;  // kStage only
  // join: the joining node's id or its peer/client address ("host:port"); leave, remove:
  // its id; replace: the old node's id. Empty for rebalance and the other actions.
  std::string node;
  std::string replacement;  // replace: the new node's id
  uint64_t plan_id = 0;     // kCommit: the id kPlan answered
  bool force = false;       // kRemove: even a node that is up (it should leave instead)

  bool operator==(const RingAdminRequest&) const = default;
};

// Authenticates the connection as `user` (docs/security.md): later requests on it run with
// the user's grants. Answered by the receiving node's Server, never by the node core.
struct AuthenticateRequest {
  std::string user;
  std::string secret;  // never logged

  bool operator==(const AuthenticateRequest&) const = default;
};

// Takes a snapshot of the answering node's storage (qkvctl snapshot) into a new directory on
// its host: `dir` absolute, not existing, inside the node's [storage] snapshot_dir; empty:
// the node names one there. Answered by that node itself (never forwarded) with a
// SnapshotResponse; needs the admin grant.
struct SnapshotRequest {
  std::string dir;

  bool operator==(const SnapshotRequest&) const = default;
};

// New alternatives are only ever appended: op_name() indexes by position.
using ClientOp =
    std::variant<GetRequest, PutRequest, DeleteRequest, RingRequest, StatusRequest, MembersRequest,
                 RepairRequest, RingAdminRequest, AuthenticateRequest, SnapshotRequest>;

struct ClientRequest {
  uint64_t request_id = 0;
  uint32_t timeout_ms = 0;  // 0 = the node's default
  ClientOp op;
};

// A replica whose answer a get's result joins: a primary of the key, or a fallback that
// stood in for a primary that was down or failed (sloppy read, Dynamo §4.6).
struct ReplicaAnswer {
  NodeId node;
  bool fallback = false;

  bool operator==(const ReplicaAnswer&) const = default;
};

// The metadata of one sibling of a get's answer (what a resolver needs); its value is in
// GetResponse::values.
struct SiblingInfo {
  bool tombstone = false;    // a delete concurrent with the values
  int64_t timestamp_ms = 0;  // the coordinator's unix ms when it wrote it; 0: unknown
  NodeId node;               // the node that coordinated the write (its dot's actor)
  int64_t expires_ms = 0;    // its time to live ends at this unix ms; 0: never

  bool operator==(const SiblingInfo&) const = default;
};

struct GetResponse {
  std::vector<std::string> values;  // live siblings; empty when not found
  std::string context;
  // The replicas that had answered when the get was answered, in the order they were asked
  // (primaries in preference-list order, then stand-ins); empty from nodes older than it.
  std::vector<ReplicaAnswer> replicas = {};
  // Every sibling's metadata: siblings[i] describes values[i] for i < values.size(); the
  // entries after those are the tombstones concurrent with the values. Empty from nodes
  // older than it.
  std::vector<SiblingInfo> siblings = {};
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

// The node's current (or last) repair started by a RepairRequest. All zero/empty when no
// repair ran since the node started.
struct RepairProgress {
  bool running = false;
  uint32_t partitions_total = 0;   // partitions of the repair
  uint32_t partitions_done = 0;    // finished (successfully or not)
  uint32_t partitions_failed = 0;  // finished with an error (peer down, timeout): retried by the
                                   // periodic exchanges
  uint64_t keys_compared = 0;      // keys in differing segments compared with a peer
  uint64_t keys_repaired = 0;      // keys written on either side
  uint64_t bytes_sent = 0;         // anti-entropy bytes this node sent for the repair
  std::string last_error;          // the last failure, empty if none

  bool operator==(const RepairProgress&) const = default;
};

// When a partition last completed an exchange successfully (unix ms; 0 = never since start).
struct PartitionExchange {
  uint32_t partition = 0;
  int64_t last_success_unix_ms = 0;

  bool operator==(const PartitionExchange&) const = default;
};

// One inbound key range of the ring transition in progress, as its receiver sees it.
struct TransferProgress {
  uint32_t partition = 0;
  std::string source;  // the old replica it pulls from now (or last)
  uint64_t keys = 0;   // received so far
  uint64_t bytes = 0;
  bool done = false;
  bool active = false;  // a batch is in flight

  bool operator==(const TransferProgress&) const = default;
};

struct StatusResponse {
  NodeId node_id;
  uint64_t incarnation = 0;
  std::string version;
  uint64_t uptime_ms = 0;
  uint8_t n = 0, r = 0, w = 0;
  std::vector<NodeId> members;
  std::vector<std::pair<std::string, uint64_t>> counters;
  RepairProgress repair;
  std::vector<PartitionExchange> exchanges;  // one per partition the node replicates
  std::vector<TransferProgress> transfers;   // inbound ranges of the transition in progress
  uint64_t ring_version = 0;                 // the ring version this node has applied
  uint64_t transfer_started_unix_ms = 0;     // when its inbound transfers began; 0 = none
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
  uint64_t ring_version = 0;    // the ring version it has applied (as gossiped)
  uint64_t transfers_done = 0;  // the transition version whose inbound transfers it finished
  std::string http_address{};   // its HTTP operations port; empty: none
};

struct MembersResponse {
  std::vector<MemberInfo> members;
  uint64_t ring_version = 0;
  uint64_t cluster_id = 0;  // the answering node's cluster; 0: unknown (none yet, or older)
};

// A RepairRequest was accepted: `partitions` exchanges-to-run were queued (0 when the node
// replicates no such partition). Progress then shows in StatusResponse::repair.
struct RepairResponse {
  uint32_t partitions = 0;
};

// One key range to copy in a ring transition: partition's keys, from an old replica to a new
// primary.
struct RingTransfer {
  uint32_t partition = 0;
  NodeId from, to;

  bool operator==(const RingTransfer&) const = default;
};

// Partitions a node owns before and after a plan.
struct Ownership {
  NodeId node;
  uint32_t before = 0, after = 0;

  bool operator==(const Ownership&) const = default;
};

// The claimant's answer to a RingAdminRequest; on an error from another node, only claimant
// and claimant_address are set (where to resend). Which fields an action fills:
//   stage, cancel  staged (cancel: ring_version, 0 when only staged changes were cleared,
//                  else the version issued that aborts the transition);
//   plan           staged, plan_id, from_version, transfers, ownership, moved, balance,
//                  violations, estimated_keys/bytes;
//   commit         as plan (the plan committed) plus ring_version, the version issued.
struct RingAdminResponse {
  NodeId claimant;                  // the node that decides ring changes
  std::string claimant_address;     // its client address ("host:port")
  std::vector<std::string> staged;  // "join n4", "leave n2", "replace n2 with n6", "rebalance"
  uint64_t plan_id = 0;
  uint64_t from_version = 0;  // the ring version the plan starts from
  std::vector<RingTransfer> transfers;
  std::vector<Ownership> ownership;
  uint32_t moved = 0;  // partitions whose owner changes
  double balance = 0;  // max/mean partitions per node after
  uint32_t spacing_violations = 0;
  uint32_t zone_violations = 0;
  uint64_t ring_version = 0;    // commit/cancel: the ring version issued
  uint64_t estimated_keys = 0;  // the data to move (estimate)
  uint64_t estimated_bytes = 0;

  bool operator==(const RingAdminResponse&) const = default;
};

// The user a connection runs as, and its grants as the users file spells them ("read",
// "write:orders/", "admin").
struct AuthenticateResponse {
  std::string user;
  std::vector<std::string> grants;

  bool operator==(const AuthenticateResponse&) const = default;
};

// A snapshot taken: its directory, and the bytes and files in it (table files hard-linked
// from the data directory count at full size, though they take no new space).
struct SnapshotResponse {
  std::string path;
  uint64_t bytes = 0;
  uint32_t files = 0;

  bool operator==(const SnapshotResponse&) const = default;
};

// A response's body is kept whatever its status: an error may carry one (a RingAdminResponse
// naming the claimant, a GetResponse's context with not_found).
using ClientBody = std::variant<std::monostate, GetResponse, RingResponse, StatusResponse,
                                MembersResponse, PutResponse, RepairResponse, RingAdminResponse,
                                AuthenticateResponse, SnapshotResponse>;

struct ClientResponse {
  uint64_t request_id = 0;
  Status status;
  ClientBody body;
};

// "get", "put", "delete", "ring", "status", "members", "repair", "ring_admin",
// "authenticate".
const char* op_name(const ClientOp& op);

}  // namespace qkv::proto
