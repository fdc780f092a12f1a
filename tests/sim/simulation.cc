#include "tests/sim/simulation.h"

#include <fmt/format.h>

#include "node/incarnation.h"
#include "node/wire/replica_codec.h"
#include "tests/sim/world.h"

namespace qkv::sim {
namespace detail {
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
