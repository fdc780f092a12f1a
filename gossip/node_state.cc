#include "gossip/node_state.h"

namespace qkv::gossip {

std::string_view status_name(Status status) {
  switch (status) {
    case Status::kJoining:
      return "joining";
    case Status::kNormal:
      return "normal";
    case Status::kLeaving:
      return "leaving";
    case Status::kRemoved:
      return "removed";
  }
  return "unknown";
}

bool NodeState::differs_in_substance(const NodeState& other) const {
  return generation != other.generation || status != other.status ||
         peer_address != other.peer_address || client_address != other.client_address ||
         zone != other.zone || ring_version != other.ring_version ||
         transfers_done != other.transfers_done || http_address != other.http_address ||
         cluster_id != other.cluster_id;
}

}  // namespace qkv::gossip
