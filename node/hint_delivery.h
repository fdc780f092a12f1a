// HintDelivery: the hinted handoff core's deliveries (node/handoff/hinted_handoff.h) sent
// as replica writes to their primaries once they are up again (Dynamo §4.6), and their
// acks fed back to the core.
//
// A delivery whose ack never comes (the frame was dropped, the target died) is forgotten
// after the handoff's delivery timeout, by which time the handoff core has released it for
// a retry; sooner when the link to its target breaks (on_peer_unreachable): replaying a
// hint is a join, so failing one that did arrive costs only a second replay.
//
// Re-homing: a hint whose target is no longer a replica of its key in this node's ring (the
// target was removed with `node remove`, left, or the key's range moved away from it in a
// later ring change) is delivered to one of the key's current primaries instead (the first
// that is up, this node excepted), and a target that owns nothing in the ring is taken as
// up for this. Replaying a hint is a join, so its write lands on a replica, from where
// anti-entropy spreads it, instead of waiting for a target that will never take it until
// it expires (and holding up the exit of a node that leaves). Riak hands a fallback's data
// to the partition's owner of the moment likewise.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "common/clock.h"
#include "node/handoff/hinted_handoff.h"
#include "node/held_ranges.h"
#include "node/in_flight.h"
#include "node/liveness.h"
#include "node/node_transport.h"

namespace qkv::node {

class HintDelivery {
 public:
  // Every reference outlives this; `handoff` may be null (hinted handoff off): nothing is
  // delivered. `unix_ms` gives wall-clock ms for hint ages.
  HintDelivery(NodeId self, Transport& transport, InFlight& in_flight,
               handoff::HintedHandoff* handoff, const Liveness& liveness, const HeldRanges& held,
               std::function<int64_t()> unix_ms);

  // Sends the deliveries due now (to primaries that are up; re-homed ones to a current
  // primary). REQUIRES: held.ring().
  void deliver(TimePoint now);
  // True if `id` is a delivery of ours: the ack goes to the handoff core.
  bool on_ack(uint64_t id, const Status& status);
  // The link to `peer` broke or went silent: its deliveries in flight fail now (the target
  // backs off), instead of holding the handoff's in-flight budget until their timeout.
  void on_peer_unreachable(const NodeId& peer);
  // Deliveries sent and not yet acked (bounded by the handoff's delivery timeout).
  std::size_t in_flight() const { return deliveries_.size(); }

 private:
  struct Sent {
    uint64_t delivery_id;
    TimePoint sent;
    NodeId target;  // where it was sent (a current primary when re-homed)
  };
  // Where delivery `d` goes: its target while that is a replica of the key, else the first
  // current primary that is up (not this node); empty if none.
  NodeId destination(const handoff::HintedHandoff::Delivery& d) const;
  NodeId self_;
  Transport& transport_;
  InFlight& in_flight_;
  handoff::HintedHandoff* handoff_;
  const Liveness& liveness_;
  const HeldRanges& held_;
  std::function<int64_t()> unix_ms_;
  std::map<uint64_t, Sent> deliveries_;  // our request id -> the handoff delivery it carries
};

}  // namespace qkv::node
