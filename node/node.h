// Node: the sans-I/O core of qkvd (design.md §3). It takes client requests and peer
// messages in, with the current time, and produces effects through Transport and Storage.
//
// Request path (Dynamo §4.5): any node accepts a client request. If it is not a primary of
// the key (the first N distinct owners on the ring), it forwards the request to the first
// primary, and to the next one if that one is unreachable; a get also moves on when a
// primary does not answer within its share of the deadline, a put or delete does not (it
// may have been applied; a second coordinator would write it twice). A primary coordinates: for a
// put it reads its own state of the key, creates a new dot with SiblingSet::update (dropping what
// the client's causal context covers), stores it, sends the new state to the other primaries and
// answers after W acks; for a get it reads its own state, asks the other primaries and answers
// after R replies with the join of what it received. Deletes are puts of a tombstone.
//
// Serialization: every call runs to completion on the caller's thread and storage calls are
// synchronous, so a coordinator's read-modify-write of a key is never interleaved with
// another request's: concurrent puts to one key become siblings, never lost updates.
//
// Group commit: the writes of one event, or of every event between begin_batch() and
// commit_batch(), reach storage in one Storage::write (one RocksDB WriteBatch, one WAL
// append). Reads see the staged states. Nothing that depends on a staged write leaves before
// it is committed: a coordinator sends a put to the other replicas (and counts its own ack)
// only after its own copy is committed, so a dot never escapes a node that could forget it
// in a crash; a replica acks a write only after committing it. A failed commit answers with
// the storage error, as a failed single write did.
//
// Thread-safety: none. qkvd calls it from its one io_context thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "causal/sibling_set.h"
#include "common/clock.h"
#include "node/anti_entropy.h"
#include "node/coordinator/get_round.h"
#include "node/coordinator/put_round.h"
#include "node/handoff/hinted_handoff.h"
#include "node/node_config.h"
#include "node/node_transport.h"
#include "node/storage/storage.h"
#include "node/transfer.h"
#include "ring/ring.h"

namespace qkv::node {

struct NodeCounters {
  uint64_t client_requests = 0;
  uint64_t invalid_requests = 0;
  uint64_t forwarded = 0;           // requests this node sent on to a primary
  uint64_t forward_failovers = 0;   // forwards retried at the next primary
  uint64_t forward_duplicates = 0;  // repeated Forward messages dropped
  uint64_t coordinated_gets = 0;
  uint64_t coordinated_puts = 0;  // deletes included
  uint64_t replica_reads = 0;
  uint64_t replica_writes = 0;
  uint64_t read_repairs = 0;       // replicas sent the merged state after a get found them stale
  uint64_t hinted_writes = 0;      // writes sent to a fallback for a down or silent primary
  uint64_t coordinator_hints = 0;  // hints this coordinator kept itself: no fallback was left
  uint64_t unavailable = 0;        // clients of this node answered with unavailable
  uint64_t storage_errors = 0;
  uint64_t storage_commits = 0;  // storage writes (group commits); writes per commit =
  uint64_t storage_writes = 0;   // storage_writes / storage_commits
  uint64_t ranges_dropped = 0;   // key ranges deleted after a ring change took them away

  std::vector<std::pair<std::string, uint64_t>> to_list() const;
};

class Node {
 public:
  // `actor` is this node's id with the incarnation of its data directory (node/incarnation.h).
  // `ring` may be null until the node learns it (a node that joined from seeds): requests
  // are then answered unavailable. `handoff` (may be null: no hints kept or delivered) and
  // `unix_ms` (wall-clock ms, for hint ages; null: 0) come from the driver.
  // REQUIRES: config.validate() is ok; storage, transport and handoff outlive this.
  Node(NodeConfig config, std::shared_ptr<const ring::Ring> ring, storage::Storage& storage,
       Transport& transport, causal::Actor actor, TimePoint started,
       handoff::HintedHandoff* handoff = nullptr, std::function<int64_t()> unix_ms = {});

