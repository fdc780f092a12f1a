#include "node/membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <utility>

#include "node/wire/replica_codec.h"

namespace qkv::node {
namespace {

constexpr std::string_view kRingMeta = "ring";
// "1" once this node has owned partitions, "" once it has left: a leaving node that
// restarts before it exits still leaves.
constexpr std::string_view kMemberMeta = "ring_member";
// One "id address" line per other member of the ring (see Membership's constructor).
constexpr std::string_view kPeersMeta = "peers";

RingChange::Kind change_kind(proto::RingChangeKind kind) {
  switch (kind) {
    case proto::RingChangeKind::kJoin:
      return RingChange::Kind::kJoin;
    case proto::RingChangeKind::kLeave:
      return RingChange::Kind::kLeave;
    case proto::RingChangeKind::kReplace:
      return RingChange::Kind::kReplace;
    case proto::RingChangeKind::kRemove:
      return RingChange::Kind::kRemove;
    case proto::RingChangeKind::kRebalance:
      break;
  }
  return RingChange::Kind::kRebalance;
}

std::set<NodeId> ring_members(const gossip::RingState& ring) {
  std::set<NodeId> out(ring.owners.begin(), ring.owners.end());
  out.insert(ring.next_owners.begin(), ring.next_owners.end());
  return out;
}

std::string encode_peers(const std::map<NodeId, std::string>& peers) {
  std::string out;
  for (const auto& [id, address] : peers) out += fmt::format("{} {}\n", id, address);
  return out;
}

// config.seeds, then every saved peer address not among them.
gossip::GossipConfig with_saved_peers(gossip::GossipConfig config,
                                      const std::map<NodeId, std::string>& peers) {
  for (const auto& [id, address] : peers) {
    if (std::find(config.seeds.begin(), config.seeds.end(), address) == config.seeds.end()) {
      config.seeds.push_back(address);
    }
  }
  return config;
}

}  // namespace

std::map<NodeId, std::string> load_saved_peers(storage::Storage& storage) {
  std::map<NodeId, std::string> peers;
  auto saved = storage.get_meta(kPeersMeta);
  if (!saved || !saved.value()) return peers;
  std::string_view text = *saved.value();
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    const std::size_t space = line.find(' ');
    const std::string_view address = space == std::string_view::npos ? "" : line.substr(space + 1);
    if (space == 0 || address.empty() || address.find(' ') != std::string_view::npos) return {};
    NodeId id(line.substr(0, space));
    if (!validate_node_id(id).is_ok()) return {};
    peers.emplace(std::move(id), std::string(address));
  }
  return peers;
}

Result<gossip::RingState> load_saved_ring(storage::Storage& storage) {
  auto saved = storage.get_meta(kRingMeta);
  if (!saved) return saved.status();
  if (!saved.value() || saved.value()->empty()) return gossip::RingState{};
  return decode_ring_state(*saved.value());
}

bool was_ring_member(storage::Storage& storage) {
  auto saved = storage.get_meta(kMemberMeta);
  return saved.is_ok() && saved.value() && *saved.value() == "1";
}

bool left_the_ring(storage::Storage& storage) {
  auto saved = storage.get_meta(kMemberMeta);
  return saved.is_ok() && saved.value() && saved.value()->empty();
}

Membership::Membership(gossip::GossipConfig config, gossip::NodeState self, gossip::RingState ring,
                       uint64_t seed, Node& node, storage::Storage& storage,
                       const handoff::HintedHandoff* handoff, const Clock& clock)
    : clock_(clock),
      node_(node),
      storage_(storage),
      handoff_(handoff),
      gossip_interval_(config.interval),
      saved_peers_(load_saved_peers(storage)),
      gossip_(with_saved_peers(std::move(config), saved_peers_), self, std::move(ring), seed,
              clock.now()),
      claimant_(self.id) {
  claimant_.set_liveness([this](const NodeId& id) { return gossip_.is_up(id, clock_.now()); });
  apply_ring();
  // A node that still holds ranges it no longer owns was leaving when it stopped.
  was_member_ = was_member_ || was_ring_member(storage_) || !node_.held_ranges().empty();
  update_own_status();
  // Unknown to gossip (not heard of yet, e.g. just after start) is not convicted: up.
  node_.set_liveness([this](const NodeId& id) {
    return !gossip_.members().contains(id) || gossip_.is_up(id, clock_.now());
  });
}

