// GetCoordinator: this node coordinating reads of keys — the driver of GetRound
// (node/coordinator/get_round.h): it reads its own copy (staged writes included), asks the
// other primaries, and a fallback for each primary that fails — one the failure detector
// holds down is not asked and fails at once, as for puts — or is still silent at the
// stand-in alarm (sloppy read, Dynamo §4.6); it answers after R replies (PR of them
// primaries) with their join and the nodes that answered, and once every node asked
// answered (or the deadline passed) sends the merged state to the stale primaries (read
// repair, Dynamo §4.7; never to a fallback). Replica reads carry the request's deadline
// (node/deadline.h).
//
// Digest reads (node/coordinator/get_round.h): the state is read from this node when it is
// a primary (no message), else from the first primary the failure detector holds neither
// down nor suspect; the other primaries are asked for digests. A digest that matches no
// state received costs a second read of that replica (`digest_mismatches`).
//
// The stand-in alarm is latency-based, as a put's (node/coordinator/put_coordinator.h):
// twice the slowest other primary's recent p99 read latency, within [stand_in_alarm_min,
// request_timeout / 2] (a primary never heard from gives the latter), from its own
// ReplicaLatency of read replies — Cassandra's speculative retry for reads.
//
// Stand-in candidates: the preference list's fallbacks that the failure detector holds up,
// in ring order, minus the key's receivers in a ring transition — the choice a put makes
// for its stand-ins (node/coordinator/put_coordinator.cc) while no fallback is down, so a
// read asks the fallbacks that took the hints. (A put also tries fallbacks believed down
// once the up ones ran out; a read does not: it would wait on them to no end.)
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "node/coordinator/get_round.h"
#include "node/coordinator/replica_latency.h"
#include "node/held_ranges.h"
#include "node/in_flight.h"
#include "node/key_request.h"
#include "node/liveness.h"
#include "node/node_transport.h"
#include "node/replica.h"
#include "node/reply.h"
#include "node/status.h"

namespace qkv::node {

class GetCoordinator {
 public:
  // Every reference outlives this; `unix_ms` gives wall-clock ms for the deadline replica
  // reads carry (node/deadline.h; empty: none is sent).
  GetCoordinator(const NodeConfig& config, Transport& transport, InFlight& in_flight,
                 Replier& replier, Replica& replica, const HeldRanges& held,
                 const Liveness& liveness, NodeCounters& counters,
                 std::function<int64_t()> unix_ms = {});

  // What a read for another part of the node (a conditional write's pre-read,
  // node/coordinator/conditional_write.h) gets instead of a client answer, once the round
  // is decided: its result (ok, or unavailable naming the quorum unmet), the merged state
  // of the replicas that answered (empty unless ok), and who answered. Called once, from
  // inside start() or a later event; read repair still follows as for a client's get.
  using OnRead = std::function<void(const Status& status, const causal::SiblingSet& merged,
                                    const std::vector<proto::ReplicaAnswer>& answered)>;

  // Coordinates a located get: `reply_to` gets the answer, or `on_read` (when set) the
  // result. REQUIRES: request.kind is kGet.
  void start(ReplyTo reply_to, const KeyRequest& request, TimePoint now, OnRead on_read = {});
  // A get of this node's copy alone (no quorum, no repair).
  void reply_local(const ReplyTo& reply_to, const KeyRequest& request);

  // A replica's answer (a state, or an error) for round `id`, at `now` (an answer's
  // latency is recorded).
  void on_reply(uint64_t id, const NodeId& from, const Status& status,
                std::optional<causal::SiblingSet> state, TimePoint now);
  // A replica's digest answer for round `id` (a digest read), at `now`.
  void on_digest(uint64_t id, const NodeId& from, const causal::StateSummary::Digest& digest,
                 TimePoint now);
  // The alarm of round `id`: the stand-in alarm before its deadline, else the deadline.
  void on_alarm(uint64_t id, TimePoint now);
  // `peer`'s link broke: every round counts it as failed.
  void on_peer_unreachable(const NodeId& peer);

 private:
  struct Op {
    coordinator::GetRound round;
    std::string key;
    ring::Token token = 0;
    uint64_t deadline_unix_ms = 0;  // sent with each read (node/deadline.h)
    TimePoint started{};            // answers' latency from here
    bool answered = false;  // the client has its answer; waiting on the rest for read repair
    OnRead on_read;         // set: the result goes here, not to a client
  };
  // The stand-in candidates of the key, in the order to try them (see the top).
  std::vector<NodeId> stand_ins(const KeyRequest& request) const;
  // The primary a get reads the state of, the others being asked for digests (see the top).
  NodeId data_from(const std::vector<NodeId>& primaries) const;
  // Executes `reads` in order: this node's own read at once, the others sent; a read that
  // fails at once is fed back before the next (its stand-in is read in turn).
  void execute(uint64_t id, Op& op, std::vector<coordinator::ReadFrom> reads);
  // Feeds an answer or failure of `from` to round `id`, then progress().
  void on_result(uint64_t id, const NodeId& from, const Status& status,
                 std::optional<causal::SiblingSet> state);
  // Answers once decided; once every node asked answered (or the deadline passed), repairs
  // the stale primaries and forgets the round.
  void progress(uint64_t id);
  // Once answered and every node asked answered (or the deadline passed): read repair, and
  // the round is forgotten.
  void progress_repair(uint64_t id);
  void read_repair(const std::string& key, const coordinator::GetRound& round);

  const NodeConfig& config_;
  Transport& transport_;
  InFlight& in_flight_;
  Replier& replier_;
  Replica& replica_;
  const HeldRanges& held_;
  const Liveness& liveness_;
  NodeCounters& counters_;
  std::function<int64_t()> unix_ms_;
  coordinator::ReplicaLatency latency_;  // of replica reads, apart from writes'
  std::map<uint64_t, Op> ops_;
};

}  // namespace qkv::node
