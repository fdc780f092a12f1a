// Liveness: the failure detector's verdict as the node core sees it (node/membership.h
// installs gossip's phi-accrual detector), and the link layer's suspicion (qkvd: a peer
// link whose ping went unanswered for an interval, net/peer_links.h silent()).
//
// - up: neither convicted nor suspect; forwards try up primaries first, stand-ins and hint
//   deliveries go to up nodes.
// - convicted: the failure detector holds it down; coordinators do not send it requests:
//   they fail at once and get stand-ins (sloppy quorum).
// - suspect: not convicted, but its link is silent. A node that is merely slow (a CPU
//   starved for a moment) is still sent the request, and may still answer in time, while
//   coordinators take stand-ins at once beside it: the request waits neither for the
//   alarm nor on a node that may be gone.
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
  // The failure detector's verdict (true: not convicted). Until set, every node is up.
  void set(std::function<bool(const NodeId&)> is_up) { is_up_ = std::move(is_up); }
  // The link layer's suspicion. Until set, none is suspect.
  void set_suspect(std::function<bool(const NodeId&)> suspect) { suspect_ = std::move(suspect); }
  // This node is always up to itself, never convicted or suspect.
  bool is_up(const NodeId& node) const { return !is_convicted(node) && !is_suspect(node); }
  bool is_convicted(const NodeId& node) const { return node != self_ && is_up_ && !is_up_(node); }
  bool is_suspect(const NodeId& node) const {
    return node != self_ && suspect_ && suspect_(node) && !is_convicted(node);
  }

 private:
  NodeId self_;
  std::function<bool(const NodeId&)> is_up_;
  std::function<bool(const NodeId&)> suspect_;
};

}  // namespace qkv::node