std::vector<gossip::Outgoing> Membership::on_tick() {
  const TimePoint now = clock_.now();
  auto outgoing = gossip_.on_tick(now);
  on_events();
  step_first_ring(now);
  update_ring_progress(now);
  maybe_request_join(now);
  if (std::exchange(distribute_ring_, false)) {
    for (auto& out : gossip_.distribute_ring()) outgoing.push_back(std::move(out));
  }
  return outgoing;
}

bool Membership::may_send_rings(const NodeId& from) const {
  const gossip::RingState& ring = gossip_.ring();
  if (ring.version == 0 || from == ring.claimant) return true;
  auto holds = [&](const std::vector<NodeId>& owners) {
    return std::find(owners.begin(), owners.end(), from) != owners.end();
  };
  return holds(ring.owners) || holds(ring.next_owners);
}

std::vector<gossip::Outgoing> Membership::on_gossip(const NodeId& from, gossip::Message message) {
  std::optional<gossip::RingState>* ring = nullptr;
  if (auto* ack = std::get_if<gossip::Ack>(&message)) ring = &ack->ring;
  if (auto* ack2 = std::get_if<gossip::Ack2>(&message)) ring = &ack2->ring;
  if (ring != nullptr && ring->has_value() && (*ring)->newer_than(gossip_.ring()) &&
      !may_send_rings(from)) {
    ++counters_["rings_refused"];
    if (ring_refused_from_.insert(from).second) {
      log(LogEvent::warn("ring_refused")
              .with("from", from)
              .with("version", (*ring)->version)
              .with("claimant", (*ring)->claimant)
              .with("reason", "the sender owns no partition of this node's ring"));
    }
    ring->reset();
  }
  auto outgoing = gossip_.on_message(message, clock_.now());
  on_events();
  return outgoing;
}

void Membership::convict(const NodeId& peer) {
  gossip_.convict(peer);
  on_events();
}

void Membership::on_events() {
  for (const auto& e : gossip_.take_events()) {
    switch (e.kind) {
      case gossip::Event::kJoined:
      case gossip::Event::kChanged: {
        const auto& state = gossip_.members().at(e.id);
        if (on_member_ && e.id != gossip_.self().id) on_member_(state);
        if (e.kind == gossip::Event::kJoined) ++counters_["members_joined"];
        save_peers();
        log((e.kind == gossip::Event::kJoined ? LogEvent::info("member_joined")
                                              : LogEvent::info("member_changed"))
                .with("member", e.id)
                .with("peer_address", state.peer_address)
                .with("generation", state.generation)
                .with("status", gossip::status_name(state.status)));
        break;
      }
      case gossip::Event::kUp:
        ++counters_["node_up"];
        log(LogEvent::info("node_up").with("peer", e.id));
        break;
      case gossip::Event::kDown:
        ++counters_["node_down"];
        log(LogEvent::warn("node_down")
                .with("peer", e.id)
                .with("phi", fmt::format("{:.1f}", gossip_.phi(e.id, clock_.now()))));
        break;
      case gossip::Event::kRingChanged:
        ++counters_["ring_changes"];
        apply_ring();
        break;
      case gossip::Event::kForeignCluster:
      case gossip::Event::kRingConflict:
        on_sighting(e);
        break;
    }
  }
}

std::vector<std::pair<std::string, uint64_t>> Membership::counters() const {
  std::vector<std::pair<std::string, uint64_t>> out(counters_.begin(), counters_.end());
  const gossip::GossipStats& g = gossip_.stats();
  out.emplace_back("gossip_rounds", g.rounds);
  // Gossip of another cluster refused (messages, relayed states, rings), and peers holding
  // another table under this node's ring version: both 0 in a healthy cluster.
  out.emplace_back("gossip_foreign_cluster",
                   g.foreign_cluster_messages + g.foreign_cluster_states + g.foreign_cluster_rings);
  out.emplace_back("ring_conflicts", g.ring_conflicts);
  return out;
}

