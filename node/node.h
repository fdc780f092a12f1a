// Node: the sans-I/O core of qkvd (design.md §3), a dispatcher. It takes client requests
// and peer messages in, with the current time, hands each to the part that owns it, then
// commits the staged writes and sends what waited on the commit. Effects leave through
// Transport and Storage. The parts (node/README.md maps them):
//   - KeyRequest (key_request.h): a client's get/put/delete parsed and checked once;
//   - Forwarder (forwarder.h): requests for keys this node is not a primary of;
//   - PutCoordinator, GetCoordinator (coordinator/): rounds this node coordinates;
//   - Replica (replica.h): this node as a replica, the one group-commit write path;
//   - HeldRanges (held_ranges.h): ring, next ring, and the ranges held in a transition;
//   - InFlight (in_flight.h): request ids, alarms, where answers go;
//   - HintDelivery (hint_delivery.h), AntiEntropy (anti_entropy.h), OwnershipTransfer
//     (transfer.h), Reaper (reaper.h): the background exchanges; status.h: counters and
//     the status answer.
//
// Request path (Dynamo §4.5): any node accepts a client request. If it is not a primary of
// the key (the first N distinct owners on the ring), it forwards the request to a primary.
// A primary coordinates: for a put it creates a new dot, stores it, sends the new state to
// the other primaries and answers after W acks; for a get it answers after R replies with
// the join of what it received. Deletes are puts of a tombstone, reaped once every
// primary holds it and its grace has passed (node/reaper.h).
//
// Serialization: every call runs to completion on the caller's thread and storage calls are
// synchronous, so a coordinator's read-modify-write of a key is never interleaved with
// another request's: concurrent puts to one key become siblings, never lost updates.
//
// Group commit: the writes of one event, or of every event between begin_batch() and
// commit_batch(), reach storage in one Storage::write (node/replica.h).
//
// Thread-safety: none. qkvd calls it from its one io_context thread (the core thread); the
// commit pipeline's writes run on the committer's thread (set_committer).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "node/anti_entropy.h"
#include "node/committer.h"
#include "node/coordinator/conditional_write.h"
#include "node/coordinator/get_coordinator.h"
#include "node/coordinator/put_coordinator.h"
#include "node/forwarder.h"
#include "node/handoff/hinted_handoff.h"
#include "node/held_ranges.h"
#include "node/hint_delivery.h"
#include "node/in_flight.h"
#include "node/liveness.h"
#include "node/node_config.h"
#include "node/node_transport.h"
#include "node/reaper.h"
#include "node/replica.h"
#include "node/reply.h"
#include "node/status.h"
#include "node/storage/storage.h"
#include "node/transfer.h"
#include "ring/ring.h"

namespace qkv::node {

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

