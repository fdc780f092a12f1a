// The qkv client SDK: talks the client API (proto/client.capnp) to any qkvd.
//
// Any node accepts any request and forwards it to a coordinator (design.md §1), so the
// client only picks a node: the first of Options::nodes it can reach, in the given order.
//
// Causal contexts (design.md §1, Versioning): a get returns the key's live siblings and an
// opaque causal context. Pass that context back on the next put/delete of the key: the write
// then supersedes exactly the siblings the context covers. A put with an empty context is
// concurrent with everything stored and adds a sibling. More than one value in a GetResult
// means concurrent writes: reconcile them and put the result back with the context.
//
// Connections: one persistent TCP connection per node, opened lazily on first use and reused
// by later requests. One request is in flight per connection at a time; responses are matched
// by request id, and late responses to earlier requests that timed out are discarded. A
// reused connection that the node has closed in the meantime is noticed before sending and
// reopened (so a node restart does not fail the next put).
//
// Failover: nodes are tried in order, each with its own deadlines:
//   - connecting (resolve + TCP connect) is bounded by Options::connect_timeout_ms;
//   - sending the request and receiving its answer by the request's timeout_ms (or
//     Options::timeout_ms when 0). The node is sent that budget minus a small margin
//     (see server_timeout_ms), so it gives up and answers with its own error first.
//   A get (and ring()) moves to the next node when connecting fails, when no answer arrives in
//   time, or when the connection breaks: reads are safe to repeat. A put or delete moves on
//   only when it was never sent (connecting failed). Once any byte of it has been sent, a
//   broken connection returns unavailable and a missed deadline returns timeout, and the
//   write is NOT retried elsewhere: the first node may have applied it, and a retried put
//   with the same context would be a second write concurrent with the first, adding a
//   duplicate sibling. The outcome of such a write is unknown; read the key to find out.
//   Worst case, one call takes nodes.size() * (connect_timeout_ms + timeout_ms).
//   An answer from a node (ok or not: unavailable, timeout, invalid_argument) is final: the
//   node is the coordinator's front door and has already tried the replicas. Except
//   overloaded: the node refused the request before doing anything with it (its
//   client_requests_in_flight_max), so any call, writes included, moves to the next node,
//   and when every node answered overloaded the call backs off (10 to 250 ms, jittered,
//   doubling) and tries them again until its timeout_ms has passed.
//
// Errors (Status codes, common/status.h):
//   invalid_argument  key/value/context over Options::limits (checked locally, nothing is
//                     sent; the message names the limit), or a bad node_index; or the node's
//                     own answer, which names the limit it enforces.
//   unavailable       no node could be reached / every node failed (the message names each
//                     node and why), or a write's connection broke after it was sent.
//   timeout           a write was sent and no answer arrived within its timeout_ms.
//   overloaded        every node refused the request as overloaded until timeout_ms passed.
//   corruption        a node answered bytes that do not decode.
//   others            as answered by the node.
//
// Thread-safety: a Client is not thread-safe; use one per thread. Clients are independent.
// A moved-from Client may only be destroyed or assigned to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/limits.h"
#include "common/status.h"
#include "proto/client_api.h"