proto::MembersResponse Membership::members_response() const {
  proto::MembersResponse response;
  response.ring_version = gossip_.ring().version;
  response.cluster_id = gossip_.cluster_id();
  std::map<NodeId, uint32_t> partitions;
  for (const auto& owner : gossip_.ring().owners) ++partitions[owner];
  std::map<NodeId, std::pair<uint64_t, uint64_t>> pending;
  if (handoff_ != nullptr) pending = handoff_->pending();
  const TimePoint now = clock_.now();
  for (const auto& [id, state] : gossip_.members()) {
    proto::MemberInfo info;
    info.id = id;
    info.peer_address = state.peer_address;
    info.client_address = state.client_address;
    info.http_address = state.http_address;
    info.zone = state.zone;
    info.status = std::string(gossip::status_name(state.status));
    bool self = id == gossip_.self().id;
    info.up = self || gossip_.is_up(id, now);
    info.phi = self ? 0 : gossip_.phi(id, now);
    info.incarnation = state.generation;
    info.ring_version = state.ring_version;
    info.transfers_done = state.transfers_done;
    info.partitions = partitions[id];
    if (auto it = pending.find(id); it != pending.end()) {
      info.hints_pending = it->second.first;
      info.hint_bytes_pending = it->second.second;
    }
    response.members.push_back(std::move(info));
  }
  return response;
}

void Membership::apply_ring() {
  const gossip::RingState& state = gossip_.ring();
  if (state.owners.empty()) return;
  auto current = std::make_shared<const ring::Ring>(state.owners);
  std::shared_ptr<const ring::Ring> next;
  if (!state.next_owners.empty()) next = std::make_shared<const ring::Ring>(state.next_owners);
  node_.set_ring(std::move(current), std::move(next), state.version, state.removed);
  // A member removed without a handoff is lost and never says so itself: every node that
  // learns the transition marks it removed in gossip, so `members` and the metrics stop
  // counting it as down. Not while it is up: a forced remove of a live node, or a lost node
  // back on a new disk, speaks for itself.
  for (const NodeId& id : state.removed) {
    if (!gossip_.is_up(id, clock_.now())) gossip_.declare_removed(id);
  }
  if (Status s = storage_.put_meta(kRingMeta, encode_ring_state(state)); !s.is_ok()) {
    log(LogEvent::warn("ring_not_saved").with("version", state.version).with("error", s));
  }
  save_peers();
  log(LogEvent::info("ring_changed")
          .with("version", state.version)
          .with("partitions", state.owners.size())
          .with("transition", !state.next_owners.empty())
          .with("claimant", state.claimant));
  update_own_status();
  ring_progress_due_ = TimePoint{};  // recompute at once
}

void Membership::save_peers() {
  std::map<NodeId, std::string> peers;
  for (const NodeId& id : ring_members(gossip_.ring())) {
    if (id == gossip_.self().id) continue;
    auto member = gossip_.members().find(id);
    if (member != gossip_.members().end() && !member->second.peer_address.empty()) {
      peers[id] = member->second.peer_address;
    } else if (auto saved = saved_peers_.find(id); saved != saved_peers_.end()) {
      peers[id] = saved->second;  // not heard of since this start: keep what was known
    }
  }
  if (peers == saved_peers_) return;
  if (Status s = storage_.put_meta(kPeersMeta, encode_peers(peers)); !s.is_ok()) {
    log(LogEvent::warn("meta_not_saved").with("meta_key", kPeersMeta).with("error", s));
    return;
  }
  saved_peers_ = std::move(peers);
}

void Membership::update_own_status() {
  const gossip::RingState& ring = gossip_.ring();
  const NodeId& self = gossip_.self().id;
  const bool owner = std::find(ring.owners.begin(), ring.owners.end(), self) != ring.owners.end();
  const bool next_owner =
      std::find(ring.next_owners.begin(), ring.next_owners.end(), self) != ring.next_owners.end();
  if (owner && !was_member_) {
    was_member_ = true;
    if (Status s = storage_.put_meta(kMemberMeta, "1"); !s.is_ok()) {
      log(LogEvent::warn("meta_not_saved").with("meta_key", kMemberMeta).with("error", s));
    }
  }
  gossip::Status status = gossip_.self().status;
  if (status == gossip::Status::kRemoved) return;
  if (owner) {
    status =
        ring.next_owners.empty() || next_owner ? gossip::Status::kNormal : gossip::Status::kLeaving;
  } else if (was_member_ && !next_owner) {
    status = gossip::Status::kLeaving;  // removed once its data is gone (maybe_exit)
  } else {
    status = gossip::Status::kJoining;
  }
  if (status != gossip_.self().status) gossip_.set_status(status);
}

