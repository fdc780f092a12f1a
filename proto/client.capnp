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
  pr @3 :UInt8;         # primaries required (Riak's PR): 0 = none; pr = r reads primaries only
  fanout @4 :ReadFanout;
}

# Whom a get asks first (docs/protocol.md). persisted: do not renumber.
enum ReadFanout {
  default @0;  # the node's [cluster] read_fanout
  all @1;      # every primary of the key (Dynamo, Riak)
  quorum @2;   # max(r, pr) primaries; another only if one of them fails or is slow (Cassandra)
}

# A conditional write (qkv's put-if-absent / put-if-unchanged; HTTP If-None-Match: * and
# If-Match). The key's first primary that is up coordinates it: it reads the key with the
# node's default R, joins what it read into its own copy, and checks the condition against
# that state before it writes; conditional writes of one key at that coordinator run one
# after the other. A condition that does not hold is answered preconditionFailed and nothing
# is written. persisted: do not renumber.
enum WriteCondition {
  none @0;
  ifAbsent @1;     # only if the key has no live value (missing, deleted or expired)
  ifUnchanged @2;  # only if the request's context covers every sibling the key holds
                   # (tombstones included): nobody wrote the key since that context was read
}

struct PutRequest {
  key @0 :Data;
  value @1 :Data;
  context @2 :Data;     # opaque causal context from an earlier get; empty = none
  w @3 :UInt8;          # 0 = the node's default
  primariesOnly @4 :Bool;  # sloppy=false: W counts primaries only (Riak's PW)
  ttlSeconds @5 :UInt32;   # the value expires this long after the write (0: never)
  condition @6 :WriteCondition;
}

struct DeleteRequest {
  key @0 :Data;
  context @1 :Data;
  w @2 :UInt8;
  primariesOnly @3 :Bool;
  condition @4 :WriteCondition;  # ifAbsent is refused (invalidArgument): nothing to delete
}

# Runs anti-entropy exchanges now (qkvctl repair), answered by the receiving node itself:
# for every partition it replicates, or only `partition`, with every other primary of it.
struct RepairRequest {
  hasPartition @0 :Bool;  # false: all of the node's partitions (partition is ignored)
  partition @1 :UInt32;
}

# Ring changes (Riak's `riak-admin cluster join/leave/replace/plan/commit/clear`), answered by
# the claimant, the one node that issues rings. Any other node answers with an error (usually
# unavailable) AND a RingAdminResponse whose claimant/claimantAddress name the claimant, so a
# client can resend there.
# persisted: do not renumber.
enum RingAction {
  stage @0;    # stage one change (kind, node, replacement)
  plan @1;     # the plan of the staged changes, with its id
  commit @2;   # issue the plan with planId as a ring transition
  cancel @3;   # clear the staged changes; with none staged, abort the transition in progress
}

# persisted: do not renumber.
enum RingChangeKind {
  join @0;
  leave @1;
  replace @2;
  rebalance @3;
  remove @4;   # a lost node leaves without a handoff: its ranges come from surviving replicas
}

struct RingAdminRequest {
  action @0 :RingAction;
  kind @1 :RingChangeKind;   # stage only
  node @2 :Text;             # join: the joining node's id or its peer/client address "host:port";
                             # leave: its id; replace: the old node's id
  replacement @3 :Text;      # replace: the new node's id
  planId @4 :UInt64;         # commit: the plan id `plan` answered
  force @5 :Bool;            # remove: even a node that is up (it should leave instead)
}

# Authenticates the connection as a named user (docs/security.md): every later request on
# it runs with that user's grants. Answered with an AuthenticateResponse, or unauthenticated
# (wrong user or secret, or a node without [auth]'s users).
struct AuthenticateRequest {
  user @0 :Text;
  secret @1 :Text;
}

# Takes a snapshot of the receiving node's storage (qkvctl snapshot; Storage::checkpoint):
# every column family at one moment, into a new directory on the node's host, marked so
# that a node started from it takes a new incarnation. Answered by that node itself.
struct SnapshotRequest {
  dir @0 :Text;    # absolute, new, inside the node's [storage] snapshot_dir; empty: the node
                   # names one there (<node id>-<unix ms>)
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
    ringAdmin @9 :RingAdminRequest;
    authenticate @10 :AuthenticateRequest;
    snapshot @11 :SnapshotRequest;
  }
}