  // Membership (node/membership.h feeds these from gossip). A newer ring replaces the
  // current one for new requests. `is_up` is the failure detector's verdict: coordinators
  // skip down replicas (sloppy quorum) and hints are delivered to nodes that are up.
  // Default: all up.
  //
  // Ring transitions (node/transfer.h, node/held_ranges.h): with `next` non-null, `ring`
  // still serves reads and coordinates; every write also goes to the key's receivers, each
  // raising the write quorum by one (W + p), replicas accept writes for ranges they hold in
  // either ring, and this node pulls the ranges it receives. `version` is the ring's
  // version (gossip). Ranges this node held and no longer replicates are deleted once
  // every member has applied the ring that took them away (set_ring_applied). `removed`:
  // members the transition removes without a handoff (never a transfer source).
  void set_ring(std::shared_ptr<const ring::Ring> ring,
                std::shared_ptr<const ring::Ring> next = nullptr, uint64_t version = 0,
                std::vector<NodeId> removed = {});
  // The lowest ring version every member has applied (gossip's NodeState::ring_version of
  // the live members): transfers start once it reaches the transition's version, and old
  // ranges are deleted once it reaches the version that took them away.
  void set_ring_applied(uint64_t version, TimePoint now);
  // Ranges (partitions) whose keys this node holds: replicated in the ring or the next one,
  // or waiting to be deleted.
  const std::set<uint32_t>& held_ranges() const { return held_.held(); }
  // The ring version this node may report as applied: its ring's, or older while a put
  // coordinated under an older ring is still in flight (PutCoordinator::
  // oldest_ring_version). Ownership transfers start only once every live member reports
  // the transition's version, so a write sent to the old replicas alone has landed (or
  // failed) before a receiver copies their ranges.
  uint64_t ring_version_in_use() const {
    return std::min(held_.version(), puts_.oldest_ring_version());
  }
  OwnershipTransfer& transfer() { return transfer_; }
  const OwnershipTransfer& transfer() const { return transfer_; }
  void set_liveness(std::function<bool(const NodeId&)> is_up);
  // The link layer's suspicion (node/liveness.h): suspect replicas are still asked, and
  // coordinators take stand-ins beside them at once. Default: none.
  void set_suspicion(std::function<bool(const NodeId&)> suspect) {
    liveness_.set_suspect(std::move(suspect));
  }
  // Counters of the driver's own parts (gossip, handoff) added to the status response.
  using CounterList = std::vector<std::pair<std::string, uint64_t>>;
  void set_extra_counters(std::function<CounterList()> f) { extra_counters_ = std::move(f); }

  void on_client_request(ClientId client, proto::ClientRequest request, TimePoint now);
  // A request (Forward, ReplicaRead, ReplicaWrite) that arrives past its deadline is
  // dropped unanswered and counted (node/deadline.h).
  void on_peer_message(PeerMessage message, TimePoint now);
  // The driver could not deliver to `peer` (connection refused or broken): rounds waiting on
  // it count it as failed now instead of at their deadline, and forwards fail over.
  void on_peer_unreachable(const NodeId& peer, TimePoint now);
  // A link to `peer` broke (or went silent) after frames were sent on it: only what is safe
  // to resend acts now (hint deliveries fail and are replayed later); rounds and forwards
  // wait for their own alarms, since what they sent may have arrived.
  void on_peer_link_broke(const NodeId& peer, TimePoint now);
  // Background work (hint deliveries, anti-entropy, transfers) and the alarms due by now.
  void on_tick(TimePoint now);

  // Group commit (see the top of this file). Between begin_batch() and commit_batch() the
  // events' writes are staged; commit_batch() writes them in one storage write, then sends
  // what waited on them. Without an open batch every event commits its own writes before
  // it returns. qkvd opens a batch for the frames of one io_context turn.
  void begin_batch() { batch_open_ = true; }
  void commit_batch();
  bool batch_open() const { return batch_open_; }

  // Commit pipeline (node/committer.h). With a committer, a group commit's storage write
  // runs where the committer runs it (qkvd: the storage thread) and the node goes on: it
  // serves reads, which see the committing batch's states, and stages the next group
  // commit, which starts once this one has ended. What waits on a commit (replica acks,
  // coordinated rounds, the trees' and the version cache's updates) happens at its end,
  // on_commit_done. A failed commit also fails what was staged while it was in flight, since
  // that may build on states that never reached storage. Scans that must see every commit
  // (tree builds, dropping ranges) wait for the one in flight first, and a transfer's
  // range is reported done only once what it joined is committed.
  // `committer` outlives this or is reset before it goes; null: writes on this thread.
  // REQUIRES: no commit in flight.
  void set_committer(Committer* committer);
  // The driver's call once the committer's write has ended (spurious calls are harmless).
  void on_commit_done(TimePoint now);
  bool commit_in_flight() const { return commit_in_flight_; }
  // Waits for the commit in flight and commits what is staged, on return all of it in
  // storage (or failed): before a node stops or saves its trees.
  void commit_now();

