#include "tests/sim/simulation.h"

#include <fmt/format.h>

#include "node/incarnation.h"
#include "node/wire/replica_codec.h"
#include "tests/sim/world.h"

namespace qkv::sim {
namespace detail {
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
  if (n.membership) return n.membership->gossip().ring();
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
  if (last_change_ && ring.version < last_change_->version) {
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
  if (!nodes_[c].core) return retry();
  std::vector<NodeId> spares, members = ring::Ring(ring.owners).members();
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (!nodes_[i].removed && !exiting(i) && !nodes_[i].ever_member) spares.push_back(nodes_[i].id);
  }
  using Kind = node::RingChange::Kind;
  std::vector<Kind> kinds;
  if (!spares.empty()) kinds.insert(kinds.end(), {Kind::kJoin, Kind::kReplace});
  if (members.size() > config_.n) kinds.push_back(Kind::kLeave);
  if (kinds.empty()) {
    trace_ring("ring changes: no spare left and the ring has n members; no more changes");
    ring_changes_left_ = 0;
    return;
  }
  node::RingChange change;
  change.kind = kinds[below(kinds.size())];
  if (change.kind == Kind::kJoin) {
    change.node = spares[below(spares.size())];
  } else {
    change.node = members[below(members.size())];
    if (change.kind == Kind::kReplace) change.replacement = spares[below(spares.size())];
  }
  // The operator: stage, plan, commit, at the claimant (qkvctl node ..., ring plan/commit).
  node::Membership& claimant = *nodes_[c].membership;
  trace_ring(fmt::format("operator: '{}' at {}", node::describe(change), nodes_[c].id));
  proto::RingAdminRequest request;
  request.action = proto::RingAction::kStage;
  request.kind = change.kind == Kind::kJoin    ? proto::RingChangeKind::kJoin
                 : change.kind == Kind::kLeave ? proto::RingChangeKind::kLeave
                                               : proto::RingChangeKind::kReplace;
  request.node = change.node;
  request.replacement = change.replacement;
  uint64_t version = 0;
  bool staged_ok = false;
  auto admin = [&](proto::RingAction action, uint64_t plan_id = 0) {
    proto::RingAdminRequest r;
    r.action = action;
    r.plan_id = plan_id;
    return claimant.ring_admin(0, r);
  };
  Status status = [&] {
    auto staged = claimant.ring_admin(0, request);
    if (!staged.status.is_ok()) return staged.status;
    staged_ok = true;
    auto plan = admin(proto::RingAction::kPlan);
    if (!plan.status.is_ok()) return plan.status;
    auto committed =
        admin(proto::RingAction::kCommit, std::get<proto::RingAdminResponse>(plan.body).plan_id);
    if (committed.status.is_ok()) {
      version = std::get<proto::RingAdminResponse>(committed.body).ring_version;
    }
    return committed.status;
  }();
  trace_membership(c);
  if (!status.is_ok()) {
    if (staged_ok) {
      // Unstage it (a cancel with changes staged cancels only them).
      (void)admin(proto::RingAction::kCancel);
    }
    trace_ring(
        fmt::format("ring change '{}' refused: {}", node::describe(change), status.to_string()));
    return retry();
  }
  --ring_changes_left_;
  ++(change.kind == Kind::kJoin ? joins_ : change.kind == Kind::kLeave ? leaves_ : replaces_);
  last_change_ = Committed{change, version};
  after(between(0, 3000), [this] { try_ring_change(); });
}

std::string Simulation::ring_unsettled() const {
  const gossip::RingState ring = newest_ring();
  if (ring_changes_left_ > 0) return fmt::format("{} ring changes never made", ring_changes_left_);
  if (!ring.next_owners.empty()) {
    // As the claimant sees its receivers (its own gossip view), if it runs.
    const auto& claimant = nodes_[index_of(ring.claimant)];
    node::MemberView members;
    if (claimant.membership) members = claimant.membership->gossip().members();
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
    if (!n.removed && n.core && !contains(ring.owners, n.id) && !n.core->held_ranges().empty()) {
      return fmt::format("{} left the ring and still holds {} key ranges", n.id,
                         n.core->held_ranges().size());
    }
  }
  return "";
}

std::vector<std::string> Simulation::membership_violations() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) {
    if (!n.membership) continue;
    const gossip::GossipCore& view = n.membership->gossip();
    for (const auto& other : nodes_) {
      if (&other == &n || !other.membership) continue;
      const gossip::NodeState& actual = other.membership->gossip().self();
      auto it = view.members().find(other.id);
      std::string wrong;
      if (it == view.members().end()) {
        wrong = "never heard of it";
      } else if (it->second.generation != actual.generation) {
        wrong = fmt::format("holds generation {}, its process has {}", it->second.generation,
                            actual.generation);
      } else if (it->second.status != actual.status) {
        wrong = fmt::format("holds status {}, it is {}", gossip::status_name(it->second.status),
                            gossip::status_name(actual.status));
      } else if (!view.is_up(other.id, node_now(index_of(n.id)))) {
        wrong =
            fmt::format("holds it down (phi {:.1f})", view.phi(other.id, node_now(index_of(n.id))));
      }
      if (!wrong.empty()) {
        out.push_back(fmt::format(
            "seed {}: gossip did not converge after the faults stopped: {} about {}: {}\n",
            config_.seed, n.id, other.id, wrong));
      }
    }
  }
  return out;
}