  // Membership (node/server.cc feeds these from gossip). A newer ring replaces the current
  // one for new requests. `is_up` is the failure detector's verdict: coordinators skip down
  // replicas (sloppy quorum) and hints are delivered to nodes that are up. Default: all up.
  //
  // Ring transitions (node/transfer.h): with `next` non-null, `ring` still serves reads and
  // coordinates; every write also goes to the key's primaries in `next` that are not
  // primaries in `ring` (the receivers), each raising the write quorum by one (W + p, as
  // Cassandra's pending ranges; a receiver that misses it gets a stand-in or a hint like
  // any primary), replicas accept writes for ranges they hold in either ring, and this
  // node pulls the ranges it receives. `version` is the ring's version (gossip).
  // Ranges this node held and no longer replicates are deleted once every member has
  // applied the ring that took them away (set_ring_applied).
  void set_ring(std::shared_ptr<const ring::Ring> ring,
                std::shared_ptr<const ring::Ring> next = nullptr, uint64_t version = 0);
  // The lowest ring version every member has applied (gossip's NodeState::ring_version of
  // the live members): transfers start once it reaches the transition's version, and old
  // ranges are deleted once it reaches the version that took them away.
  void set_ring_applied(uint64_t version, TimePoint now);
  // Ranges (partitions) whose keys this node holds: replicated in the ring or the next one,
  // or waiting to be deleted.
  const std::set<uint32_t>& held_ranges() const { return held_; }
  OwnershipTransfer& transfer() { return transfer_; }
  const OwnershipTransfer& transfer() const { return transfer_; }
  void set_liveness(std::function<bool(const NodeId&)> is_up);
  // Counters of the driver's own parts (gossip, handoff) added to the status response.
  using CounterList = std::vector<std::pair<std::string, uint64_t>>;
  void set_extra_counters(std::function<CounterList()> f) { extra_counters_ = std::move(f); }

  void on_client_request(ClientId client, proto::ClientRequest request, TimePoint now);
  void on_peer_message(PeerMessage message, TimePoint now);
  // The driver could not deliver to `peer` (connection refused or broken): rounds waiting on
  // it count it as failed now instead of at their deadline, and forwards fail over.
  void on_peer_unreachable(const NodeId& peer, TimePoint now);
  // Expires requests whose deadline is <= now.
  void on_tick(TimePoint now);

  // Group commit (see the top of this file). Between begin_batch() and commit_batch() the
  // events' writes are staged; commit_batch() writes them in one storage write, then sends
  // what waited on them. Without an open batch every event commits its own writes before
  // it returns. qkvd opens a batch for the frames of one io_context turn.
  void begin_batch() { batch_open_ = true; }
  void commit_batch();
  bool batch_open() const { return batch_open_; }

  // Most forwards remembered for duplicate detection; past it the oldest are forgotten.
  static constexpr std::size_t kForwardsSeenMax = 100'000;

  // The earliest deadline of an in-flight request, if any: call on_tick then.
  std::optional<TimePoint> next_deadline() const;
  // Requests in flight (coordinated or forwarded, not yet answered).
  std::size_t in_flight() const { return pending_.size(); }
  // Hint deliveries sent and not yet acked (bounded by the handoff's delivery timeout).
  std::size_t hint_deliveries_in_flight() const { return hint_deliveries_.size(); }
  const NodeCounters& counters() const { return counters_; }
  // Null until the ring is known.
  const std::shared_ptr<const ring::Ring>& ring() const { return ring_; }
  const NodeConfig& config() const { return config_; }
  // Active anti-entropy: trees of the partitions this node replicates, exchanges, repairs.
  AntiEntropy& anti_entropy() { return aae_; }
  const AntiEntropy& anti_entropy() const { return aae_; }

