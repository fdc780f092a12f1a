// Faults: the fault classes a run injects (parsed from --faults), and the fault schedule
// that injects them during the workload phase until heal() stops them.
#include <fmt/format.h>

#include <sstream>

#include "node/incarnation.h"
#include "tests/sim/simulation.h"
#include "tests/sim/world.h"

namespace qkv::sim {

Faults Faults::all() {
  Faults f;
  f.loss = 0.05;
  f.duplicate = 0.02;
  f.long_delay = 0.02;
  f.partitions = f.crashes = f.wipes = f.skew = f.restores = true;
  return f;
}

bool Faults::any() const {
  return loss > 0 || duplicate > 0 || long_delay > 0 || partitions || crashes || wipes || skew ||
         long_outage || restores || ttl;
}

Result<Faults> Faults::parse(const std::string& text) {
  if (text == "all") return all();
  if (text == "none" || text.empty()) return none();
  Faults f;
  const Faults defaults = all();
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::string name = item, rate;
    if (auto eq = item.find('='); eq != std::string::npos) {
      name = item.substr(0, eq);
      rate = item.substr(eq + 1);
    }
    auto rate_or = [&](double fallback) -> Result<double> {
      if (rate.empty()) return fallback;
      char* end = nullptr;
      double v = std::strtod(rate.c_str(), &end);
      if (*end != '\0' || v < 0 || v > 1) {
        return Status::invalid_argument(fmt::format("fault rate '{}' must be in 0..1", item));
      }
      return v;
    };
    Result<double> r = 0.0;
    if (name == "loss") {
      r = rate_or(defaults.loss);
      if (r) f.loss = *r;
    } else if (name == "dup") {
      r = rate_or(defaults.duplicate);
      if (r) f.duplicate = *r;
    } else if (name == "delay") {
      r = rate_or(defaults.long_delay);
      if (r) f.long_delay = *r;
    } else if (name == "partition") {
      f.partitions = true;
    } else if (name == "crash") {
      f.crashes = true;
    } else if (name == "wipe") {
      f.wipes = true;
    } else if (name == "skew") {
      f.skew = true;
    } else if (name == "long") {
      f.long_outage = true;
    } else if (name == "ttl") {
      f.ttl = true;
    } else if (name == "restore") {
      f.restores = true;
    } else {
      return Status::invalid_argument(
          fmt::format("unknown fault '{}'; known: loss, dup, delay, partition, crash, wipe, skew, "
                      "restore, long, ttl, all, none",
                      name));
    }
    if (!r) return r.status();
  }
  return f;
}

std::string Faults::to_string() const {
  if (!any()) return "none";
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ",") + s; };
  if (loss > 0) add(fmt::format("loss={}", loss));
  if (duplicate > 0) add(fmt::format("dup={}", duplicate));
  if (long_delay > 0) add(fmt::format("delay={}", long_delay));
  if (partitions) add("partition");
  if (crashes) add("crash");
  if (wipes) add("wipe");
  if (skew) add("skew");
  if (restores) add("restore");
  if (long_outage) add("long");
  if (ttl) add("ttl");
  return out;
}