void Simulation::final_repair() {
  // Every key read at R=N, so read repair brings every replica to the merged state.
  Client& c = clients_[0];
  std::vector<std::string> all = keys_;
  for (const auto& cl : clients_) {
    if (cl.solo) all.insert(all.end(), cl.keys.begin(), cl.keys.end());
  }
  for (const auto& key : all) {
    run_until(clock_.now() + Duration(50));
    issue(c, pick_node(), proto::GetRequest{key, static_cast<uint8_t>(config_.n)},
          [this, key](std::optional<proto::ClientResponse> response) {
            trace(fmt::format("final read {} -> {}", key,
                              response ? response->status.to_string() : "no answer"),
                  &key);
          });
  }
  run_until(clock_.now() + kRepairRound);
}

FinalState Simulation::final_state() const {
  FinalState state;
  std::vector<std::string> all = keys_;
  for (const auto& cl : clients_) {
    if (cl.solo) all.insert(all.end(), cl.keys.begin(), cl.keys.end());
  }
  // Replicas are judged against the final ring; coordinators were primaries of any ring.
  std::shared_ptr<const ring::Ring> final_ring = ring_;
  std::vector<std::shared_ptr<const ring::Ring>> every_ring;
  if (rings_on()) {
    final_ring = std::make_shared<const ring::Ring>(newest_ring().owners);
    for (const auto& r : issued_) {
      every_ring.push_back(std::make_shared<const ring::Ring>(r.owners));
      if (!r.next_owners.empty())
        every_ring.push_back(std::make_shared<const ring::Ring>(r.next_owners));
    }
  }
  for (const auto& key : all) {
    KeyState& ks = state.keys[key];
    ks.primaries = final_ring->preference_list(ring::token_of(key), config_.n).primaries;
    std::set<NodeId> ever;
    for (const auto& r : every_ring) {
      for (auto& p : r->preference_list(ring::token_of(key), config_.n).primaries) ever.insert(p);
    }
    ks.ever_primaries.assign(ever.begin(), ever.end());
    for (const auto& n : nodes_) {
      auto bytes = n.storage->get(ring::token_of(key), key);
      QKV_ASSERT(bytes.is_ok());
      std::optional<causal::SiblingSet> set;
      if (bytes.value()) {
        auto decoded = node::decode_sibling_set(*bytes.value());
        QKV_ASSERT(decoded.is_ok());
        set = std::move(decoded).value();
      }
      ks.replicas[n.id] = std::move(set);
    }
  }
  for (const auto& n : nodes_) state.incarnations[n.id] = n.incarnations.size();
  if (!rings_on()) return state;
  state.ring_version = newest_ring().version;
  for (const auto& n : nodes_) {
    NodeHolding& h = state.holdings[n.id];
    h.removed = n.removed;
    for (uint32_t p = 0; p < final_ring->partition_count(); ++p) {
      if (final_ring->preference_list(final_ring->first_token(p), config_.n).is_primary(n.id)) {
        h.replicated.insert(p);
      }
    }
    if (n.core) h.held = n.core->held_ranges();
    Status scanned =
        n.storage->scan(0, UINT64_MAX, [&](ring::Token token, std::string_view, std::string_view) {
          ++h.stored[final_ring->partition_of(token)];
          return true;
        });
    QKV_ASSERT(scanned.is_ok());
  }
  return state;
}

