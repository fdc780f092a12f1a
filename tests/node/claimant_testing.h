// What the claimant's tests share: members as gossip holds them and a first ring.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gossip/node_state.h"
#include "ring/ring.h"

namespace qkv::node::testing {

inline constexpr uint32_t kQ = 64;
inline constexpr uint32_t kN = 3;

// Member `id` ("nK") with addresses 10.0.0.K:7000 (peer) and 10.0.0.K:8000 (client).
inline gossip::NodeState member(const NodeId& id, const std::string& zone = "",
                                gossip::Status status = gossip::Status::kNormal) {
  gossip::NodeState s;
  s.id = id;
  s.generation = 1;
  s.version = 1;
  s.peer_address = "10.0.0." + id.substr(1) + ":7000";
  s.client_address = "10.0.0." + id.substr(1) + ":8000";
  s.zone = zone;
  s.status = status;
  return s;
}

// A ring claimed by `owners` (Q=64, n=3) at version 1 with claimant n1.
inline gossip::RingState make_ring(const std::vector<NodeId>& owners) {
  Result<ring::Ring> claimed = ring::Ring::claim(owners, kQ, kN);
  EXPECT_TRUE(claimed.is_ok());
  gossip::RingState ring;
  ring.version = 1;
  ring.n = kN;
  ring.owners = claimed->owners();
  ring.claimant = "n1";
  return ring;
}

}  // namespace qkv::node::testing
