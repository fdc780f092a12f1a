// PutCoordinator: this node coordinating writes (puts and deletes) of keys it is a primary
// of — the driver of PutRound (node/coordinator/put_round.h): it reads the local state,
// creates the new dot (SiblingSet::update, dropping what the client's causal context
// covers), stages it in the replica's write path, and once that copy is committed starts
// the round and executes its actions (sends, hints, the answer) until it is done.
//
// Stand-ins in milliseconds: the round's sloppy alarm (when replicas still silent get a
// stand-in) is twice the slowest replica's recent p99 ack latency, within
// [stand_in_alarm_min, request_timeout / 2] (ReplicaLatency), so a write during a
// partition costs about a healthy write's latency, not half its deadline.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "causal/sibling_set.h"
#include "common/log_event.h"
#include "node/coordinator/put_round.h"
#include "node/coordinator/replica_latency.h"
#include "node/handoff/hinted_handoff.h"
#include "node/held_ranges.h"
#include "node/in_flight.h"
#include "node/key_request.h"
#include "node/liveness.h"
#include "node/node_transport.h"
#include "node/replica.h"
#include "node/reply.h"
#include "node/status.h"

namespace qkv::node {

class PutCoordinator {
 public:
  // Every reference outlives this; `handoff` may be null (no hints kept); `unix_ms` gives
  // wall-clock ms for hint ages.
  PutCoordinator(const NodeConfig& config, const causal::Actor& actor, Transport& transport,
                 InFlight& in_flight, Replier& replier, Replica& replica, const HeldRanges& held,
                 const Liveness& liveness, handoff::HintedHandoff* handoff, NodeCounters& counters,
                 std::function<int64_t()> unix_ms);

  // Coordinates a located put or delete: the new state is staged, and the round starts
  // at on_committed(). REQUIRES: request.is_write(); this node takes writes for the key.
  // The request's value is moved into the new state.
  void start(ReplyTo reply_to, KeyRequest request, TimePoint now);
  // True if rounds wait for the staged writes' commit.
  bool has_staged() const { return !staged_.empty(); }
  // Staged and committing writes of local clients (not forwarded ones): not yet tracked by
  // InFlight.
  std::size_t staged_client_requests() const { return staged_clients_ + committing_clients_; }
  // The staged writes' commit started (Replica::start_commit): their rounds wait for
  // on_committed. REQUIRES: no commit started and not yet ended.
  void on_commit_started();
  // The commit that started last ended with `status`: its rounds start (ok), or their
  // clients get the error and no replica is sent anything.
  void on_committed(const Status& status);
  // After a failed commit (Replica::discard_staged): the staged writes are not committed;
  // their clients get `status`.
  void discard_staged(const Status& status);

  // A replica's ack (or error) for round `id`, at `now` (an ack's latency is recorded).
  void on_reply(uint64_t id, const NodeId& from, const Status& status, TimePoint now);
  // The alarm of round `id`: the sloppy alarm before its deadline, else the deadline.
  void on_alarm(uint64_t id, TimePoint now);
  // `peer`'s link broke: every round counts it as failed.
  void on_peer_unreachable(const NodeId& peer);
  // The oldest ring version among the rounds staged or in flight (their replicas were
  // chosen under it); UINT64_MAX with none. A node reports a ring version as applied only
  // once no round of an older one is left (Node::ring_version_in_use): a write chosen
  // without a transition's receivers must land on the old replicas before any receiver
  // copies their ranges, or the switch drops it.
  uint64_t oldest_ring_version() const;
  // Events for the driver's log (warn level), oldest first: keys past siblings_warn.
  std::vector<LogEvent> take_log_events() { return std::exchange(log_events_, {}); }

 private:
  struct Op {
    coordinator::PutRound round;
    // What every replica is sent (its request id is the round's; hint_for is set per
    // send): kept whole, so each send encodes it without a copy (Transport::send_copy_of).
    PeerMessage write;
    const std::string& key() const { return std::get<ReplicaWrite>(write.body).key; }
    const causal::SiblingSet& state() const { return std::get<ReplicaWrite>(write.body).state; }
    TimePoint started{};        // when the write was staged: acks' latency from here
    int64_t sent_us = 0;        // when the round sent it (node/latencies.h replica_write)
    uint64_t ring_version = 0;  // the ring version its replicas were chosen under
  };
  struct Staged {
    ReplyTo reply_to;
    TimePoint deadline;
    TimePoint sloppy_at;  // the stand-in alarm: silent replicas get a stand-in
    Op op;
  };
  // Sibling limits (Limits::siblings_warn, siblings_max) of a write's result: the refusal
  // naming siblings_max, or ok; counts and logs a write past the warning level.
  Status check_siblings(const std::string& key, std::size_t siblings, TimePoint now);
  void start_round(Staged staged);
  // Executes `actions` in order; a send that fails at once is fed back before the next.
  void execute(uint64_t id, Op& op, std::vector<coordinator::PutAction> actions);
  void answer(uint64_t id, const Op& op, Status status);
  // Feeds a reply or failure of `from` to round `id`, and forgets the round once done.
  void on_result(uint64_t id, const NodeId& from, const Status& status);
  // Forgets the round once done.
  void finish_if_done(uint64_t id);

  const NodeConfig& config_;
  const causal::Actor& actor_;
  Transport& transport_;
  InFlight& in_flight_;
  Replier& replier_;
  Replica& replica_;
  const HeldRanges& held_;
  const Liveness& liveness_;
  handoff::HintedHandoff* handoff_;
  NodeCounters& counters_;
  std::function<int64_t()> unix_ms_;
  coordinator::ReplicaLatency latency_;
  std::vector<Staged> staged_;      // waiting for the commit of their own copy
  std::size_t staged_clients_ = 0;  // of staged_, those of local clients
  std::vector<Staged> committing_;  // their copy's commit started
  std::size_t committing_clients_ = 0;
  std::map<uint64_t, Op> ops_;
  std::vector<LogEvent> log_events_;
  TimePoint next_siblings_log_{};
};

}  // namespace qkv::node
