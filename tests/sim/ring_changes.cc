// Ring changes (SimConfig::ring_changes > 0): the simulation as the operator, staging,
// planning and committing joins, leaves and replaces at the claimant as qkvctl does, and
// watching every ring the claimants issue (one table per version). Which ring each node
// holds, and whether the rings have settled once the faults stop.
#include "tests/sim/world.h"

#include <fmt/format.h>

#include "node/membership.h"

namespace qkv::sim::detail {

// "n1:4 n2:4 n3:5 n4:3": partitions per owner, for the trace.
std::string describe_owners(const std::vector<NodeId>& owners) {
  std::map<NodeId, int> count;
  for (const auto& id : owners) ++count[id];
  std::string out;
  for (const auto& [id, c] : count) out += fmt::format("{}{}:{}", out.empty() ? "" : " ", id, c);
  return out;
}

gossip::RingState Simulation::ring_of(int i) const {
  const SimNode& n = nodes_[i];
  if (n.host) return n.host->membership().gossip().ring();
  auto saved = node::load_saved_ring(*n.storage);
  QKV_ASSERT(saved.is_ok());
  return std::move(saved).value();
}

gossip::RingState Simulation::newest_ring() const {
  std::optional<gossip::RingState> newest;
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (nodes_[i].removed) continue;
    gossip::RingState ring = ring_of(i);
    if (!newest || ring.version > newest->version) newest = std::move(ring);
  }
  QKV_ASSERT(newest.has_value());
  return *newest;
}

void Simulation::on_ring_issued(int by, const gossip::RingState& ring) {
  for (auto& n : nodes_) {
    if (contains(ring.owners, n.id) || contains(ring.next_owners, n.id)) n.ever_member = true;
  }
  trace_ring(fmt::format("ring v{} issued by {}: owners {{{}}}{}", ring.version, nodes_[by].id,
                         describe_owners(ring.owners),
                         ring.next_owners.empty()
                             ? ""
                             : fmt::format(" next {{{}}}", describe_owners(ring.next_owners))));
  // One writer, one table per version (gossip keeps the first it has of a version): a second
  // table is harmless only if no node holds the first any more.
  if (auto it = rings_.find(ring.version); it != rings_.end() && !(it->second == ring)) {
    for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
      if (!nodes_[i].removed && ring_of(i) == it->second) {
        ring_violations_.push_back(fmt::format(
            "seed {}: ring version {} issued twice with different tables ({} holds the first, "
            "{} issued the second)\n",
            config_.seed, ring.version, nodes_[i].id, nodes_[by].id));
        break;
      }
    }
  }
  rings_[ring.version] = ring;
  issued_.push_back(ring);
}

void Simulation::try_ring_change() {
  const gossip::RingState ring = newest_ring();
  if (last_change_ && ring.version < last_change_->version) recommit_lost_change(ring);
  if (last_change_ && ring.version > last_change_->version) last_change_.reset();  // switched
  if (ring_changes_left_ == 0 && !last_change_) return;
  auto retry = [this] { after(between(100, 500), [this] { try_ring_change(); }); };
  if (ring_changes_left_ == 0) return retry();  // watching the last transition
  // One transition at a time: the last switch applied everywhere (a node down counts with
  // the ring it saved), and the claimant up to take the operator's commit.
  if (!ring.next_owners.empty()) return retry();
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (!nodes_[i].removed && ring_of(i).version != ring.version) return retry();
  }
  const int c = index_of(ring.claimant);
  if (!nodes_[c].host) return retry();
  const std::optional<node::RingChange> change = choose_ring_change(ring);
  if (!change) return;  // none left to make
  const Result<uint64_t> version = commit_ring_change(c, *change);
  if (!version) {
    trace_ring(fmt::format("ring change '{}' refused: {}", node::describe(*change),
                           version.status().to_string()));
    return retry();
  }
  using Kind = node::RingChange::Kind;
  --ring_changes_left_;
  ++(change->kind == Kind::kJoin ? joins_ : change->kind == Kind::kLeave ? leaves_ : replaces_);
  last_change_ = Committed{*change, *version};
  after(between(0, 3000), [this] { try_ring_change(); });
}

void Simulation::recommit_lost_change(const gossip::RingState& ring) {
  // No node holds its transition any more: as an operator who sees the ring still at
  // the old version, commit it again.
  trace_ring(fmt::format("ring v{} was lost (no node holds it): '{}' to be committed again",
                         last_change_->version, node::describe(last_change_->change)));
  const auto kind = last_change_->change.kind;
  --(kind == node::RingChange::Kind::kJoin    ? joins_
     : kind == node::RingChange::Kind::kLeave ? leaves_
                                              : replaces_);
  ++ring_changes_left_;
  last_change_.reset();
  // Its newcomer never entered a ring anyone holds: a spare again.
  for (auto& n : nodes_) n.ever_member = false;
  for (const auto& [version, r] : rings_) {
    if (version > ring.version) continue;
    for (auto& n : nodes_) {
      if (contains(r.owners, n.id) || contains(r.next_owners, n.id)) n.ever_member = true;
    }
  }
}

