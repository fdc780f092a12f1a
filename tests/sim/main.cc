// qkv-sim: run one seeded simulation, or sweep a range of seeds. See docs/testing.md.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "common/mutation.h"
#include "tests/sim/simulation.h"
#ifndef QKV_MUTATIONS
#include "tests/sim/scale.h"
#endif

namespace {

struct Range {
  uint64_t first = 0, last = 0;
};

bool parse_range(const std::string& text, Range& range) {
  auto dots = text.find("..");
  if (dots == std::string::npos) return false;
  try {
    range.first = std::stoull(text.substr(0, dots));
    range.last = std::stoull(text.substr(dots + 2));
  } catch (const std::exception&) {
    return false;
  }
  return range.first <= range.last;
}

#ifndef QKV_MUTATIONS
// --scale: the gossip and ring cores alone on many nodes (tests/sim/scale.h).
int run_scale_mode(qkv::sim::ScaleConfig config, const std::string& delay, bool json) {
  Range d{static_cast<uint64_t>(config.delay_min.count()),
          static_cast<uint64_t>(config.delay_max.count())};
  if (!delay.empty() && !parse_range(delay, d)) {
    std::fprintf(stderr, "qkv-sim: --delay-ms takes A..B with A <= B\n");
    return 2;
  }
  config.delay_min = qkv::Duration(static_cast<int64_t>(d.first));
  config.delay_max = qkv::Duration(static_cast<int64_t>(d.last));
  if (config.seed_nodes > config.nodes) {
    std::fprintf(stderr, "qkv-sim: --seed-nodes %d exceeds --nodes %d\n", config.seed_nodes,
                 config.nodes);
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  qkv::sim::ScaleResult result = qkv::sim::run_scale(config);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const std::vector<std::string> violations = qkv::sim::check_scale(result);
  if (json) {
    fmt::print("{}\n", qkv::sim::scale_json(result));
  } else {
    fmt::print("{}({:.0f} ms of real time)\n", qkv::sim::scale_table(result), ms);
  }
  // The bounds (scale.h, check_scale) decide the exit status; the reasons go to stderr.
  for (const std::string& v : violations) std::fprintf(stderr, "bound exceeded: %s\n", v.c_str());
  return violations.empty() ? 0 : 1;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qkv-sim: qkv's node cores on a simulated network with faults, and a checker"};
  qkv::sim::SimConfig config;
  std::string faults = "all", seeds, sync = "on", mutation = "none";
  bool print_trace = false;
  int nodes = 0;  // 0: the mode's default
  app.add_option("--seed", config.seed, "the seed of one run");
  app.add_option("--seeds", seeds, "a sweep: A..B runs every seed from A to B");
  app.add_option(
         "--nodes", nodes,
         "nodes (1..9; with --scale 2..5000, default 1000, memory ~1.1 GB * (nodes/1000)^2)")
      ->check(CLI::Range(1, 5000));
  app.add_option("--n", config.n, "replicas per key")->check(CLI::Range(1, 9));
  app.add_option("--ops", config.ops, "client operations per run");
  app.add_option("--keys", config.keys, "shared keys (few keys force conflicts)");
  app.add_option("--clients", config.clients, "concurrent clients (plus the solo client)");
  app.add_option("--faults", faults,
                 "all, none, or loss[=p],dup[=p],delay[=p],partition,crash,wipe,skew,restore");
  app.add_option("--sync-writes", sync, "on|off: off models losing the unsynced tail")
      ->check(CLI::IsMember({"on", "off"}));
  std::string pipeline = "off";
  app.add_option("--commit-pipeline", pipeline,
                 "on|off: on writes group commits later than the node hands them over, as "
                 "qkvd's storage thread (node/committer.h)")
      ->check(CLI::IsMember({"on", "off"}));
  int64_t writeback_ms = config.writeback.count();
  app.add_option("--writeback-ms", writeback_ms,
                 "with --sync-writes off: how long a write stays in the page cache");
  int64_t grace_ms = config.tombstone_grace.count();
  app.add_option("--tombstone-grace-ms", grace_ms,
                 "tombstones are reaped this long after a delete (node/reaper.h); 0: never. "
                 "Hints live 20 s: the grace must exceed 26.5 s (hints, requests, skew)");
  app.add_flag("--trace", print_trace, "print the whole event trace of a single run");
  std::string repair = "read";
  app.add_option("--repair", repair,
                 "read: hinted handoff and final reads at R=N repair; aae: hinted handoff off, "
                 "no final reads, anti-entropy exchanges alone")
      ->check(CLI::IsMember({"read", "aae"}));
  app.add_option("--ring-changes", config.ring_changes,
                 "ring changes per run (0: off, a fixed ring of every node): the initial ring "
                 "holds nodes - min(2, nodes - n) nodes, the rest are spares; during the faulty "
                 "phase the operator commits joins, leaves (never below n members) and "
                 "replaces one at a time through the claimant, and the workload lasts until "
                 "the last transition has switched; needs --nodes > --n")
      ->check(CLI::Range(0, 100));
  std::string fanout = "all";
  app.add_option("--read-fanout", fanout,
                 "all: gets ask every primary; quorum: max(r, pr) of them, a spare on a failure "
                 "or at the stand-in alarm (node/coordinator/get_round.h)")
      ->check(CLI::IsMember({"all", "quorum"}));
  app.add_flag("--auto-join", config.auto_join,
               "with --ring-changes: every node runs with auto_join, so the spares join by "
               "themselves and the operator makes only leaves and replaces");
#ifdef QKV_MUTATIONS
  app.add_option("--mutation", mutation,
                 "a deliberate bug: ack-before-w, join-drops-concurrent, no-incarnation-bump, "
                 "writes-skip-receivers, generation-not-clocked, reap-without-check, "
                 "restore-keeps-actor, ttl-ignored-on-read")
      ->check(CLI::IsMember({"none", "ack-before-w", "join-drops-concurrent", "no-incarnation-bump",
                             "writes-skip-receivers", "generation-not-clocked",
                             "reap-without-check", "restore-keeps-actor", "ttl-ignored-on-read"}));
#endif
#ifndef QKV_MUTATIONS
  bool scale = false, json = false, no_bytes = false;
  qkv::sim::ScaleConfig scale_config;
  std::string delay;
  app.add_flag("--scale", scale,
               "scale mode: the gossip and ring cores alone on many nodes; reports rounds until "
               "a change reaches every node and messages per node per round");
  app.add_flag("--json", json, "with --scale: print the figures as JSON");
  app.add_option("--seed-nodes", scale_config.seed_nodes, "with --scale: gossip seeds (default 3)")
      ->check(CLI::Range(1, 5000));
  app.add_option("--loss", scale_config.loss, "with --scale: message loss rate in [0, 1)")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--delay-ms", delay, "with --scale: one-way delay range A..B (default 1..50)");
  app.add_option("--states-per-message-max", scale_config.states_per_message_max,
                 "with --scale: the gossip config's limit (default 256)")
      ->check(CLI::Range(1, 1 << 20));
  std::vector<std::string> scenarios;
  app.add_option(
         "--scenarios", scenarios,
         "with --scale: which follow bootstrap (default all): steady,join,status,ring,crash")
      ->delimiter(',')
      ->check(CLI::IsMember(qkv::sim::kScaleScenarios));
  app.add_flag("--no-bytes", no_bytes,
               "with --scale: do not encode messages to count bytes (~15% faster)");
#endif
  CLI11_PARSE(app, argc, argv);
  config.repair = repair == "aae" ? qkv::sim::SimConfig::Repair::kAntiEntropy
                                  : qkv::sim::SimConfig::Repair::kReadRepair;
  config.read_fanout =
      fanout == "quorum" ? qkv::coordinator::Fanout::kQuorum : qkv::coordinator::Fanout::kAll;
#ifndef QKV_MUTATIONS
  if (scale) {
    scale_config.seed = config.seed;
    scale_config.nodes = nodes == 0 ? scale_config.nodes : nodes;
    scale_config.measure_bytes = !no_bytes;
    if (!scenarios.empty()) scale_config.scenarios = {scenarios.begin(), scenarios.end()};
    if (scale_config.nodes < 2) {
      std::fprintf(stderr, "qkv-sim: --scale needs --nodes >= 2\n");
      return 2;
    }
    return run_scale_mode(scale_config, delay, json);
  }
#endif
  if (nodes > 9) {
    std::fprintf(stderr, "qkv-sim: --nodes %d: at most 9 outside --scale\n", nodes);
    return 2;
  }
  if (nodes != 0) config.nodes = nodes;

#ifdef QKV_MUTATIONS
  using qkv::mutation::Kind;
  qkv::mutation::active = mutation == "ack-before-w"             ? Kind::kAckBeforeW
                          : mutation == "join-drops-concurrent"  ? Kind::kJoinDropsConcurrent
                          : mutation == "no-incarnation-bump"    ? Kind::kNoIncarnationBump
                          : mutation == "writes-skip-receivers"  ? Kind::kWritesSkipReceivers
                          : mutation == "generation-not-clocked" ? Kind::kGenerationNotClocked
                          : mutation == "reap-without-check"     ? Kind::kReapWithoutCheck
                          : mutation == "ttl-ignored-on-read"    ? Kind::kTtlIgnoredOnRead
                          : mutation == "restore-keeps-actor"    ? Kind::kRestoreKeepsActor
                                                                 : Kind::kNone;
#endif
  auto parsed = qkv::sim::Faults::parse(faults);
  if (!parsed) {
    std::fprintf(stderr, "qkv-sim: %s\n", parsed.status().message().c_str());
    return 2;
  }
  config.faults = *parsed;
  config.sync_writes = sync == "on";
  config.commit_pipeline = pipeline == "on";
  config.writeback = qkv::Duration(writeback_ms);
  config.tombstone_grace = qkv::Duration(grace_ms);
  if (config.n > static_cast<uint32_t>(config.nodes)) {
    std::fprintf(stderr, "qkv-sim: --n %u exceeds --nodes %d\n", config.n, config.nodes);
    return 2;
  }
  if (config.ring_changes > 0 && static_cast<uint32_t>(config.nodes) <= config.n) {
    std::fprintf(stderr, "qkv-sim: --ring-changes needs --nodes > --n (spares to join)\n");
    return 2;
  }

  Range range{config.seed, config.seed};
  bool sweep = !seeds.empty();
  if (sweep && !parse_range(seeds, range)) {
    std::fprintf(stderr, "qkv-sim: --seeds takes A..B with A <= B\n");
    return 2;
  }
  config.keep_trace = print_trace && !sweep;
  fmt::print("qkv-sim: nodes={} n={} ops={} keys={} clients={}+1 faults={} sync_writes={}{}{}{}\n",
             config.nodes, config.n, config.ops, config.keys, config.clients,
             config.faults.to_string(), sync, config.commit_pipeline ? " commit_pipeline" : "",
             config.ring_changes > 0 ? fmt::format(" ring_changes={}{}", config.ring_changes,
                                                   config.auto_join ? " auto_join" : "")
                                     : "",
             mutation == "none" ? "" : " mutation=" + mutation);

  uint64_t passed = 0, slowest_seed = range.first;
  double slowest_ms = 0;
  std::vector<uint64_t> failed;
  for (uint64_t seed = range.first; seed <= range.last; ++seed) {
    config.seed = seed;
    auto start = std::chrono::steady_clock::now();
    qkv::sim::SimResult result = qkv::sim::run_simulation(config);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (ms > slowest_ms) slowest_ms = ms, slowest_seed = seed;
    for (const auto& line : result.trace) fmt::print("{}\n", line);
    if (!sweep || !result.ok) {
      fmt::print(
          "seed {}: {} ops ({} acknowledged), {} messages, {} events, hints {} stored {} "
          "delivered, {} fallback reads, {} tombstones reaped, {} snapshots {} restored, "
          "destructive={}, trace {:016x}, {:.0f} ms: {}\n",
          seed, result.ops, result.ops_acknowledged, result.messages, result.events,
          result.hints_stored, result.hints_delivered, result.fallback_reads,
          result.tombstones_reaped, result.snapshots, result.restores, result.destructive_event,
          result.trace_hash, ms, result.ok ? "ok" : "VIOLATION");
      if (config.ring_changes > 0) {
        fmt::print(
            "  ring: {} joins, {} leaves, {} replaces, {} switches, final version {}; {} keys "
            "transferred, {} ranges dropped, {} nodes removed, {} spares joined\n",
            result.ring_joins, result.ring_leaves, result.ring_replaces, result.ring_switches,
            result.ring_version, result.transfer_keys_received, result.ranges_dropped,
            result.nodes_removed, result.spares_joined);
      }
    }
    if (result.ok) {
      ++passed;
      continue;
    }
    failed.push_back(seed);
    // The first failure in full; later ones by their first violation's headline only.
    if (failed.size() == 1) {
      for (const auto& v : result.violations) fmt::print("{}", v);
    } else {
      fmt::print("{}\n", result.violations.front().substr(0, result.violations.front().find('\n')));
    }
  }
  uint64_t total = range.last - range.first + 1;
  if (sweep) {
    fmt::print("sweep {}..{}: {} passed, {} failed; slowest seed {} ({:.0f} ms)\n", range.first,
               range.last, passed, failed.size(), slowest_seed, slowest_ms);
    if (!failed.empty()) {
      fmt::print("failing seeds:");
      for (uint64_t s : failed) fmt::print(" {}", s);
      fmt::print("\nreproduce: qkv-sim --seed {} (same flags)\n", failed.front());
    }
  }
  return passed == total ? 0 : 1;
}