  // The earliest alarm of an in-flight request, if any: call on_tick then.
  std::optional<TimePoint> next_deadline() const { return in_flight_.next_alarm(); }
  // Requests in flight (coordinated or forwarded, not yet finished).
  std::size_t in_flight() const { return in_flight_.size(); }
  // Of those, the ones no local client waits for: rounds living on after their answer (a
  // put answered at W < N until its other replicas ack) and requests coordinated for
  // forwarding peers. What qkvd's backpressure bounds (Limits::in_flight_max).
  std::size_t in_flight_unawaited() const {
    return in_flight_.size() - in_flight_.client_requests();
  }
  // Hint deliveries sent and not yet acked (bounded by the handoff's delivery timeout).
  std::size_t hint_deliveries_in_flight() const { return hints_.in_flight(); }
  const NodeCounters& counters() const { return counters_; }
  // What a status request is answered with (qkvctl status; GET /api/v1/status).
  proto::StatusResponse status(TimePoint now) const;
  // Latency histograms (node/latencies.h); qkvd sets their microsecond source.
  Latencies& latencies() { return latencies_; }
  const Latencies& latencies() const { return latencies_; }
  // Events for the driver's log at warn level (keys past siblings_warn), oldest first.
  std::vector<LogEvent> take_log_events() { return puts_.take_log_events(); }
  // Null until the ring is known.
  const std::shared_ptr<const ring::Ring>& ring() const { return held_.ring(); }
  const NodeConfig& config() const { return config_; }
  // Active anti-entropy: trees of the partitions this node replicates, exchanges, repairs.
  AntiEntropy& anti_entropy() { return aae_; }
  const AntiEntropy& anti_entropy() const { return aae_; }

 private:
  void handle_request(ReplyTo reply_to, proto::ClientRequest request, bool forwarded,
                      TimePoint now);
  // Ring, status, repair and snapshot requests: answered here, at once.
  void handle_admin_request(const ReplyTo& reply_to, const proto::ClientRequest& request,
                            TimePoint now);
  // A snapshot of the storage (node/snapshot.h), where the request and snapshot_dir allow.
  Result<proto::SnapshotResponse> snapshot_of_storage(const proto::SnapshotRequest& request);
  void handle_key_request(ReplyTo reply_to, KeyRequest request, bool forwarded, TimePoint now);
  // Client requests taken and not answered: tracked ones, and puts staged for the batch's
  // commit (group commit stages a whole read's worth before any is tracked).
  std::size_t client_requests_in_flight() const {
    return in_flight_.client_requests() + puts_.staged_client_requests();
  }
  // True (and counted) if `message` is a request that arrived past its deadline.
  bool expired(const PeerMessage& message);
  void on_round_reply(uint64_t id, const NodeId& from, const Status& status,
                      std::optional<causal::SiblingSet> state);
  void on_alarm(uint64_t id, TimePoint now);
  // Deletes the held ranges whose drop version every member has applied.
  void drop_ranges();
  int64_t unix_ms() const { return unix_ms_ ? unix_ms_() : 0; }
  // Commits the staged writes unless a batch is open (the end of every event).
  void end_event() {
    if (!batch_open_) commit_writes();
  }
  void commit_writes();
  // The end of a commit (in flight or written here) with the write's status.
  void finish_commit(Status committed);

  NodeConfig config_;
  storage::Storage& storage_;  // for snapshots; reads and writes go through replica_
  causal::Actor actor_;
  TimePoint started_;
  TimePoint now_;  // of the latest event
  std::function<int64_t()> unix_ms_;
  std::function<CounterList()> extra_counters_;
  NodeCounters counters_;
  Latencies latencies_;
  HeldRanges held_;
  Liveness liveness_;
  InFlight in_flight_;
  Replier replier_;
  Replica replica_;
  AntiEntropy aae_;
  OwnershipTransfer transfer_;
  PutCoordinator puts_;
  GetCoordinator gets_;
  ConditionalWrites conditional_;
  Forwarder forwarder_;
  HintDelivery hints_;
  Reaper reaper_;
  bool batch_open_ = false;
  Committer* committer_ = nullptr;
  bool commit_in_flight_ = false;
};

}  // namespace qkv::node
