// HintDelivery: the hinted handoff core's deliveries (node/handoff/hinted_handoff.h) sent
// as replica writes to their primaries once they are up again (Dynamo §4.6), and their
// acks fed back to the core.
//
// A delivery whose ack never comes (the frame was dropped, the target died) is forgotten
// after the handoff's delivery timeout, by which time the handoff core has released it for
// a retry; sooner when the link to its target breaks (on_peer_unreachable): replaying a
// hint is a join, so failing one that did arrive costs only a second replay.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "common/clock.h"
#include "node/handoff/hinted_handoff.h"
#include "node/in_flight.h"
#include "node/liveness.h"
#include "node/node_transport.h"

namespace qkv::node {

class HintDelivery {
 public:
  // Every reference outlives this; `handoff` may be null (hinted handoff off): nothing is
  // delivered. `unix_ms` gives wall-clock ms for hint ages.
  HintDelivery(NodeId self, Transport& transport, InFlight& in_flight,
               handoff::HintedHandoff* handoff, const Liveness& liveness,
               std::function<int64_t()> unix_ms);

  // Sends the deliveries due now (to primaries that are up).
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
    NodeId target;
  };
  NodeId self_;
  Transport& transport_;
  InFlight& in_flight_;
  handoff::HintedHandoff* handoff_;
  const Liveness& liveness_;
  std::function<int64_t()> unix_ms_;
  std::map<uint64_t, Sent> deliveries_;  // our request id -> the handoff delivery it carries
};

}  // namespace qkv::node