 private:
  // Where the answer to a request goes: a local client, or the peer that forwarded it.
  struct ReplyTo {
    std::optional<ClientId> client;
    NodeId peer;
    uint64_t peer_request_id = 0;
    uint64_t client_request_id = 0;
  };
  struct PutOp {
    coordinator::PutRound round;
    std::string key;
    causal::SiblingSet state;  // what every replica is sent
    bool sloppy = true;        // fallbacks may stand in (not primaries_only)
    std::vector<NodeId> primaries;
    std::vector<NodeId> fallbacks_left;    // fallbacks not yet used: up ones first, ring order
    std::map<NodeId, NodeId> standing_in;  // fallback -> the primary it holds a hint for
    TimePoint sloppy_at;    // half the request's deadline: silent primaries get a stand-in then
    bool answered = false;  // the client has its answer; the round lives on for stand-ins
    std::set<NodeId> hinted_here{};  // primaries this coordinator keeps a hint for itself
  };
  struct GetOp {
    coordinator::GetRound round;
    std::string key;
    bool answered = false;  // the client has its answer; waiting on the rest for read repair
  };
  struct ForwardOp {
    proto::ClientRequest request;
    std::vector<NodeId> primaries;
    std::size_t attempt = 0;
    TimePoint attempt_deadline;
    std::vector<std::string> failures;  // "n1: unreachable", "n2: no answer in time"
    bool is_write = false;              // retried elsewhere only if never delivered
  };
  struct Pending {
    ReplyTo reply_to;
    TimePoint deadline;
    TimePoint armed;  // the key of this request in deadlines_
    std::variant<PutOp, GetOp, ForwardOp> op;
  };

  void handle_request(ReplyTo reply_to, proto::ClientRequest request, bool forwarded,
                      TimePoint now);
  Status validate(const proto::ClientRequest& request) const;
  void coordinate_put(ReplyTo reply_to, const proto::ClientRequest& request, TimePoint now,
                      TimePoint deadline);
  void coordinate_get(ReplyTo reply_to, const proto::GetRequest& get, TimePoint deadline);
  // A replica-only read: this node's own copy, no quorum.
  void reply_local(const ReplyTo& reply_to, const std::string& key);
  // Answers unavailable when quorum > replicas (a cluster smaller than n); true if it did.
  bool rejected_for_too_few_replicas(const ReplyTo& reply_to, const char* kind, const char* name,
                                     uint32_t quorum, std::size_t replicas);
  void start_forward(ReplyTo reply_to, proto::ClientRequest request, std::vector<NodeId> primaries,
                     TimePoint deadline, TimePoint now);
  void send_forward_attempt(uint64_t id, Pending& pending, TimePoint now);
  // `maybe_delivered`: the primary may have the request (it was silent, not unreachable).
  void forward_failed_attempt(uint64_t id, std::string why, bool maybe_delivered, TimePoint now);

  // False for a Forward already taken (a duplicate); remembers it otherwise.
  bool first_time_forward(const NodeId& from, uint64_t request_id, TimePoint now);
  void on_replica_read(const PeerMessage& message, const ReplicaRead& read);
  void on_replica_write(const PeerMessage& message, const ReplicaWrite& write);
  void on_round_reply(uint64_t id, const NodeId& from, const Status& status,
                      std::optional<causal::SiblingSet> state);
  void on_forward_reply(uint64_t id, proto::ClientResponse response);
  void expire(uint64_t id, TimePoint now);

  // Answers a put once decided; forgets it once every replica answered or the deadline
  // passed (Dynamo writes N copies whatever W is: late failures still get stand-ins).
  void progress_put(uint64_t id);
  // A replica of a put failed (error, unreachable) or is silent at sloppy_at: a sloppy
  // round sends the write, as a hint for that primary, to the next up fallback.
  void stand_in_for(uint64_t id, PutOp& put, const NodeId& primary);
  void keep_hint(PutOp& put, const NodeId& primary);
  void on_put_reply(uint64_t id, const NodeId& from, const Status& status);
  void on_put_reply_only(uint64_t id, const NodeId& from, const Status& status);
  // The key's primaries in the next ring that are not primaries now (none without a
  // transition).
  std::vector<NodeId> receivers_of(ring::Token token) const;
  // True if this node takes writes for the key: a primary now or in the next ring, or it
  // still holds the range (deleted once every member moved on).
  bool takes_writes_for(ring::Token token, bool primary) const;
  // Deletes the held ranges whose drop version every member has applied.
  void drop_ranges();
  void deliver_hints(TimePoint now);
  bool is_up(const NodeId& node) const {
    return node == config_.node_id || !is_up_ || is_up_(node);
  }
  // Answers a get once decided; once every replica answered (or the deadline passed),
  // repairs the stale ones and forgets it.
  void progress_get(uint64_t id);
  void read_repair(const std::string& key, const coordinator::GetRound& round);
  // Joins `state` into this node's copy of the key and stores it if anything changed.
  Status merge_locally(ring::Token token, const std::string& key, const causal::SiblingSet& state);
  void reply(const ReplyTo& to, proto::ClientResponse response);
  void reply_status(const ReplyTo& to, Status status);
  void track(uint64_t id, Pending pending);
  void rearm(uint64_t id, Pending& pending, TimePoint at);

