// Membership's part in cluster identity (issue 15): a fresh initial member's first ring,
// made only once gossip shows no cluster disagrees (node/first_ring.h), and the log lines of
// gossip refused for being of another cluster or for holding another table under this
// node's ring version (gossip/gossip_core.h).
#include <fmt/format.h>

#include "common/assert.h"
#include "node/first_ring.h"
#include "node/membership.h"

namespace qkv::node {
namespace {

constexpr Duration kWaitingLogInterval{10'000};

std::string hex(uint64_t value) {
  return fmt::format("{:#018x}", value);
}

}  // namespace

void Membership::set_first_ring(gossip::RingState ring) {
  QKV_ASSERT(gossip_.ring().version == 0 && ring.version != 0);
  first_ring_since_ = clock_.now();
  first_ring_log_due_ = first_ring_since_;
  first_ring_ = std::move(ring);
}

void Membership::step_first_ring(TimePoint now) {
  if (!first_ring_ || fatal_) return;
  if (gossip_.ring().version != 0) {  // gossip brought this cluster's ring: nothing to make
    first_ring_.reset();
    return;
  }
  const Duration waited = now - first_ring_since_;
  const FirstRingStep step = first_ring_step(*first_ring_, gossip_.self().id, gossip_.members(),
                                             waited, kFirstRingWaitRounds * gossip_interval_);
  if (!step.create) {
    if (now < first_ring_log_due_) return;
    first_ring_log_due_ = now + kWaitingLogInterval;
    std::string waiting;
    for (const NodeId& id : step.waiting_for) waiting += (waiting.empty() ? "" : ",") + id;
    log(LogEvent::info("first_ring_waiting")
            .with("waiting_for", waiting)
            .with("waited_ms", waited.count())
            .with("cluster_id", hex(first_ring_->cluster_id)));
    return;
  }
  gossip::RingState ring = std::move(*first_ring_);
  first_ring_.reset();
  log(LogEvent::info("first_ring_created")
          .with("cluster_id", hex(ring.cluster_id))
          .with("members", ring_members_text(ring))
          .with("waited_ms", waited.count())
          .with("waited_out", step.waited_out));
  if (Status s = gossip_.set_ring(std::move(ring)); !s.is_ok()) {
    log(LogEvent::warn("ring_not_published").with("error", s));
  }
  on_events();
}

void Membership::on_sighting(const gossip::Event& event) {
  auto it = gossip_.sightings().find(event.id);
  if (it == gossip_.sightings().end()) return;
  const gossip::Sighting& seen = it->second;
  if (event.kind == gossip::Event::kRingConflict) {
    // Two tables under one version of one cluster: a second writer of ring versions. Never
    // in a correct cluster; neither table replaces the other, so say it loudly.
    log(LogEvent::error("ring_conflict")
            .with("peer", seen.peer)
            .with("peer_address", seen.peer_address)
            .with("version", seen.ring_version)
            .with("ring_hash", hex(seen.ring_hash))
            .with("own_ring_hash", hex(gossip_.ring_hash()))
            .with("action", "refused"));
    return;
  }
  const std::string members = seen.ring ? ring_members_text(*seen.ring) : "";
  if (first_ring_ && gossip_.ring().version == 0) {
    fatal_ = first_ring_refusal(seen, *first_ring_);
    log(LogEvent::critical("first_ring_refused")
            .with("peer", seen.peer)
            .with("peer_address", seen.peer_address)
            .with("cluster_id", hex(seen.cluster_id))
            .with("own_cluster_id", hex(first_ring_->cluster_id))
            .with("ring_version", seen.ring_version)
            .with("ring_members", members)
            .with("error", *fatal_));
    first_ring_.reset();
    return;
  }
  log(LogEvent::error("gossip_foreign_cluster")
          .with("peer", seen.peer)
          .with("peer_address", seen.peer_address)
          .with("cluster_id", hex(seen.cluster_id))
          .with("own_cluster_id", hex(gossip_.cluster_id()))
          .with("ring_version", seen.ring_version)
          .with("ring_members", members)
          .with("action", "refused"));
}

}  // namespace qkv::node