namespace qkv::client {

// TLS to the client ports (docs/security.md). The node's certificate must be signed by a
// CA in ca_file and name the host dialled (a DNS or IP SAN).
struct TlsOptions {
  std::string ca_file;  // PEM: the cluster CA; empty: the system's trust store
  // PEM: a client certificate and its key, for nodes with [tls] client_auth = "require".
  std::string cert_file, key_file;
  std::string min_version = "1.3";  // or "1.2"
};

// A named user's credentials, for nodes with [auth] (docs/security.md). Each connection
// authenticates once, before its first request; a refusal (unauthenticated: wrong user or
// secret) is the answer of the call that opened it. Nodes without [auth] accept any.
struct Credentials {
  std::string user;
  std::string secret;
};

struct Options {
  std::vector<std::string> nodes;      // "host:port" (or "[v6addr]:port"), tried in this order
  uint32_t timeout_ms = 5000;          // per node attempt: send + answer
  uint32_t connect_timeout_ms = 1000;  // per node attempt: resolve + connect
  Limits limits;                       // checked locally before sending; frame_bytes_max bounds
                                       // the size of an answer read off the wire
  // Set: every connection speaks TLS (a bad file fails every call with invalid_argument
  // naming it). Unset: plaintext, which a node with [tls] refuses ("this port speaks TLS").
  std::optional<TlsOptions> tls;
  // Set: every connection authenticates as this user. Unset: none (or the user a client
  // certificate names, with tls.cert_file).
  std::optional<Credentials> credentials;
};

struct ReadOptions {
  uint8_t r = 0;            // read quorum; 0 = the node's default
  uint32_t timeout_ms = 0;  // 0 = Options::timeout_ms
  bool local = false;       // the answering node's own copy only, no quorum (diagnostics)
  // Primaries required (Riak's PR). A get reads the first N healthy nodes of the key's
  // preference list: fallbacks stand in for primaries that are down and answer with the
  // writes they hold as hints, and count towards r. pr > 0 makes the get succeed only if at
  // least pr primaries answered; pr = r reads primaries only (with writes sent sloppy=false
  // and R + W > N, a read then sees the latest acknowledged write). 0 = none. At most n:
  // a larger pr is the node's invalid_argument ("pr=4 exceeds n=3"); an unmet one its
  // unavailable ("primary quorum not met: 1 of 3 primaries answered, PR=2 required ...").
  uint8_t pr = 0;
  // Whom the get asks first: kAll, every primary (Dynamo, Riak); kQuorum, max(r, pr) of
  // them, another only if one fails or is slow (Cassandra's reads: fewer messages, and
  // read repair covers only the primaries asked); kDefault, the node's [cluster]
  // read_fanout.
  proto::ReadFanout fanout = proto::ReadFanout::kDefault;
};

struct WriteOptions {
  uint8_t w = 0;            // write quorum; 0 = the node's default
  uint32_t timeout_ms = 0;  // 0 = Options::timeout_ms
  // Sloppy quorum (Dynamo 4.6): fallbacks holding hints for down primaries count towards W.
  // false demands W acks from primaries (Riak's PW).
  bool sloppy = true;
  // Puts only: the value expires this many seconds after the coordinator wrote it (by its
  // clock; nodes agree within clock_skew_max_ms): reads stop seeing it, and it is reaped as
  // a delete is (Cassandra's TTL, Redis EXPIRE). 0: never expires.
  uint32_t ttl_seconds = 0;
  // A conditional write (docs/protocol.md, "Conditional writes"): kIfAbsent (puts only)
  // writes only if the key has no live value; kIfUnchanged only if `context` still covers
  // every sibling the key holds (nobody wrote it since that context was read). A condition
  // that does not hold is answered precondition_failed, and nothing is written. The key's
  // first primary that is up decides, after reading the key at the node's default R.
  proto::WriteCondition condition = proto::WriteCondition::kNone;
};

// A successful put or delete: the causal context of what it wrote (it covers the new value
// and the siblings the write superseded). Pass it to the next put/del of the key to write
// again without reading first; empty when the node is older than this field.
struct WriteResult {
  std::string context;
};

// One sibling of a get's answer with its metadata: what a resolver (client/resolvers.h)
// needs. Nodes older than the metadata answer timestamp_ms 0 and an empty node.
struct Sibling {
  std::string value;         // empty for a tombstone
  bool tombstone = false;    // a delete concurrent with the values
  int64_t timestamp_ms = 0;  // the coordinator's unix ms when it wrote it; 0: unknown
  std::string node;          // the node that coordinated the write; empty: unknown
  int64_t expires_ms = 0;    // its time to live ends at this unix ms; 0: never

  bool operator==(const Sibling&) const = default;
};

struct GetResult {
  // The live siblings of the key; empty when it is missing or deleted. More than one means
  // concurrent writes the caller should reconcile and write back with `context`.
  std::vector<std::string> values;
  // The opaque causal context, also for a missing or deleted key (so that a later put
  // supersedes the tombstone). Pass it to put/del unchanged.
  std::string context;
  // The replicas whose answers the result joins, in the order they were asked: primaries,
  // then fallbacks that stood in for primaries that were down or failed (fallback = true).
  // Empty when the node is older than this field.
  std::vector<proto::ReplicaAnswer> replicas = {};
  // Every sibling with its metadata: siblings[i] is values[i] for i < values.size(), then
  // the tombstones concurrent with the values (a delete that raced a write).
  std::vector<Sibling> siblings = {};