namespace detail {

void Simulation::schedule_faults() {
  if (config_.faults.long_outage && !long_outage_scheduled_) {
    long_outage_scheduled_ = true;
    after(between(1000, 3000), [this] { inject_long_outage(); });
  }
  after(between(50, 400), [this] {
    if (!faults_on_) return;
    inject_fault();
    schedule_faults();
  });
}

void Simulation::inject_fault() {
  const Faults& f = config_.faults;
  std::vector<int> kinds;
  if (f.partitions) kinds.push_back(0);
  if (f.crashes) kinds.push_back(1);
  if (f.wipes) kinds.push_back(2);
  // Not with ring changes: a node restored there comes back with the ring it had saved, and
  // a restored claimant could issue a ring version that exists already (gossip would show
  // the conflict) before it hears the newer ones. Restoring one node during a ring change
  // is not supported (docs/operations.md, Backup and restore).
  const bool restores = f.restores && !rings_on();
  if (restores) kinds.push_back(3);
  if (kinds.empty()) return;
  // The snapshot a restore puts back is taken at the first draw: the older it is, the more
  // the restore takes away.
  if (restores && snapshots_ == 0) return inject_restore();
  int kind = kinds[below(kinds.size())];
  if (kind == 0) return inject_partition();
  if (kind == 3) return inject_restore();
  inject_crash(kind == 2);
}

int Simulation::crash_candidate() {
  const int k = static_cast<int>(nodes_.size());
  if (!rings_on()) return static_cast<int>(below(k));
  std::vector<int> candidates;  // not a node that left: it is gone, or about to go
  for (int i = 0; i < k; ++i) {
    if (!nodes_[i].removed && !exiting(i)) candidates.push_back(i);
  }
  return candidates[below(candidates.size())];
}

void Simulation::inject_restore() {
  // First a snapshot of a running node (as qkvctl snapshot makes one: node::snapshot_marker()
  // in the copy), at the first draw; at a later one, once writes went on past it, that node is
  // stopped, its storage replaced by the snapshot, and started again. Destructive like a wipe (the
  // writes it took after the snapshot are gone from it), so at most one per run; a restore drawn
  // after another destructive event is skipped.
  if (!snapshot_) {
    const int x = crash_candidate();
    SimNode& n = nodes_[x];
    if (!n.host || destructive_) return;
    const std::string dir =
        fmt::format("/snapshots/{}-{}", n.id, clock_.now().time_since_epoch().count());
    QKV_ASSERT(
        n.storage->checkpoint(dir, node::snapshot_marker(clock_.now().time_since_epoch().count()))
            .is_ok());
    snapshot_ = TakenSnapshot{x, dir, clock_.now() + between(300, 1500)};
    ++snapshots_;
    trace(fmt::format("snapshot {} into {}", n.id, dir));
    return;
  }
  if (down_ > 0 || destructive_ || clock_.now() < snapshot_->restore_after) return;
  const TakenSnapshot taken = *snapshot_;
  snapshot_.reset();
  SimNode& n = nodes_[taken.node];
  if (!n.host || n.removed || exiting(taken.node)) return;
  crash(taken.node, /*machine=*/false, /*wipe=*/false);
  QKV_ASSERT(n.storage->restore(taken.dir).is_ok());
  destructive_ = true;
  ++restores_;
  trace(fmt::format("restore {} from {}", n.id, taken.dir));
  ++down_;
  after(between(50, 2000), [this, x = taken.node] {
    --down_;
    start_node(x);
  });
}

void Simulation::inject_partition() {
  int k = static_cast<int>(nodes_.size());
  std::set<std::pair<int, int>> cut;
  uint64_t shape = below(3);
  if (shape == 0) {  // a random split into two sides
    std::vector<bool> side(k);
    for (int i = 0; i < k; ++i) side[i] = below(2) == 1;
    for (int a = 0; a < k; ++a) {
      for (int b = 0; b < k; ++b) {
        if (side[a] != side[b]) cut.insert({a, b});
      }
    }
  } else if (shape == 1) {  // one node isolated
    int x = static_cast<int>(below(k));
    for (int o = 0; o < k; ++o) {
      if (o != x) cut.insert({x, o}), cut.insert({o, x});
    }
  } else {  // asymmetric: x cannot reach y, y still reaches x
    int x = static_cast<int>(below(k)), y = static_cast<int>(below(k));
    if (x != y) cut.insert({x, y});
  }
  trace(fmt::format("partition shape={} cuts={}", shape, cut.size()));
  for (const auto& c : cut) blocked_.insert(c);
  after(between(100, 3000), [this, cut] {
    for (const auto& c : cut) blocked_.erase(c);
    trace("partition healed");
  });
}

void Simulation::inject_crash(bool wipe_chosen) {
  // Crashes and wipes: one node down at a time. Destructive events (a wipe, a machine crash
  // with sync_writes off) at most once per run: two of them can legitimately lose a W=2
  // write (both copies gone), which no design prevents without anti-entropy.
  if (down_ > 0) return;
  const int x = crash_candidate();
  bool wipe = wipe_chosen && !destructive_;
  bool machine = wipe || below(2) == 1;
  if (machine && !config_.sync_writes && !wipe && destructive_) machine = false;
  crash(x, machine, wipe);
  ++down_;
  after(between(50, 2000), [this, x] {
    --down_;
    start_node(x);
  });
}

void Simulation::inject_long_outage() {
  if (!faults_on_ || down_ > 0) {  // another node is down: wait for it
    after(Duration(200), [this] { inject_long_outage(); });
    return;
  }
  const int k = static_cast<int>(nodes_.size());
  int x = static_cast<int>(below(k));
  if (nodes_[x].removed || exiting(x) || !nodes_[x].host) return;
  crash(x, /*machine=*/false, /*wipe=*/false);
  ++down_;
  const Duration outage = config_.tombstone_grace + Duration(between(3000, 6000));
  trace(fmt::format("long outage of {} for {} ms", nodes_[x].id, outage.count()));
  after(outage, [this, x] {
    --down_;
    if (!nodes_[x].host && !nodes_[x].removed) start_node(x);
  });
}

void Simulation::heal() {
  faults_on_ = false;
  blocked_.clear();
  trace("heal: partitions removed, faults off");
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (!nodes_[i].host && !nodes_[i].removed) start_node(i);
  }
}

}  // namespace detail

}  // namespace qkv::sim
