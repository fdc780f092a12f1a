// qkv-faults: real qkvd processes in network namespaces under a nemesis, with set and register
// workloads and a checker (docs/testing.md, "The fault suite"). Exit status: 0 passed, 1 a
// check failed, 2 a setup error or bad flags, 77 skipped (not root, no `ip netns`, no nft),
// 130 interrupted.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/faults/checker.h"
#include "tests/faults/cluster.h"
#include "tests/faults/command.h"
#include "tests/faults/lab.h"
#include "tests/faults/nemesis.h"
#include "tests/faults/prober.h"
#include "tests/faults/workload.h"

namespace qkv::faults {
namespace {

constexpr int kNodes = 5;
constexpr const char* kFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

struct Options {
  uint64_t seed = 1;
  int duration_s = 120;
  std::string nemesis = "all";
  NemesisConfig nemesis_config;
  WorkloadConfig workload;
  Bounds bounds;
  bool acceptance = false;
  bool keep = false;
  std::string qkvd = QKVD_PATH;
  std::string faketime = kFaketime;
  int partitions = 64;
  int fault_ms = 10000, healthy_ms = 5000, converge_ms = 30000;
};

// SIGINT, SIGTERM and SIGHUP, blocked in every thread, are taken by one thread that asks the
// run to stop; the run then heals, stops the nodes and deletes the namespaces.
class SignalWatcher {
 public:
  explicit SignalWatcher(Stopper& interrupt) : thread_([this, &interrupt] { loop(interrupt); }) {}
  ~SignalWatcher() {
    done_ = true;
    ::pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }
  static sigset_t signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, s);
    return set;
  }

 private:
  void loop(Stopper& interrupt) {
    sigset_t set = signals();
    while (true) {
      int sig = 0;
      if (::sigwait(&set, &sig) != 0) continue;
      if (sig == SIGUSR1 && done_) return;
      if (sig == SIGUSR1) continue;
      std::fprintf(stderr, "qkv-faults: signal %d: healing, stopping the nodes, cleaning up\n",
                   sig);
      interrupt.request();
    }
  }
  std::atomic<bool> done_{false};
  std::thread thread_;
};

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--seed", o.seed, "seeds the nemesis and the workload");
  app.add_option("--duration", o.duration_s, "seconds of workload and faults (default 120)");
  app.add_option("--nemesis", o.nemesis,
                 "all | partitions | a list of partition,isolate,bridge,oneway,kill,pause,skew");
  app.add_option("--fault-ms", o.fault_ms, "how long each fault lasts (10000)");
  app.add_option("--healthy-ms", o.healthy_ms, "healthy time between (5000)");
  app.add_option("--converge-timeout-ms", o.converge_ms,
                 "how long convergence after a heal is awaited (30000)");
  app.add_option("--set-workers", o.workload.set_workers, "set workload threads (6)");
  app.add_option("--register-workers", o.workload.register_workers, "register threads (3)");
  app.add_option("--rate", o.workload.rate, "iterations per second per worker (25)")
      ->check(CLI::Range(0.1, 10000.0));
  app.add_option("--timeout-ms", o.workload.timeout_ms, "client timeout per request (1000)");
  app.add_option("--qkvd", o.qkvd, "the qkvd binary");
  app.add_option("--faketime", o.faketime, "libfaketime (the skew nemesis)");
  app.add_flag("--keep", o.keep, "keep data and logs even when the run passes");
  app.add_flag("--acceptance", o.acceptance,
               "turn on every bound below at the issue-20 acceptance values");
  app.add_option("--min-partition-put-pct", o.bounds.min_partition_put_pct, "e.g. 99");
  app.add_option("--max-partition-put-p99-ms", o.bounds.max_partition_put_p99_ms, "e.g. 300");
  app.add_option("--max-heal-ms", o.bounds.max_heal_ms, "e.g. 5000");
  app.add_option("--min-kill-get-pct", o.bounds.min_kill_get_pct, "e.g. 99");
  app.add_option("--max-stale-reads", o.bounds.max_stale_reads, "e.g. 0");
}

void apply_acceptance(Bounds& b) {
  auto on = [](auto& v, auto value) {
    if (v < 0) v = value;
  };
  on(b.min_partition_put_pct, 99.0);
  on(b.max_partition_put_p99_ms, 300.0);
  on(b.max_heal_ms, 5000.0);
  on(b.min_kill_get_pct, 99.0);
  on(b.max_stale_reads, 0L);
}

// Starts every node and waits until each holds every other up; throws when one does not.
void start_cluster(Cluster& cluster) {
  for (int i = 0; i < cluster.size(); ++i) cluster.start(i);
  for (int i = 0; i < cluster.size(); ++i) {
    if (!cluster.wait_ready(i, std::chrono::seconds(30))) {
      throw std::runtime_error(
          fmt::format("n{} did not start; see {}", i + 1, cluster.log_path(i)));
    }
  }
  if (!cluster.wait_all_up(std::chrono::seconds(30))) {
    throw std::runtime_error("the nodes did not all see each other up within 30 s");
  }
}

ring::Ring fetch_ring(const Cluster& cluster) {
  client::Options options;
  options.nodes = {cluster.client_address(0)};
  auto ring = client::Client(options).ring();
  if (!ring.is_ok()) throw std::runtime_error("ring: " + ring.status().message());
  return ring::Ring(ring->owners);
}

struct Outcome {
  History history;
  std::vector<Fault> faults;
  std::vector<std::string> errors;
};

