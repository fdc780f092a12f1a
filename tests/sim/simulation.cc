// A run of the simulation (simulation.h): the world built, the workload phase under faults,
// the heal, the rings settling, the drain and the final repair; then the checker's verdict
// and the run's counters.
#include "tests/sim/simulation.h"

#include <fmt/format.h>

#include "tests/sim/world.h"

namespace qkv::sim {
namespace detail {

SimResult Simulation::run() {
  build_world();
  for (int i = 0; i < config_.nodes; ++i) start_node(i);
  bootstrap();
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
  const std::string unsettled = settle_rings();
  run_until(clock_.now() + kDrain);
  if (config_.repair == SimConfig::Repair::kAntiEntropy) {
    // No reads: only exchanges (every partition every 0.5 s, jittered) repair. Trees are
    // rebuilt after restarts one partition per tick; 20 s is many rounds of exchanges.
    run_until(clock_.now() + Duration(20'000));
  } else {
    final_repair();
    final_repair();  // the second pass finds nothing to repair once the first converged
  }
  return judge(limit, unsettled);
}

void Simulation::build_world() {
  std::vector<NodeId> ids;
  for (int i = 0; i < config_.nodes; ++i) ids.push_back(fmt::format("n{}", i + 1));
  QKV_ASSERT(config_.nodes >= 1 && config_.nodes <= 9);  // one-digit ids: index_of
  // With ring changes, the last nodes start as spares (outside the ring).
  const int spares =
      rings_on() ? std::min(2, std::max(0, config_.nodes - static_cast<int>(config_.n))) : 0;
  std::vector<NodeId> ring_members(ids.begin(), ids.end() - spares);
  // Version 1 as qkvd's main makes it from the configured members (node/host.h): the
  // smallest id claims, and the cluster id comes from the members.
  auto first = node::first_ring(ring_members, config_.partitions, config_.n);
  QKV_ASSERT(first.is_ok());
  initial_ring_ = std::move(first).value();
  ring_ = std::make_shared<const ring::Ring>(initial_ring_.owners);
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
  initial_members_ = ring_members;
  if (rings_on()) {
    rings_[1] = initial_ring_;
    issued_.push_back(initial_ring_);
    for (auto& n : nodes_) n.ever_member = contains(initial_ring_.owners, n.id);
    ring_changes_left_ = config_.ring_changes;
    trace_ring(fmt::format("ring v1: owners {{{}}}, spares {}",
                           describe_owners(initial_ring_.owners), spares));
  }
}

void Simulation::bootstrap() {
  constexpr Duration kBootstrapMax{30'000};
  const TimePoint limit = clock_.now() + kBootstrapMax;
  auto made = [&] {
    for (const auto& n : nodes_) {
      if (contains(initial_members_, n.id) && n.host->membership().gossip().ring().version == 0) {
        return false;
      }
    }
    return true;
  };
  while (!made() && clock_.now() < limit) run_until(clock_.now() + Duration(100));
  trace_ring(fmt::format("bootstrap: the first ring is made or learned everywhere: {}", made()));
}

std::string Simulation::settle_rings() {
  std::string unsettled;
  if (!rings_on()) return unsettled;
  // The last transition completes and every node applies the final ring, faults off.
  const TimePoint settle_limit = clock_.now() + kRingSettleMax;
  while (!(unsettled = ring_unsettled()).empty() && clock_.now() < settle_limit) {
    run_until(clock_.now() + Duration(100));
  }
  return unsettled;
}

SimResult Simulation::judge(TimePoint limit, const std::string& unsettled) {
  SimResult result;
  result.destructive_event = destructive_;
  result.snapshots = snapshots_;
  result.restores = restores_;
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
    if (!n.host) continue;
    result.hints_stored += n.host->handoff().stats().stored;
    result.hints_delivered += n.host->handoff().stats().delivered;
    result.fallback_reads += n.host->node().counters().fallback_reads;
    result.tombstones_reaped += n.host->node().counters().tombstones_reaped;
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
    for (const auto& n : nodes_) {
      result.spares_joined += n.ever_member && !contains(initial_members_, n.id);
    }
    result.transfer_keys_received = keys_received_;
    result.ranges_dropped = ranges_dropped_;
    for (const auto& n : nodes_) {
      if (!n.host) continue;
      result.transfer_keys_received += n.host->node().transfer().counters().keys_received;
      result.ranges_dropped += n.host->node().counters().ranges_dropped;
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
