// Membership's part in auto-join (node/auto_join.h): the joining node's requests and the
// claimant's side, its answers and its commits of automatic joins (node/claimant.h).
#include <fmt/format.h>

#include <set>

#include "node/membership.h"

namespace qkv::node {

void Membership::set_auto_join(AutoJoinConfig config) {
  QKV_ASSERT(config.validate().is_ok());
  auto_join_ = AutoJoin(config);
  left_before_ = left_the_ring(storage_);
}

void Membership::maybe_request_join(TimePoint now) {
  const gossip::NodeState& self = gossip_.self();
  // A node that has been a ring member never asks again: it left (or was removed), and
  // comes back only when an operator joins it (or with a fresh disk).
  const bool eligible = !was_member_ && !left_before_ && self.status == gossip::Status::kJoining;
  if (auto request = auto_join_.due(now, self.id, gossip_.ring(), eligible)) {
    peer_messages_.emplace_back(
        request->claimant,
        PeerMessage{self.id, request->request_id, Forward{std::move(request->request)}});
  }
}

proto::ClientResponse Membership::peer_ring_admin(const NodeId& from, uint64_t request_id,
                                                  const proto::RingAdminRequest& request) {
  const gossip::RingState& ring = gossip_.ring();
  proto::RingAdminResponse body;
  body.claimant = ring.claimant;
  Status status = Status::ok();
  if (request.action != proto::RingAction::kStage || request.kind != proto::RingChangeKind::kJoin ||
      request.node != from) {
    status = Status::invalid_argument(
        fmt::format("{} asked for a ring change other than its own join over the peer port: "
                    "ring changes are an operator's (qkvctl)",
                    from));
  } else if (!auto_join_.config().enabled) {
    // Joining is the cluster's policy, not the newcomer's alone: a node started with
    // auto_join by mistake does not enter a ring whose operator joins nodes by hand.
    status = Status::invalid_argument(fmt::format(
        "auto_join is off at the claimant {}: an operator joins {} (qkvctl node join {})",
        gossip_.self().id, from, from));
  } else if (auto staged = claimant_.stage_auto_join(from, ring, gossip_.members(), clock_.now());
             !staged.is_ok()) {
    status = staged.status();
  } else if (*staged) {
    log(LogEvent::info("ring_change_staged").with("change", describe(claimant_.staged().back())));
  }
  for (const auto& change : claimant_.staged()) body.staged.push_back(describe(change));
  body.from_version = ring.version;
  return proto::ClientResponse{request_id, std::move(status), std::move(body)};
}

bool Membership::on_peer_ring_admin_reply(uint64_t request_id,
                                          const proto::ClientResponse& response) {
  if (!auto_join_.awaits(request_id)) return false;
  for (LogEvent& event : auto_join_.on_reply(request_id, response)) log(std::move(event));
  return true;
}

void Membership::maybe_auto_commit(TimePoint now) {
  if (!auto_join_.config().enabled) return;
  AutoCommit done = claimant_.maybe_auto_commit(gossip_.ring(), gossip_.members(), now,
                                                auto_join_.config().quiet);
  for (const NodeId& id : done.unstaged) {
    log(LogEvent::info("auto_join_unstaged").with("member", id));
  }
  if (!done.error.is_ok()) log(LogEvent::warn("ring_auto_commit_failed").with("error", done.error));
  if (!done.ring) return;
  std::set<NodeId> joined;  // sorted: the order they asked in says nothing
  for (const RingChange& change : done.plan->changes) joined.insert(change.node);
  std::string joins;
  for (const NodeId& id : joined) joins += (joins.empty() ? "" : ",") + id;
  log(LogEvent::info("ring_auto_committed")
          .with("plan_id", fmt::format("{:#x}", done.plan->id))
          .with("version", done.ring->version)
          .with("joins", joins));
  publish_ring(std::move(*done.ring));
}

}  // namespace qkv::node