  // The key's state: the staged one if a write of it waits for the commit, else storage's.
  Result<std::optional<causal::SiblingSet>> load(ring::Token token, const std::string& key);
  // Stages the key's new state for the next commit; `previous` is its state before (for
  // the anti-entropy tree), nullopt if it had none.
  void store(ring::Token token, const std::string& key,
             const std::optional<causal::SiblingSet>& previous, causal::SiblingSet state);
  int64_t unix_ms() const { return unix_ms_ ? unix_ms_() : 0; }
  // Commits the staged writes unless a batch is open (the end of every event).
  void end_event() {
    if (!batch_open_) commit_writes();
  }
  void commit_writes();
  // A coordinated put whose own copy is committed: track it and send it to the others.
  struct StagedPut {
    ReplyTo reply_to;
    TimePoint deadline;
    PutOp op;
  };
  void send_put_round(StagedPut staged);
  proto::ClientResponse ring_response() const;
  proto::ClientResponse status_response(TimePoint now) const;

  NodeConfig config_;
  std::shared_ptr<const ring::Ring> ring_;
  std::shared_ptr<const ring::Ring> next_ring_;  // during a transition
  uint64_t ring_version_ = 0;
  uint64_t ring_applied_ = 0;  // set_ring_applied
  int64_t transition_started_unix_ms_ = 0;
  std::set<uint32_t> held_;
  std::map<uint32_t, uint64_t> drop_at_;  // held range -> ring version that took it away
  bool held_scanned_ = false;             // ranges left by an earlier run were looked for
  storage::Storage& storage_;
  Transport& transport_;
  causal::Actor actor_;
  TimePoint started_;
  uint64_t next_id_;  // starts from the incarnation, so ids differ across restarts
  // Forwards already taken, by (forwarder, its request id), kept for request_timeout_max:
  // a duplicated Forward must not coordinate a write twice (a second dot for one value).
  std::map<std::pair<NodeId, uint64_t>, TimePoint> forwards_seen_;
  std::set<std::pair<TimePoint, std::pair<NodeId, uint64_t>>> forwards_seen_expiry_;
  std::map<uint64_t, Pending> pending_;
  handoff::HintedHandoff* handoff_;
  std::function<int64_t()> unix_ms_;
  std::function<bool(const NodeId&)> is_up_;
  std::function<CounterList()> extra_counters_;
  struct HintDelivery {
    uint64_t delivery_id;
    TimePoint sent;
  };
  // Our request id -> the handoff delivery it carries. Entries whose ack never comes (the
  // frame was dropped, the target died) are forgotten after the handoff's delivery timeout,
  // by which time the handoff core has released the delivery for a retry.
  std::map<uint64_t, HintDelivery> hint_deliveries_;
  std::set<std::pair<TimePoint, uint64_t>> deadlines_;
  NodeCounters counters_;
  TimePoint now_;  // of the latest event
  AntiEntropy aae_;
  OwnershipTransfer transfer_;

  // Group commit: states waiting for the commit (the latest per key) and what waits on it.
  struct StagedWrite {
    ring::Token token;
    std::string key;
    causal::SiblingSet state;
    std::optional<antientropy::Hash128> before;  // the committed state's tree entry
  };
  struct StagedAck {
    NodeId to;
    uint64_t request_id;
  };
  bool batch_open_ = false;
  std::vector<StagedWrite> staged_;
  std::map<std::string, std::size_t, std::less<>> staged_index_;  // key -> its entry in staged_
  std::vector<StagedAck> staged_acks_;  // replica writes to ack after the commit
  std::vector<StagedPut> staged_puts_;  // coordinated puts to send on after the commit
};

}  // namespace qkv::node
