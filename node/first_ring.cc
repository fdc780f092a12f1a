#include "node/first_ring.h"

#include <fmt/format.h>

#include <set>

namespace qkv::node {
namespace {

std::set<NodeId> ring_members(const gossip::RingState& ring) {
  std::set<NodeId> out(ring.owners.begin(), ring.owners.end());
  out.insert(ring.next_owners.begin(), ring.next_owners.end());
  return out;
}

}  // namespace

FirstRingStep first_ring_step(const gossip::RingState& first, const NodeId& self,
                              const std::map<NodeId, gossip::NodeState>& members, Duration waited,
                              Duration wait_max) {
  FirstRingStep step;
  bool ring_held = false;  // a member of this cluster holds a ring: gossip brings it
  for (const NodeId& id : ring_members(first)) {
    if (id == self) continue;
    auto it = members.find(id);
    if (it == members.end()) {
      step.waiting_for.push_back(id);
    } else if (it->second.ring_version != 0) {
      ring_held = true;
      step.waiting_for.push_back(id);
    }
  }
  if (step.waiting_for.empty()) {
    step.create = true;
  } else if (!ring_held && waited >= wait_max) {
    step.create = true;
    step.waited_out = true;
  }
  return step;
}

std::string ring_members_text(const gossip::RingState& ring) {
  std::string out;
  for (const NodeId& id : ring_members(ring)) out += (out.empty() ? "" : ",") + id;
  return out;
}

Status first_ring_refusal(const gossip::Sighting& seen, const gossip::RingState& first) {
  const std::string met =
      seen.ring ? fmt::format("a cluster whose ring (version {}) has the members {}",
                              seen.ring->version, ring_members_text(*seen.ring))
                : fmt::format("a node configured for another cluster (ring version {})",
                              seen.ring_version);
  return Status::invalid_argument(fmt::format(
      "this node's configured members ({}) make cluster {:#018x}, but peer {} ({}) is of "
      "cluster {:#018x}: {}. This node made no ring and stops rather than serve a competing "
      "one. To join that cluster, start this node with no members and --seeds (peer addresses "
      "of its nodes), then add it with `qkvctl node join`; if it should be one of the initial "
      "members, give every initial member the same members, partitions and n",
      ring_members_text(first), first.cluster_id, seen.peer,
      seen.peer_address.empty() ? "address unknown" : seen.peer_address, seen.cluster_id, met));
}

}  // namespace qkv::node