  bool found() const { return !values.empty(); }
};

// The timeout sent to the node for a client-side budget of `timeout_ms` (> 0): the budget
// minus a margin of min(100 ms, timeout_ms / 10), at least 1 (0 would mean "node default").
uint32_t server_timeout_ms(uint32_t timeout_ms);

class Client {
 public:
  // Does not connect: connections open on first use. An empty or malformed node list is
  // reported by each call as unavailable.
  explicit Client(Options options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The key's siblings and causal context. A missing or deleted key is ok, with no values
  // and the context the node returned.
  Result<GetResult> get(std::string_view key, ReadOptions options = {});

  // Writes `value`, superseding the siblings `context` covers (empty: none). Answers the
  // causal context of what it wrote (WriteResult), to write the key again without a read.
  Result<WriteResult> put(std::string_view key, std::string_view value,
                          std::string_view context = {}, WriteOptions options = {});

  // Writes a tombstone superseding the siblings `context` covers; answers its context.
  Result<WriteResult> del(std::string_view key, std::string_view context = {},
                          WriteOptions options = {});

  // The ring as the first reachable node sees it (fails over like a get).
  Result<proto::RingResponse> ring();

  // Every member as the first reachable node sees it: status, up/down, phi, hints.
  Result<proto::MembersResponse> members();

  // The status of Options::nodes[node_index] itself; never fails over to another node.
  // invalid_argument when node_index >= nodes.size().
  Result<proto::StatusResponse> node_status(std::size_t node_index);

  // Asks Options::nodes[node_index] to run anti-entropy exchanges now (qkvctl repair): for
  // every partition that node replicates, or only `partition`, with every other primary of
  // it. Sent to that node only and never failed over (another node has other partitions).
  // Returns once the node has queued the exchanges: RepairResponse::partitions says how many
  // (0 when it replicates no such partition); they run in the background, and their progress
  // shows in node_status(node_index).repair.
  // A request while the node's previous repair still runs restarts the repair (progress
  // starts again from zero; exchanges already running finish as periodic ones).
  // Errors: invalid_argument when node_index >= nodes.size(), or the node's answer (a
  // partition outside the ring: "partition 300 does not exist: the ring has 256 (0..255)");
  // unavailable when anti-entropy is off on the node ("anti-entropy is off on n1
  // (anti_entropy.enabled = false)"), when it cannot be reached, or timeout when it does not answer
  // within Options::timeout_ms (the message names the node; the repair may or may not have been
  // queued); corruption when the answer does not decode or has no repair body.
  Result<proto::RepairResponse> repair(std::size_t node_index, std::optional<uint32_t> partition);

  // Asks Options::nodes[node_index] to take a snapshot of its storage (qkvctl snapshot) into
  // `dir` on its host: absolute, new, inside its [storage] snapshot_dir; empty: the node
  // names one there. Sent to that node only, never failed over. Returns the path, and the
  // bytes and files in it. Errors: invalid_argument when node_index >= nodes.size(), or the
  // node's refusal naming the path (relative, outside snapshot_dir, existing); unavailable
  // when the node has snapshots off or cannot be reached; io_error from its storage (a full
  // disk), naming the path; permission_denied without the admin grant; timeout as for
  // repair (the snapshot may or may not have been taken).
  Result<proto::SnapshotResponse> snapshot(std::size_t node_index, const std::string& dir);

  // A ring change (Riak's staged clustering; qkvctl `node join/leave/replace`, `ring plan`,
  // `ring commit`, `ring cancel`), answered by the claimant, the one node that issues rings
  // (node/claimant.h):
  //   kStage   stages request.kind for request.node (and request.replacement); answers the
  //            staged changes. Nothing changes in the ring until a commit.
  //   kPlan    answers the plan of the staged changes: its plan_id, the transfers, the
  //            ownership before/after, balance and violations, the data to move (estimate).
  //   kCommit  issues the plan with request.plan_id as a ring transition; answers the plan and
  //            ring_version, the version issued. A stale id (the staging or the ring changed
  //            since that plan) is refused, so only a plan someone looked at is committed.
  //   kCancel  clears the staged changes (ring_version 0); with none staged, aborts the
  //            transition in progress (ring_version: the version issued, keeping the old
  //            owners).
  // Routing: sent first to the first reachable of Options::nodes, failing over like ring();
  // but only a kPlan is sent to the next node once it was sent (a change is never sent
  // twice: the first node may have applied it). A node that is not the claimant answers
  // with an error (usually unavailable) and a RingAdminResponse naming the claimant and
  // its client address; when that address differs from the node asked, the request is resent
  // there once (a connection is opened even if it is not among Options::nodes), and that
  // answer is final. A node that names the claimant but not yet its address (gossip has not
  // brought it: the first seconds after a start) is asked again every 250 ms for up to 5 s.
  // Errors: the claimant's answer: invalid_argument for a change that does not fit the ring
  // or the staging ("n9 is not a known node"), nothing staged, a stale plan id, nothing to
  // cancel; unavailable when a transition is in progress (plan, commit), when the node has no
  // ring yet, or when the node that answered is not the claimant and named no address for it
  // within those 5 s; unavailable
  // or timeout when no node (or the named claimant) could be reached or answered in
  // Options::timeout_ms: the message names the nodes and, for a change that was sent, says it
  // may have been applied; corruption when an ok answer has no ring admin body.
  Result<proto::RingAdminResponse> ring_admin(proto::RingAdminRequest request);

  const Options& options() const;

  // Whether any node has answered a request of this client since it was made (an error
  // answer counts; a refused or broken connection, or a deadline passed, does not). qkvctl
  // tells "no node of --cluster answered" (exit 3) from "the request failed" by it.
  bool any_answered() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qkv::client