void Membership::update_ring_progress(TimePoint now) {
  if (now < ring_progress_due_) return;
  ring_progress_due_ = now + Duration(50);
  const gossip::RingState& ring = gossip_.ring();
  // The lowest ring version the live members have applied (this node included: puts of an
  // older ring still in flight hold a node's version back, node.h ring_version_in_use);
  // none if one has a newer ring than ours (we are the stale one: drop nothing on our old
  // view).
  const uint64_t in_use = node_.ring_version_in_use();
  uint64_t applied = std::min(ring.version, in_use);
  const std::set<NodeId> members = ring_members(ring);
  for (const auto& [id, state] : gossip_.members()) {
    if (state.status == gossip::Status::kRemoved) continue;
    if (state.ring_version > ring.version) {
      applied = 0;
      break;
    }
    // Nodes outside the ring count too once they hold a ring: one that has just left it may
    // still have puts in flight that it coordinated as an owner.
    bool self = id == gossip_.self().id;
    bool counts = members.count(id) > 0 || state.ring_version != 0;
    if (counts && !self && gossip_.is_up(id, now)) {
      applied = std::min(applied, state.ring_version);
    }
  }
  if (applied != last_applied_) {
    last_applied_ = applied;
    node_.set_ring_applied(applied, now);
  }
  gossip_.set_ring_progress(std::min(ring.version, in_use), node_.transfer().done_version());
  if (auto completed = claimant_.maybe_complete(ring, gossip_.members())) {
    log(LogEvent::info("ring_transition_complete")
            .with("version", completed->version)
            .with("claimant", completed->claimant));
    publish_ring(std::move(*completed));
  }
  maybe_auto_commit(now);
  on_events();
  maybe_exit(now);
}

void Membership::publish_ring(gossip::RingState ring) {
  if (on_ring_issued_) on_ring_issued_(ring);
  if (Status s = gossip_.set_ring(std::move(ring)); !s.is_ok()) {
    log(LogEvent::warn("ring_not_published").with("error", s));
  } else {
    distribute_ring_ = true;  // at the next tick: to every member at once
  }
  on_events();
}

void Membership::maybe_exit(TimePoint now) {
  const gossip::RingState& ring = gossip_.ring();
  const NodeId& self = gossip_.self().id;
  if (!was_member_ || !ring.next_owners.empty() || exit_due_) return;
  if (std::find(ring.owners.begin(), ring.owners.end(), self) != ring.owners.end()) return;
  if (gossip_.self().status != gossip::Status::kRemoved) {
    // A leaving node goes once it holds no key range, every hint it keeps is delivered,
    // and every ring member — down ones too — has applied the ring without it (it may be
    // the one carrying that ring to a member that was down when it was issued).
    uint64_t hints = 0;
    if (handoff_ != nullptr) {
      for (const auto& [target, count_bytes] : handoff_->pending()) hints += count_bytes.first;
    }
    if (!node_.held_ranges().empty() || hints > 0 || node_.in_flight() > 0) return;
    const std::set<NodeId> members = ring_members(ring);
    for (const auto& [id, state] : gossip_.members()) {
      if (members.count(id) && state.ring_version < ring.version) return;
    }
    gossip_.set_status(gossip::Status::kRemoved);
    (void)storage_.put_meta(kMemberMeta, "");
    on_events();
    removed_at_ = now;
    log(LogEvent::info("node_removed")
            .with("ring_version", ring.version)
            .with("action", "exit_after_gossip"));
    return;
  }
  // Let a few rounds carry the removed status before the process goes.
  if (removed_at_ && now - *removed_at_ >= 3 * gossip_interval_) exit_due_ = true;
}

