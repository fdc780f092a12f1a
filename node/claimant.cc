#include "node/claimant.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <utility>

namespace qkv::node {
namespace {

using gossip::RingState;
using Kind = RingChange::Kind;
// True if a node is up (the claimant's liveness, or "every node" when it has none).
using IsUp = std::function<bool(const NodeId&)>;

bool contains(const std::vector<NodeId>& table, const NodeId& id) {
  return std::find(table.begin(), table.end(), id) != table.end();
}

// Unavailable unless this node may issue ring versions now.
Status check_claimant(const NodeId& self, const RingState& ring) {
  if (ring.version == 0) {
    return Status::unavailable("the cluster has no ring yet: wait for the first ring to gossip");
  }
  if (ring.claimant != self) {
    return Status::unavailable(
        fmt::format("this node ({}) is not the claimant: send ring changes to the claimant, {}",
                    self, ring.claimant.empty() ? std::string("(none named)") : ring.claimant));
  }
  return Status::ok();
}

// The id `name` stands for: a member's id, peer or client address, or an owner's id.
std::optional<NodeId> resolve(const std::string& name, const RingState& ring,
                              const MemberView& members) {
  if (members.contains(name)) return name;
  for (const auto& [id, state] : members) {
    if (state.peer_address == name || state.client_address == name) return id;
  }
  if (contains(ring.owners, name)) return name;
  return std::nullopt;
}

// The staged change that already names `id` (as its node or replacement), if any.
const RingChange* staged_with(const std::vector<RingChange>& staged, const NodeId& id) {
  for (const RingChange& c : staged) {
    if (c.kind != Kind::kRebalance && (c.node == id || c.replacement == id)) return &c;
  }
  return nullptr;
}

// The ring's members once `changes` apply, sorted.
std::vector<NodeId> target_members(const RingState& ring, const std::vector<RingChange>& changes) {
  std::set<NodeId> members(ring.owners.begin(), ring.owners.end());
  for (const RingChange& c : changes) {
    switch (c.kind) {
      case Kind::kJoin:
        members.insert(c.node);
        break;
      case Kind::kLeave:
      case Kind::kRemove:
        members.erase(c.node);
        break;
      case Kind::kReplace:
        members.erase(c.node);
        members.insert(c.replacement);
        break;
      case Kind::kRebalance:
        break;
    }
  }
  return {members.begin(), members.end()};
}

// Ok if `id` may enter the ring (by join or as a replacement) given the staged changes.
Status check_newcomer(const NodeId& id, const RingState& ring, const MemberView& members,
                      const std::vector<RingChange>& staged) {
  auto it = members.find(id);
  if (it == members.end()) {
    return Status::invalid_argument(fmt::format(
        "{} is not in the membership: start it with seeds so it gossips, then stage again", id));
  }
  if (it->second.status == gossip::Status::kRemoved) {
    return Status::invalid_argument(fmt::format("{} was removed from the cluster", id));
  }
  if (contains(ring.owners, id)) {
    return Status::invalid_argument(fmt::format("{} already owns partitions", id));
  }
  if (contains(ring.next_owners, id)) {
    return Status::invalid_argument(fmt::format(
        "{} is already in the transition in progress (ring version {})", id, ring.version));
  }
  if (const RingChange* c = staged_with(staged, id)) {
    return Status::invalid_argument(fmt::format("{} is already staged: '{}'", id, describe(*c)));
  }
  return Status::ok();
}

// Ok if `id` may give up its partitions (by leave or replace) given the staged changes.
Status check_owner(const NodeId& id, const RingState& ring, const std::vector<RingChange>& staged) {
  if (!contains(ring.owners, id)) {
    return Status::invalid_argument(fmt::format("{} owns no partitions", id));
  }
  if (const RingChange* c = staged_with(staged, id)) {
    return Status::invalid_argument(fmt::format("{} is already staged: '{}'", id, describe(*c)));
  }
  return Status::ok();
}

// Ok if the owner `change` takes out of the ring (leave, remove) may go given the staged
// changes: it owns partitions, is not staged already, is not the last member, and a node
// removed without a handoff is down unless the change is forced.
Status check_departure(const RingChange& change, const RingState& ring,
                       const std::vector<RingChange>& staged, const IsUp& up) {
  QKV_RETURN_IF_ERROR(check_owner(change.node, ring, staged));
  std::vector<RingChange> after = staged;
  after.push_back(change);
  if (target_members(ring, after).empty()) {
    return Status::invalid_argument(fmt::format(
        "{} is the last member once the staged changes apply; a ring needs one", change.node));
  }
  if (change.kind == Kind::kRemove && !change.force && up(change.node)) {
    return Status::invalid_argument(fmt::format(
        "{0} is up: a node that is up should leave (qkvctl node leave {0}), handing its data "
        "off; remove is for a node whose data is gone for good (--force removes it anyway)",
        change.node));
  }
  return Status::ok();
}

// Ok if `change` (its nodes resolved to ids) fits the ring after `staged`.
Status check_change(const RingChange& change, const RingState& ring, const MemberView& members,
                    const std::vector<RingChange>& staged, const IsUp& up) {
  Status s;
  switch (change.kind) {
    case Kind::kJoin:
      s = check_newcomer(change.node, ring, members, staged);
      break;
    case Kind::kLeave:
    case Kind::kRemove:
      s = check_departure(change, ring, staged, up);
      break;
    case Kind::kReplace:
      s = check_owner(change.node, ring, staged);
      if (s.is_ok()) s = check_newcomer(change.replacement, ring, members, staged);
      break;
    case Kind::kRebalance:
      break;
  }
  if (s.is_ok()) return s;
  return Status::invalid_argument(fmt::format("{}: {}", describe(change), s.message()));
}

// The owner table the changes lead to: replaces, then one claim for the rest.
Result<std::vector<NodeId>> next_table(const RingState& ring, const MemberView& members,
                                       const std::vector<RingChange>& changes) {
  std::vector<NodeId> table = ring.owners;
  bool reclaim = false;
  for (const RingChange& c : changes) {
    if (c.kind != Kind::kReplace) {
      reclaim = true;
      continue;
    }
    Result<std::vector<NodeId>> replaced = ring::claim_replace(table, c.node, c.replacement);
    if (!replaced.is_ok()) {
      return Status::invalid_argument(
          fmt::format("{}: {}", describe(c), replaced.status().message()));
    }
    table = std::move(replaced).value();
  }
  if (!reclaim) return table;
  std::vector<ring::ClaimMember> targets;
  for (NodeId& id : target_members(ring, changes)) {
    auto it = members.find(id);
    std::string zone = it == members.end() ? std::string() : it->second.zone;
    targets.push_back({std::move(id), std::move(zone)});
  }
  Result<std::vector<NodeId>> claimed = ring::claim(table, targets, ring.n);
  if (!claimed.is_ok()) {
    return Status::invalid_argument("the claim failed: " + claimed.status().message());
  }
  return claimed;
}

std::vector<ring::ClaimMember> claim_members(const std::vector<NodeId>& ids,
                                             const MemberView& members) {
  std::vector<ring::ClaimMember> out;
  for (const NodeId& id : ids) {
    auto it = members.find(id);
    out.push_back({id, it == members.end() ? std::string() : it->second.zone});
  }
  return out;
}

// FNV-1a, 64 bits: deterministic across builds and platforms (std::hash is not).
uint64_t fnv1a(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (char c : text) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// The plan id: the starting version, the changes and the table they lead to.
uint64_t plan_id(const RingState& ring, const std::vector<RingChange>& changes,
                 const std::vector<NodeId>& next) {
  std::string text = fmt::format("{}/{}\n", ring.version, ring.n);
  for (const RingChange& c : changes) text += describe(c) + "\n";
  for (const NodeId& id : next) text += id + ",";
  uint64_t id = fnv1a(text);
  return id == 0 ? 1 : id;  // 0 means "no plan"
}

std::map<NodeId, std::pair<uint32_t, uint32_t>> ownership(const std::vector<NodeId>& before,
                                                          const std::vector<NodeId>& after) {
  std::map<NodeId, std::pair<uint32_t, uint32_t>> out;
  for (const NodeId& id : before) ++out[id].first;
  for (const NodeId& id : after) ++out[id].second;
  return out;
}

// The nodes `changes` remove without a handoff, sorted.
std::vector<NodeId> removed_by(const std::vector<RingChange>& changes) {
  std::set<NodeId> removed;
  for (const RingChange& c : changes) {
    if (c.kind == Kind::kRemove) removed.insert(c.node);
  }
  return {removed.begin(), removed.end()};
}

// A transfer's suggested source is never a removed node: the first surviving old primary
// of the range instead (none: "", nothing survives to copy from). node/transfer.h pulls
// such ranges from every surviving old primary; the plan names the first.
void avoid_removed_sources(std::vector<ring::Transfer>& transfers, const RingState& ring,
                           const std::vector<NodeId>& removed) {
  if (removed.empty()) return;
  const ring::Ring now(ring.owners);
  for (ring::Transfer& t : transfers) {
    if (!contains(removed, t.from)) continue;
    t.from.clear();
    for (const NodeId& p : now.preference_list(now.first_token(t.partition), ring.n).primaries) {
      if (!contains(removed, p)) {
        t.from = p;
        break;
      }
    }
  }
}

// The version of the next ring this claimant issues: past its own ring's and past any a
// member reports holding. A claimant whose disk was wiped issued rings it no longer has; a
// joiner that took one cannot spread it back (a ring is taken only from a member of the
// receiver's ring, node/membership.h), so issuing the same version again would make two
// tables of one version. Issuing past every reported version supersedes it instead.
uint64_t next_version(const RingState& ring, const MemberView& members) {
  uint64_t version = ring.version;
  for (const auto& [id, state] : members) version = std::max(version, state.ring_version);
  return version + 1;
}

}  // namespace

std::string describe(const RingChange& change) {
  switch (change.kind) {
    case Kind::kJoin:
      return "join " + change.node + (change.automatic ? " (auto_join)" : "");
    case Kind::kLeave:
      return "leave " + change.node;
    case Kind::kReplace:
      return fmt::format("replace {} with {}", change.node, change.replacement);
    case Kind::kRebalance:
      return "rebalance";
    case Kind::kRemove:
      return "remove " + change.node + (change.force ? " (forced)" : "");
  }
  return "unknown change";
}

TransitionProgress transition_progress(const RingState& ring, const MemberView& members) {
  TransitionProgress progress;
  if (ring.next_owners.empty() || ring.owners.empty()) return progress;
  std::set<NodeId> waiting;
  for (const ring::Transfer& t :
       ring::plan_transfers(ring::Ring(ring.owners), ring::Ring(ring.next_owners), ring.n)) {
    ++progress.transfers_total;
    auto it = members.find(t.to);
    if (it != members.end() && it->second.transfers_done == ring.version) {
      ++progress.transfers_done;
    } else {
      waiting.insert(t.to);
    }
  }
  progress.waiting_on.assign(waiting.begin(), waiting.end());
  return progress;
}

Claimant::Claimant(NodeId self) : self_(std::move(self)) {}

Status Claimant::stage(RingChange change, const RingState& ring, const MemberView& members) {
  QKV_RETURN_IF_ERROR(check_claimant(self_, ring));
  if (change.kind == Kind::kRebalance) {
    change.node.clear();
    change.replacement.clear();
    if (std::find(staged_.begin(), staged_.end(), change) == staged_.end()) {
      staged_.push_back(change);
    }
    return Status::ok();
  }
  if (change.kind != Kind::kReplace) change.replacement.clear();
  if (change.kind != Kind::kRemove) change.force = false;
  if (change.kind != Kind::kJoin) change.automatic = false;
  auto resolve_into = [&](NodeId& name) {
    std::optional<NodeId> id = resolve(name, ring, members);
    if (!id) {
      return Status::invalid_argument(
          fmt::format("{}: no node has the id or address '{}' in the membership: start it with "
                      "seeds so it gossips, then stage again",
                      describe(change), name));
    }
    name = std::move(*id);
    return Status::ok();
  };
  QKV_RETURN_IF_ERROR(resolve_into(change.node));
  if (change.kind == Kind::kReplace) QKV_RETURN_IF_ERROR(resolve_into(change.replacement));
  QKV_RETURN_IF_ERROR(
      check_change(change, ring, members, staged_, [this](const NodeId& id) { return up(id); }));
  staged_.push_back(std::move(change));
  return Status::ok();
}

Result<RingPlan> Claimant::plan(const RingState& ring, const MemberView& members) const {
  QKV_RETURN_IF_ERROR(check_claimant(self_, ring));
  if (!ring.next_owners.empty()) {
    return Status::unavailable(
        fmt::format("a transition is in progress (ring version {}): wait for it to finish or "
                    "cancel it",
                    ring.version));
  }
  if (staged_.empty()) {
    return Status::invalid_argument(
        "nothing staged: stage a join, leave, replace or rebalance first");
  }
  for (size_t i = 0; i < staged_.size(); ++i) {
    std::vector<RingChange> before(staged_.begin(), staged_.begin() + i);
    Status s = check_change(staged_[i], ring, members, before,
                            [this](const NodeId& id) { return up(id); });
    if (!s.is_ok()) {
      return Status::invalid_argument(fmt::format(
          "a staged change no longer fits: {}; clear the staging and stage again", s.message()));
    }
  }
  Result<std::vector<NodeId>> next = next_table(ring, members, staged_);
  if (!next.is_ok()) return next.status();

  RingPlan out;
  out.id = plan_id(ring, staged_, *next);
  out.from_version = ring.version;
  out.changes = staged_;
  out.next_owners = std::move(next).value();
  out.transfers =
      ring::plan_transfers(ring::Ring(ring.owners), ring::Ring(out.next_owners), ring.n);
  avoid_removed_sources(out.transfers, ring, removed_by(staged_));
  out.ownership = ownership(ring.owners, out.next_owners);
  out.quality = ring::claim_quality(ring.owners, out.next_owners,
                                    claim_members(target_members(ring, staged_), members), ring.n);
  return out;
}

Result<RingState> Claimant::commit(uint64_t plan_id, const RingState& ring,
                                   const MemberView& members) {
  QKV_RETURN_IF_ERROR(check_claimant(self_, ring));
  if (staged_.empty() && last_commit_) {
    if (last_commit_->plan_id == plan_id) {
      return Status::invalid_argument(fmt::format(
          "the plan was already committed as ring version {}", last_commit_->ring_version));
    }
    return Status::invalid_argument(
        fmt::format("nothing staged: the last plan was already committed as ring version {}; "
                    "stage changes and run plan",
                    last_commit_->ring_version));
  }
  Result<RingPlan> current = plan(ring, members);
  if (!current.is_ok()) return current.status();
  if (current->id != plan_id) {
    return Status::invalid_argument(
        fmt::format("the plan changed since you looked at it (plan {}, now {}): run plan again",
                    plan_id, current->id));
  }
  RingState next = ring;
  next.version = next_version(ring, members);
  next.removed.clear();
  if (current->next_owners != ring.owners) {
    next.next_owners = std::move(current->next_owners);
    next.removed = removed_by(staged_);
  }
  staged_.clear();
  last_commit_ = Committed{plan_id, next.version};
  return next;
}

Result<std::optional<RingState>> Claimant::cancel(const RingState& ring) {
  QKV_RETURN_IF_ERROR(check_claimant(self_, ring));
  if (!staged_.empty()) {
    staged_.clear();
    return std::optional<RingState>();
  }
  if (ring.next_owners.empty()) {
    return Status::invalid_argument(
        "nothing to cancel: no changes are staged and no transition is in progress");
  }
  RingState next = ring;
  next.version = ring.version + 1;
  next.next_owners.clear();
  next.removed.clear();
  return std::optional<RingState>(std::move(next));
}

std::optional<RingState> Claimant::maybe_complete(const RingState& ring,
                                                  const MemberView& members) const {
  if (ring.version == 0 || ring.claimant != self_ || ring.next_owners.empty()) {
    return std::nullopt;
  }
  if (!transition_progress(ring, members).waiting_on.empty()) return std::nullopt;
  RingState next = ring;
  next.version = next_version(ring, members);
  next.owners = std::move(next.next_owners);
  next.next_owners.clear();
  next.removed.clear();
  if (!contains(next.owners, self_)) {
    // The claimant leaves the ring: the claim goes to the smallest id among the new owners,
    // a fixed rule, so no election is needed and every node can check it.
    next.claimant = *std::min_element(next.owners.begin(), next.owners.end());
  }
  return next;
}

Result<bool> Claimant::stage_auto_join(const NodeId& id, const RingState& ring,
                                       const MemberView& members, TimePoint now) {
  QKV_RETURN_IF_ERROR(check_claimant(self_, ring));
  // Asked again (it asks until it is in the ring), or an operator staged it already.
  if (const RingChange* c = staged_with(staged_, id);
      c && (c->kind == Kind::kJoin || c->kind == Kind::kReplace)) {
    return false;
  }
  RingChange change{Kind::kJoin, id, "", false, true};
  QKV_RETURN_IF_ERROR(check_change(change, ring, members, staged_,
                                   [this](const NodeId& node) { return up(node); }));
  staged_.push_back(std::move(change));
  last_auto_stage_ = now;
  return true;
}

AutoCommit Claimant::maybe_auto_commit(const RingState& ring, const MemberView& members,
                                       TimePoint now, Duration quiet) {
  AutoCommit out;
  if (!check_claimant(self_, ring).is_ok() || !ring.next_owners.empty() || staged_.empty()) {
    return out;
  }
  // Anything an operator staged is theirs to plan and commit, the automatic joins with it.
  for (const RingChange& c : staged_) {
    if (c.kind != Kind::kJoin || !c.automatic) return out;
  }
  if (now - last_auto_stage_ < quiet) return out;
  std::erase_if(staged_, [&](const RingChange& c) {
    auto it = members.find(c.node);
    bool gone = it == members.end() || it->second.status == gossip::Status::kRemoved || !up(c.node);
    if (gone) out.unstaged.push_back(c.node);
    return gone;
  });
  if (staged_.empty()) return out;
  Result<RingPlan> planned = plan(ring, members);
  Result<RingState> committed =
      planned.is_ok() ? commit(planned->id, ring, members) : Result<RingState>(planned.status());
  if (!committed.is_ok()) {
    out.error = committed.status();
    staged_.clear();  // automatic joins only: their nodes ask again
    return out;
  }
  out.plan = std::move(planned).value();
  out.ring = std::move(committed).value();
  return out;
}

}  // namespace qkv::node
