// ConditionalWrites: this node coordinating conditional puts and deletes
// (proto::WriteCondition: put-if-absent, put/delete-if-unchanged; issue 18).
//
// Where they run: the key's first primary that is up (first_up_primary), so conditional
// writers of one key racing through different nodes meet at one coordinator; any other
// node forwards them there (node/node.cc). A node that receives a forwarded one
// coordinates it even if its own view would choose another (no forwarding loops).
//
// How: the coordinator first reads the key from the replicas as a get does (R = the
// node's configured r, sloppy, node/coordinator/get_coordinator.h) and joins the answer
// into its own copy (as read repair would: it is a replica), so a write it missed while
// down is seen. Then, in one synchronous step, it checks the condition on its own copy
// (Replica::load, which sees staged writes not yet committed) and stages the write
// (PutCoordinator::start, Replica::updated reads the same staged state). Two conditional
// writes of a key at one coordinator therefore never both pass: whichever checks second
// sees the first one's staged dot. The write itself then proceeds as any write (W,
// stand-ins, hints).
//
// What is not promised: writers that reach different coordinators (the first primary's
// liveness seen differently, a ring change) are not serialized; nor are unconditional
// writes, which any primary coordinates. This is a check-and-set on one coordinator over a
// quorum read, not consensus.
//
// Errors: precondition_failed naming why ("put-if-absent refused: the key has 1 live
// value"); unavailable when the pre-read gets fewer than R answers ("conditional write
// needs a read quorum: ..."); the errors of a write.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "causal/sibling_set.h"
#include "common/status.h"
#include "node/coordinator/get_coordinator.h"
#include "node/coordinator/put_coordinator.h"
#include "node/held_ranges.h"
#include "node/key_request.h"
#include "node/liveness.h"
#include "node/replica.h"
#include "node/reply.h"
#include "node/status.h"
#include "ring/preference_list.h"

namespace qkv::node {

// The node that coordinates conditional writes of a key: its first primary that `liveness`
// holds up (this node is always up to itself); nullopt when none is.
std::optional<NodeId> first_up_primary(const ring::PreferenceList& list, const Liveness& liveness);

// Whether `request`'s condition holds on `state` (the key's state; nullopt: none) at
// `unix_ms` (the coordinator's clock, for expiry): ok, or precondition_failed saying why.
// kNone always holds. Pure.
Status check_condition(const KeyRequest& request, const std::optional<causal::SiblingSet>& state,
                       int64_t unix_ms);

class ConditionalWrites {
 public:
  // Every reference outlives this. `unix_ms` gives wall-clock ms (expiry); `now` the time
  // of the node's current event (the pre-read's answer arrives in a later one).
  ConditionalWrites(const NodeConfig& config, Replica& replica, const HeldRanges& held,
                    GetCoordinator& gets, PutCoordinator& puts, Replier& replier,
                    NodeCounters& counters, std::function<int64_t()> unix_ms,
                    std::function<TimePoint()> now);

  // Coordinates a located conditional write: the pre-read starts now; the check and the
  // write follow once it is decided. REQUIRES: request.is_write(), request.condition is not
  // kNone, this node takes writes for the key.
  void start(ReplyTo reply_to, const KeyRequest& request, TimePoint now);

 private:
  // The pre-read is decided: join, check, and write (or answer the refusal).
  void on_read(const ReplyTo& reply_to, const KeyRequest& request, const Status& status,
               const causal::SiblingSet& merged, const std::vector<proto::ReplicaAnswer>& answered);

  const NodeConfig& config_;
  Replica& replica_;
  const HeldRanges& held_;
  GetCoordinator& gets_;
  PutCoordinator& puts_;
  Replier& replier_;
  NodeCounters& counters_;
  std::function<int64_t()> unix_ms_;
  std::function<TimePoint()> now_;
};

}  // namespace qkv::node