proto::ClientResponse Membership::ring_admin(uint64_t request_id,
                                             const proto::RingAdminRequest& request) {
  const gossip::RingState& ring = gossip_.ring();
  proto::RingAdminResponse body;
  body.claimant = ring.claimant;
  if (auto it = gossip_.members().find(ring.claimant); it != gossip_.members().end()) {
    body.claimant_address = it->second.client_address;
  } else if (auto c = configured_client_addresses_.find(ring.claimant);
             c != configured_client_addresses_.end()) {
    body.claimant_address = c->second;
  }
  Status status = Status::ok();
  switch (request.action) {
    case proto::RingAction::kStage: {
      RingChange change{change_kind(request.kind), request.node, request.replacement,
                        request.force};
      status = claimant_.stage(std::move(change), ring, gossip_.members());
      if (status.is_ok()) {
        log(LogEvent::info("ring_change_staged")
                .with("change", describe(claimant_.staged().back())));
      }
      break;
    }
    case proto::RingAction::kPlan: {
      auto plan = claimant_.plan(ring, gossip_.members());
      if (!plan) {
        status = plan.status();
      } else {
        fill_plan(body, *plan);
      }
      break;
    }
    case proto::RingAction::kCommit: {
      auto committed = claimant_.commit(request.plan_id, ring, gossip_.members());
      if (!committed) {
        status = committed.status();
        break;
      }
      body.ring_version = committed->version;
      log(LogEvent::info("ring_plan_committed")
              .with("plan_id", fmt::format("{:#x}", request.plan_id))
              .with("version", committed->version));
      publish_ring(std::move(committed).value());
      break;
    }
    case proto::RingAction::kCancel: {
      auto cancelled = claimant_.cancel(ring);
      if (!cancelled) {
        status = cancelled.status();
      } else if (cancelled->has_value()) {
        body.ring_version = (*cancelled)->version;
        log(LogEvent::info("ring_transition_cancelled").with("version", body.ring_version));
        publish_ring(std::move(**cancelled));
      }
      break;
    }
  }
  for (const auto& change : claimant_.staged()) body.staged.push_back(describe(change));
  body.from_version = body.from_version ? body.from_version : gossip_.ring().version;
  if (!status.is_ok()) {
    static constexpr const char* kActions[] = {"stage", "plan", "commit", "cancel"};
    log(LogEvent::info("ring_admin_refused")
            .with("action", kActions[static_cast<int>(request.action)])
            .with("claimant", body.claimant)
            .with("claimant_address", body.claimant_address)
            .with("error", status));
  }
  return proto::ClientResponse{request_id, std::move(status), std::move(body)};
}

void Membership::fill_plan(proto::RingAdminResponse& body, const RingPlan& plan) {
  body.plan_id = plan.id;
  body.from_version = plan.from_version;
  for (const auto& t : plan.transfers) body.transfers.push_back({t.partition, t.from, t.to});
  for (const auto& [node, counts] : plan.ownership) {
    body.ownership.push_back({node, counts.first, counts.second});
  }
  body.moved = plan.quality.moved;
  body.balance = plan.quality.balance;
  body.spacing_violations = plan.quality.spacing_violations;
  body.zone_violations = plan.quality.zone_violations;
  // The data to move, estimated from this node's own ranges: a range's key count from its
  // Merkle tree where it has one (the mean of its trees elsewhere), bytes per key from a
  // sample of its first keys.
  uint64_t tree_keys = 0, trees = 0;
  std::map<uint32_t, uint64_t> keys_of;
  for (uint32_t p : node_.held_ranges()) {
    if (const auto* tree = node_.anti_entropy().tree(p)) {
      keys_of[p] = tree->entries();
      tree_keys += tree->entries();
      ++trees;
    }
  }
  const uint64_t mean_keys = trees ? tree_keys / trees : 0;
  uint64_t sampled = 0, sampled_bytes = 0;
  (void)storage_.scan(0, UINT64_MAX, [&](ring::Token, std::string_view key, std::string_view v) {
    sampled_bytes += key.size() + v.size();
    return ++sampled < 1000;
  });
  const uint64_t bytes_per_key = sampled ? sampled_bytes / sampled : 0;
  for (const auto& t : plan.transfers) {
    auto it = keys_of.find(t.partition);
    body.estimated_keys += it != keys_of.end() ? it->second : mean_keys;
  }
  body.estimated_bytes = body.estimated_keys * bytes_per_key;
}

}  // namespace qkv::node