// The workload and the nemesis for the run's duration (or until interrupted); then the last
// fault is healed and the workload stopped.
Outcome run_phase(const Options& o, Lab& lab, Cluster& cluster, Prober& prober,
                  const Stopper& interrupt) {
  auto start = SteadyClock::now();
  FaultBoard board(cluster.size());
  WorkloadConfig wc = o.workload;
  for (int i = 0; i < cluster.size(); ++i) wc.nodes.push_back(cluster.client_address(i));
  Workload workload(wc, board, start);
  Nemesis nemesis(o.nemesis_config, lab, cluster, board, prober, start);
  Stopper stop_nemesis;
  workload.start();
  std::thread nemesis_thread([&] { nemesis.run(stop_nemesis, interrupt); });
  interrupt.wait_until(start + std::chrono::seconds(o.duration_s));
  stop_nemesis.request();
  nemesis_thread.join();
  workload.stop();
  Outcome out{workload.history(), nemesis.faults(), nemesis.crashes()};
  if (!nemesis.error().empty()) out.errors.push_back("nemesis: " + nemesis.error());
  return out;
}

std::vector<std::string> all_set_keys(const History& h) {
  std::vector<std::string> keys;
  for (uint32_t k = 0; k < h.set_keys; ++k) keys.push_back(set_key(k));
  return keys;
}

int run(const Options& o, const Tools& tools, const std::string& dir) {
  Lab lab(tools, kNodes);
  lab.enter_client_namespace();
  Stopper interrupt;
  SignalWatcher watcher(interrupt);
  ClusterConfig cc;
  cc.qkvd = o.qkvd;
  cc.dir = dir;
  cc.partitions = o.partitions;
  cc.w = o.nemesis_config.w;
  if (std::find(o.nemesis_config.kinds.begin(), o.nemesis_config.kinds.end(), FaultKind::kSkew) !=
      o.nemesis_config.kinds.end()) {
    cc.faketime_library = o.faketime;
  }
  Cluster cluster(lab, tools, cc);
  start_cluster(cluster);
  Prober prober(
      [&] {
        std::vector<std::string> nodes;
        for (int i = 0; i < cluster.size(); ++i) nodes.push_back(cluster.client_address(i));
        return nodes;
      }(),
      fetch_ring(cluster), cc.n, o.workload.timeout_ms);
  const std::string& ns = lab.node_namespace(0);
  fmt::print(
      "qkv-faults: seed {}, {} s, nemesis {}, faults of {} ms, {} ms healthy after each\n"
      "qkv-faults: {} nodes up (N={} R={} W={}, Q={}); namespaces {}*; data {}\n",
      o.seed, o.duration_s, o.nemesis, o.fault_ms, o.healthy_ms, cluster.size(), cc.n, cc.r, cc.w,
      cc.partitions, ns.substr(0, ns.find('-') + 1), dir);
  std::fflush(stdout);
  Outcome out = run_phase(o, lab, cluster, prober, interrupt);
  if (interrupt.requested()) return 130;
  if (!cluster.wait_all_up(std::chrono::seconds(60))) {
    out.errors.push_back("after the last heal the nodes did not all see each other up in 60 s");
  }
  std::vector<FinalKey> final_keys =
      prober.final_read(all_set_keys(out.history), std::chrono::seconds(120));
  Verdict v = check(RunFacts{out.history, out.faults, final_keys, out.errors}, o.bounds);
  fmt::print("{}", v.report);
  for (const std::string& f : v.failures) fmt::print("FAIL {}\n", f);
  fmt::print("qkv-faults: seed {}: {}\n", o.seed, v.failures.empty() ? "PASS" : "FAIL");
  return v.failures.empty() ? 0 : 1;
}

int run_main(Options& o) {
  Tools tools{find_program("ip"), find_program("nft")};
  std::string why = why_unavailable(tools);
  if (!why.empty()) {
    fmt::print("qkv-faults: SKIP: {}\n", why);
    return 77;
  }
  auto& kinds = o.nemesis_config.kinds;
  if (std::find(kinds.begin(), kinds.end(), FaultKind::kSkew) != kinds.end() &&
      ::access(o.faketime.c_str(), R_OK) != 0) {
    fmt::print("qkv-faults: no skew nemesis: {} is missing (Debian's libfaketime)\n", o.faketime);
    std::erase(kinds, FaultKind::kSkew);
    if (kinds.empty()) return 2;
  }
  if (int stale = Lab::remove_stale(tools); stale > 0) {
    fmt::print("qkv-faults: removed {} namespaces a crashed run left\n", stale);
  }
  char tmpl[] = "/tmp/qkv-faults-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 2;
  std::string dir = tmpl;
  sigset_t set = SignalWatcher::signals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int code = 2;
  try {
    code = run(o, tools, dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qkv-faults: error: %s\n", e.what());
  }
  if (code == 0 && !o.keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  } else {
    fmt::print("qkv-faults: data and logs kept in {}\n", dir);
  }
  return code;
}

}  // namespace
}  // namespace qkv::faults

int main(int argc, char** argv) {
  using namespace qkv::faults;
  CLI::App app{"qkv-faults: real qkvd processes in network namespaces under a nemesis"};
  Options o;
  add_flags(app, o);
  CLI11_PARSE(app, argc, argv);
  auto kinds = parse_nemesis(o.nemesis);
  if (!kinds) {
    std::fprintf(stderr, "qkv-faults: --nemesis: unknown kind in '%s'\n", o.nemesis.c_str());
    return 2;
  }
  if (o.acceptance) apply_acceptance(o.bounds);
  o.nemesis_config.kinds = *kinds;
  o.nemesis_config.seed = o.seed;
  o.nemesis_config.fault_time = std::chrono::milliseconds(o.fault_ms);
  o.nemesis_config.healthy_time = std::chrono::milliseconds(o.healthy_ms);
  o.nemesis_config.converge_deadline = std::chrono::milliseconds(o.converge_ms);
  o.workload.seed = o.seed;
  return run_main(o);
}
