#include "node/hint_delivery.h"

#include "node/deadline.h"

namespace qkv::node {

HintDelivery::HintDelivery(NodeId self, Transport& transport, InFlight& in_flight,
                           handoff::HintedHandoff* handoff, const Liveness& liveness,
                           const HeldRanges& held, std::function<int64_t()> unix_ms)
    : self_(std::move(self)),
      transport_(transport),
      in_flight_(in_flight),
      handoff_(handoff),
      liveness_(liveness),
      held_(held),
      unix_ms_(std::move(unix_ms)) {}

void HintDelivery::deliver(TimePoint now) {
  if (!handoff_) return;
  const Duration forget_after = handoff_->config().delivery_timeout;
  std::erase_if(deliveries_, [&](const auto& e) { return now - e.second.sent > forget_after; });
  int64_t unix_ms = unix_ms_ ? unix_ms_() : 0;
  // A target that owns nothing in the ring will not be back for its hints: they are
  // re-homed (destination()), whatever its liveness.
  auto due = handoff_->due(now, unix_ms, [this](const NodeId& node) {
    return node != self_ && (liveness_.is_up(node) || !held_.is_ring_member(node));
  });
  for (auto& d : due) {
    NodeId to = destination(d);
    if (to.empty()) {
      handoff_->on_ack(d.id, Status::unavailable(d.target + " no longer replicates the key "
                                                            "and no other primary of it is up"));
      continue;
    }
    uint64_t id = in_flight_.next_id();
    // Past delivery_timeout this node gives up on the delivery (and sends it again later):
    // the target drops it if it arrives after that (node/deadline.h).
    Status sent =
        transport_.send(to, PeerMessage{self_, id, ReplicaWrite{d.key, std::move(d.state), {}},
                                        deadline_after(unix_ms, forget_after)});
    if (!sent.is_ok()) {
      handoff_->on_ack(d.id, sent);
      continue;
    }
    deliveries_.emplace(id, Sent{d.id, now, std::move(to)});
  }
}

NodeId HintDelivery::destination(const handoff::HintedHandoff::Delivery& d) const {
  if (held_.is_replica(d.target, d.token)) return d.target;
  for (const NodeId& primary : held_.primaries_of(d.token)) {
    if (primary != self_ && liveness_.is_up(primary)) return primary;
  }
  return {};
}

bool HintDelivery::on_ack(uint64_t id, const Status& status) {
  auto delivery = deliveries_.find(id);
  if (delivery == deliveries_.end()) return false;
  if (handoff_) handoff_->on_ack(delivery->second.delivery_id, status);
  deliveries_.erase(delivery);
  return true;
}

void HintDelivery::on_peer_unreachable(const NodeId& peer) {
  for (auto it = deliveries_.begin(); it != deliveries_.end();) {
    if (it->second.target != peer) {
      ++it;
      continue;
    }
    if (handoff_)
      handoff_->on_ack(it->second.delivery_id, Status::unavailable(peer + " is unreachable"));
    it = deliveries_.erase(it);
  }
}

}  // namespace qkv::node