# A replica whose answer a get's result joins.
struct ReplicaAnswer {
  node @0 :Text;
  fallback @1 :Bool;      # a fallback standing in for a primary (sloppy read), else a primary
}

# The metadata of one sibling of a get's answer: what a resolver needs (last-writer-wins
# needs the time). Values are not repeated here: they are in GetResponse.values.
struct SiblingInfo {
  tombstone @0 :Bool;     # a delete concurrent with the values
  timestampMs @1 :Int64;  # the coordinator's unix ms when it wrote it; 0: unknown (older write)
  node @2 :Text;          # the node that coordinated the write (the dot's actor)
  expiresMs @3 :Int64;    # its time to live ends at this unix ms; 0: never
}

struct GetResponse {
  values @0 :List(Data);  # one per live sibling; empty when not found
  context @1 :Data;       # pass back on the next put/delete of this key
  replicas @2 :List(ReplicaAnswer);  # who answered, in the order asked; empty from older nodes
  # Every sibling's metadata: siblings[i] describes values[i] for i < values.size(); the
  # entries after those are the tombstones concurrent with the values. Empty from older nodes.
  siblings @3 :List(SiblingInfo);
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
  transfers @11 :List(TransferProgress);   # inbound key ranges of the ring transition in progress
  ringVersion @12 :UInt64;                 # the ring version this node has applied
  transferStartedUnixMs @13 :UInt64;       # when its inbound transfers began; 0 = none
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
  ringVersion @11 :UInt64;   # the ring version it has applied (as gossiped)
  transfersDone @12 :UInt64; # the transition version whose inbound transfers it has finished
  httpAddress @13 :Text;     # its HTTP operations port (/metrics, /console); empty: none
}

struct MembersResponse {
  members @0 :List(Member);
  ringVersion @1 :UInt64;
  clusterId @2 :UInt64;      # the answering node's cluster (gossip/ring_identity.h); 0: unknown
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

# One key range to copy in a ring transition: partition p's keys, from an old replica to a
# new primary.
struct RingTransfer {
  partition @0 :UInt32;
  from @1 :Text;
  to @2 :Text;
}

# Partitions a node owns before and after a plan.
struct Ownership {
  node @0 :Text;
  before @1 :UInt32;
  after @2 :UInt32;
}

struct RingAdminResponse {
  claimant @0 :Text;             # the node that decides ring changes
  claimantAddress @1 :Text;      # its client address (host:port), so a client can go there
  staged @2 :List(Text);         # the staged changes, described ("join n4", "leave n2",
                                 # "replace n2 with n6", "rebalance")
  planId @3 :UInt64;
  fromVersion @4 :UInt64;        # the ring version the plan starts from
  transfers @5 :List(RingTransfer);
  ownership @6 :List(Ownership);
  moved @7 :UInt32;              # partitions whose owner changes
  balance @8 :Float64;           # max/mean partitions per node after
  spacingViolations @9 :UInt32;
  zoneViolations @10 :UInt32;
  ringVersion @11 :UInt64;       # commit/cancel: the ring version issued (cancel: 0 when only
                                 # staged changes were cleared)
  estimatedKeys @12 :UInt64;     # the data to move (estimate)
  estimatedBytes @13 :UInt64;
}

# One inbound key range of the ring transition in progress, as its receiver sees it.
struct TransferProgress {
  partition @0 :UInt32;
  source @1 :Text;     # the old replica it pulls from now (or last)
  keys @2 :UInt64;     # received so far
  bytes @3 :UInt64;
  done @4 :Bool;
  active @5 :Bool;     # a batch is in flight
}

# Who the connection now runs as, and what that user may do ("read", "write:orders/",
# "admin"; docs/security.md).
struct AuthenticateResponse {
  user @0 :Text;
  grants @1 :List(Text);
}

# A snapshot taken: where, and what it holds on disk (hard links count at full size).
struct SnapshotResponse {
  path @0 :Text;
  bytes @1 :UInt64;
  files @2 :UInt32;
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
    ringAdmin @9 :RingAdminResponse;
    authenticate @10 :AuthenticateResponse;
    snapshot @11 :SnapshotResponse;
  }
}
