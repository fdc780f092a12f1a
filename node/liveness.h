// Liveness: the failure detector's verdict as the node core sees it (node/membership.h
// installs gossip's phi-accrual detector). Coordinators skip replicas that are down
// (sloppy quorum), forwards try up primaries first, hints go to nodes that are up.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <functional>
#include <utility>

#include "common/node_id.h"

namespace qkv::node {

class Liveness {
 public:
  explicit Liveness(NodeId self) : self_(std::move(self)) {}
  // Until set, every node is up.
  void set(std::function<bool(const NodeId&)> is_up) { is_up_ = std::move(is_up); }
  const std::function<bool(const NodeId&)>& function() const { return is_up_; }
  // This node is always up to itself.
  bool is_up(const NodeId& node) const { return node == self_ || !is_up_ || is_up_(node); }

 private:
  NodeId self_;
  std::function<bool(const NodeId&)> is_up_;
};

}  // namespace qkv::node