SimResult Simulation::run() {
  std::vector<NodeId> ids;
  for (int i = 0; i < config_.nodes; ++i) ids.push_back(fmt::format("n{}", i + 1));
  QKV_ASSERT(config_.nodes >= 1 && config_.nodes <= 9);  // one-digit ids: index_of
  // With ring changes, the last nodes start as spares (outside the ring).
  const int spares =
      rings_on() ? std::min(2, std::max(0, config_.nodes - static_cast<int>(config_.n))) : 0;
  std::vector<NodeId> ring_members(ids.begin(), ids.end() - spares);
  auto ring = ring::Ring::claim(ring_members, config_.partitions, config_.n);
  QKV_ASSERT(ring.is_ok());
  ring_ = std::make_shared<const ring::Ring>(std::move(ring).value());
  nodes_.resize(ids.size());
  for (int i = 0; i < config_.nodes; ++i) {
    SimNode& n = nodes_[i];
    n.id = ids[i];
    n.storage = std::make_unique<SimStorage>(clock_, config_.sync_writes, config_.writeback);
    n.transport = std::make_unique<SimTransport>(*this, i);
    if (config_.faults.skew) n.skew = between(-2000, 2000);
    n.clock = std::make_unique<NodeClock>(clock_, n.skew);
  }
  for (int i = 0; i < config_.keys; ++i) keys_.push_back(fmt::format("k{}", i));
  clients_.resize(config_.clients + 1);
  for (int i = 0; i <= config_.clients; ++i) {
    clients_[i].index = i;
    clients_[i].solo = i == config_.clients;
    if (clients_[i].solo) {
      clients_[i].keys = {"solo0", "solo1"};
    } else {
      clients_[i].keys = keys_;
    }
  }
  // Version 1 as qkvd's main makes it from the configured members: the smallest claims.
  initial_members_ = ring_members;
  initial_ring_.version = 1;
  initial_ring_.n = config_.n;
  initial_ring_.owners = ring_->owners();
  initial_ring_.claimant = *std::min_element(ring_members.begin(), ring_members.end());
  if (rings_on()) {
    rings_[1] = initial_ring_;
    issued_.push_back(initial_ring_);
    for (auto& n : nodes_) n.ever_member = contains(initial_ring_.owners, n.id);
    ring_changes_left_ = config_.ring_changes;
    trace_ring(fmt::format("ring v1: owners {{{}}}, spares {}",
                           describe_owners(initial_ring_.owners), spares));
  }
  for (int i = 0; i < config_.nodes; ++i) start_node(i);
  faults_on_ = config_.faults.any();
  if (faults_on_) schedule_faults();
  for (auto& c : clients_) client_step(c);
  // The first change once gossip has spread every node's state (joins need the claimant
  // to know the joiner).
  if (rings_on()) after(between(2000, 5000), [this] { try_ring_change(); });

  // Workload phase, bounded in simulated time as well as in operations.
  const TimePoint limit = clock_.now() + Duration(600'000);
  while (clients_done_ < static_cast<int>(clients_.size()) && clock_.now() < limit &&
         !queue_.empty()) {
    run_until(clock_.now() + Duration(100));
  }
  heal();
  std::string unsettled;
  if (rings_on()) {
    // The last transition completes and every node applies the final ring, faults off.
    const TimePoint settle_limit = clock_.now() + kRingSettleMax;
    while (!(unsettled = ring_unsettled()).empty() && clock_.now() < settle_limit) {
      run_until(clock_.now() + Duration(100));
    }
  }
  run_until(clock_.now() + kDrain);
  if (config_.repair == SimConfig::Repair::kAntiEntropy) {
    // No reads: only exchanges (every partition every 0.5 s, jittered) repair. Trees are
    // rebuilt after restarts one partition per tick; 20 s is many rounds of exchanges.
    run_until(clock_.now() + Duration(20'000));
  } else {
    final_repair();
    final_repair();  // the second pass finds nothing to repair once the first converged
  }

  SimResult result;
  result.destructive_event = destructive_;
  result.violations = check(config_, history_, final_state(), destructive_, key_trace_);
  if (clock_.now() >= limit)
    result.violations.push_back("the workload did not finish in 600 s of simulated time");
  for (const auto& v : ring_violations_) result.violations.push_back(v);
  for (auto& v : membership_violations()) result.violations.push_back(std::move(v));
  if (!unsettled.empty()) {
    result.violations.push_back(
        fmt::format("seed {}: the ring did not settle within {} s after the faults stopped: {}\n",
                    config_.seed, kRingSettleMax.count() / 1000, unsettled));
  }
  result.ok = result.violations.empty();
  for (const auto& v : result.violations) hash(v);
  result.trace_hash = trace_hash_;
  result.events = events_;
  result.messages = messages_;
  result.ops = history_.size();
  for (const auto& op : history_) {
    bool answered = op.outcome == Op::Outcome::kOk || op.outcome == Op::Outcome::kNotFound;
    result.ops_acknowledged += answered;
    result.ops_unsuccessful += !answered;
  }
  for (const auto& n : nodes_) {
    if (!n.handoff) continue;
    result.hints_stored += n.handoff->stats().stored;
    result.hints_delivered += n.handoff->stats().delivered;
  }
  if (rings_on()) {
    result.ring_joins = joins_;
    result.ring_leaves = leaves_;
    result.ring_replaces = replaces_;
    result.ring_version = newest_ring().version;
    for (const auto& [version, r] : rings_) {  // switches some node holds
      if (version > 1 && version <= result.ring_version && r.next_owners.empty())
        ++result.ring_switches;
    }
    result.nodes_removed = removed_count_;
    result.transfer_keys_received = keys_received_;
    result.ranges_dropped = ranges_dropped_;
    for (const auto& n : nodes_) {
      if (!n.core) continue;
      result.transfer_keys_received += n.core->transfer().counters().keys_received;
      result.ranges_dropped += n.core->counters().ranges_dropped;
    }
  }
  result.trace = std::move(full_trace_);
  return result;
}

}  // namespace detail

SimResult run_simulation(const SimConfig& config) {
  return detail::Simulation(config).run();
}

}  // namespace qkv::sim
