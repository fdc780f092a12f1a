// GetCoordinator: this node coordinating reads of keys — the driver of GetRound
// (node/coordinator/get_round.h): it reads its own copy (staged writes included), asks the
// other primaries, answers after R replies with their join, and once every replica
// answered (or the deadline passed) sends the merged state to the stale ones (read repair,
// Dynamo §4.7).
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "node/coordinator/get_round.h"
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
  // Every reference outlives this.
  GetCoordinator(const NodeConfig& config, Transport& transport, InFlight& in_flight,
                 Replier& replier, Replica& replica, const HeldRanges& held,
                 const Liveness& liveness, NodeCounters& counters);

  // Coordinates a located get. REQUIRES: request.kind is kGet.
  void start(ReplyTo reply_to, const KeyRequest& request);
  // A get of this node's copy alone (no quorum, no repair).
  void reply_local(const ReplyTo& reply_to, const KeyRequest& request);

  // A replica's answer (a state, or an error) for round `id`.
  void on_reply(uint64_t id, const NodeId& from, const Status& status,
                std::optional<causal::SiblingSet> state);
  // The deadline of round `id`.
  void on_alarm(uint64_t id);
  // `peer`'s link broke: every round counts it as failed.
  void on_peer_unreachable(const NodeId& peer);

 private:
  struct Op {
    coordinator::GetRound round;
    std::string key;
    bool answered = false;  // the client has its answer; waiting on the rest for read repair
  };
  // Answers once decided; once every replica answered (or the deadline passed), repairs
  // the stale ones and forgets the round.
  void progress(uint64_t id);
  void read_repair(const std::string& key, const coordinator::GetRound& round);

  const NodeConfig& config_;
  Transport& transport_;
  InFlight& in_flight_;
  Replier& replier_;
  Replica& replica_;
  const HeldRanges& held_;
  const Liveness& liveness_;
  NodeCounters& counters_;
  std::map<uint64_t, Op> ops_;
};

}  // namespace qkv::node