std::optional<node::RingChange> Simulation::choose_ring_change(const gossip::RingState& ring) {
  std::vector<NodeId> spares, members = ring::Ring(ring.owners).members();
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (!nodes_[i].removed && !exiting(i) && !nodes_[i].ever_member) spares.push_back(nodes_[i].id);
  }
  using Kind = node::RingChange::Kind;
  std::vector<Kind> kinds;
  // With auto_join the spares join by themselves; the operator only replaces with them.
  if (!spares.empty() && !config_.auto_join) kinds.push_back(Kind::kJoin);
  if (!spares.empty()) kinds.push_back(Kind::kReplace);
  if (members.size() > config_.n) kinds.push_back(Kind::kLeave);
  if (kinds.empty()) {
    trace_ring("ring changes: no spare left and the ring has n members; no more changes");
    ring_changes_left_ = 0;
    return std::nullopt;
  }
  node::RingChange change;
  change.kind = kinds[below(kinds.size())];
  if (change.kind == Kind::kJoin) {
    change.node = spares[below(spares.size())];
  } else {
    change.node = members[below(members.size())];
    if (change.kind == Kind::kReplace) change.replacement = spares[below(spares.size())];
  }
  return change;
}

Result<uint64_t> Simulation::commit_ring_change(int c, const node::RingChange& change) {
  using Kind = node::RingChange::Kind;
  // The operator: stage, plan, commit, at the claimant (qkvctl node ..., ring plan/commit).
  node::Membership& claimant = nodes_[c].host->membership();
  trace_ring(fmt::format("operator: '{}' at {}", node::describe(change), nodes_[c].id));
  proto::RingAdminRequest request;
  request.action = proto::RingAction::kStage;
  request.kind = change.kind == Kind::kJoin    ? proto::RingChangeKind::kJoin
                 : change.kind == Kind::kLeave ? proto::RingChangeKind::kLeave
                                               : proto::RingChangeKind::kReplace;
  request.node = change.node;
  request.replacement = change.replacement;
  bool staged_ok = false;
  auto admin = [&](proto::RingAction action, uint64_t plan_id = 0) {
    proto::RingAdminRequest r;
    r.action = action;
    r.plan_id = plan_id;
    return claimant.ring_admin(0, r);
  };
  Result<uint64_t> version = [&]() -> Result<uint64_t> {
    auto staged = claimant.ring_admin(0, request);
    if (!staged.status.is_ok()) return staged.status;
    staged_ok = true;
    auto plan = admin(proto::RingAction::kPlan);
    if (!plan.status.is_ok()) return plan.status;
    auto committed =
        admin(proto::RingAction::kCommit, std::get<proto::RingAdminResponse>(plan.body).plan_id);
    if (!committed.status.is_ok()) return committed.status;
    return std::get<proto::RingAdminResponse>(committed.body).ring_version;
  }();
  trace_membership(c);
  if (!version && staged_ok) {
    // Unstage it (a cancel with changes staged cancels only them).
    (void)admin(proto::RingAction::kCancel);
  }
  return version;
}

std::string Simulation::ring_unsettled() const {
  const gossip::RingState ring = newest_ring();
  if (ring_changes_left_ > 0) return fmt::format("{} ring changes never made", ring_changes_left_);
  if (!ring.next_owners.empty()) {
    // As the claimant sees its receivers (its own gossip view), if it runs.
    const auto& claimant = nodes_[index_of(ring.claimant)];
    node::MemberView members;
    if (claimant.host) members = claimant.host->membership().gossip().members();
    return fmt::format("the transition to v{} never completed: {} waiting on receivers {}",
                       ring.version + 1, ring.claimant,
                       fmt::join(node::transition_progress(ring, members).waiting_on, ","));
  }
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    const uint64_t version = ring_of(i).version;
    if (!nodes_[i].removed && version != ring.version) {
      return fmt::format("{} never applied ring v{} (has v{})", nodes_[i].id, ring.version,
                         version);
    }
  }
  for (const auto& n : nodes_) {
    if (config_.auto_join && !n.removed && !n.ever_member) {
      return fmt::format("{} never joined by itself (auto_join)", n.id);
    }
    if (!n.removed && n.host && !contains(ring.owners, n.id) &&
        !n.host->node().held_ranges().empty()) {
      return fmt::format("{} left the ring and still holds {} key ranges", n.id,
                         n.host->node().held_ranges().size());
    }
  }
  return "";
}

}  // namespace qkv::sim::detail
