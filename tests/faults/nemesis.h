// The fault suite's nemesis (Jepsen's): it alternates healthy periods (counted from each heal,
// convergence is measured within them) and faults, one fault at a time, each kind drawn from a
// seeded shuffle of the selected kinds (every kind once, then again), so a run of k faults covers
// min(k, kinds) kinds.
//
//   partition  random halves (2 | 3): node-to-node packets between the halves dropped both ways
//   isolate    one random node cut from the other four (majority 4 | minority 1)
//   bridge     halves {a b} and {d e} cut from each other; c talks to both (Jepsen's bridge)
//   oneway     random halves; the second half drops what the first sends (one direction only)
//   kill       SIGKILL two random nodes; restarted (same data) at the heal
//   pause      SIGSTOP one or two random nodes; SIGCONT at the heal
//   skew       the wall clocks of two random nodes jump 5..120 s ahead or behind (libfaketime)
//
// Clients are never cut off: partitions drop only packets between node addresses.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/faults/cluster.h"
#include "tests/faults/history.h"
#include "tests/faults/lab.h"
#include "tests/faults/prober.h"

namespace qkv::faults {

enum class FaultKind : uint8_t { kPartition, kIsolate, kBridge, kOneWay, kKill, kPause, kSkew };

std::string_view name_of(FaultKind kind);
bool is_partition(FaultKind kind);
// "all", "partitions" (the four partition kinds) or a comma-separated list of names;
// nullopt when a name is unknown.
std::optional<std::vector<FaultKind>> parse_nemesis(std::string_view text);

struct Fault {
  int id = 0;
  FaultKind kind = FaultKind::kPartition;
  std::string description;
  std::vector<std::vector<bool>> deaf;  // deaf[i][j]: node i drops what node j sends
  std::vector<int> nodes;               // killed, paused or skewed
  std::vector<long> offsets;            // skew: seconds, per entry of `nodes`
  int64_t start_us = 0, end_us = 0;     // applied, healed (since the run's start)
  std::vector<bool> eligible;           // per node, while active (FaultView)
  Convergence convergence;
  std::string heal_error;  // a restarted node that did not come back, ...
};

// Draws a fault of `kind` on `nodes` nodes.
Fault plan_fault(FaultKind kind, int nodes, std::mt19937_64& rng);
// Per node: it runs during `fault` and exchanges packets both ways with at least `w` running
// nodes, itself included.
std::vector<bool> eligible_nodes(const Fault& fault, int nodes, int w);

struct NemesisConfig {
  std::vector<FaultKind> kinds;
  std::chrono::milliseconds fault_time{10000};
  std::chrono::milliseconds healthy_time{5000};
  std::chrono::milliseconds converge_deadline{30000};
  int w = 2;
  int probes = 8;
  uint64_t seed = 1;
};

class Nemesis {
 public:
  Nemesis(NemesisConfig config, Lab& lab, Cluster& cluster, FaultBoard& board, Prober& prober,
          SteadyClock::time_point start);

  // The nemesis thread's body: faults until `stop` asks to stop; the fault active then is
  // healed and its convergence measured (cut short by `interrupt`) before it returns.
  // Never throws: a failure to inject or heal a fault ends it, with error() set.
  void run(const Stopper& stop, const Stopper& interrupt);
  const std::string& error() const { return error_; }
  const std::vector<Fault>& faults() const { return faults_; }
  // Nodes that exited by themselves (crashes), as "n3 exited with status ...".
  const std::vector<std::string>& crashes() const { return crashes_; }

 private:
  void apply(Fault& fault);
  void heal(Fault& fault);
  void note_crashes();
  // Injects, holds and heals one fault, then measures convergence; returns the heal's time.
  SteadyClock::time_point one_fault(FaultKind kind, const Stopper& stop, const Stopper& interrupt);

  NemesisConfig config_;
  Lab& lab_;
  Cluster& cluster_;
  FaultBoard& board_;
  Prober& prober_;
  SteadyClock::time_point start_;
  std::mt19937_64 rng_;
  std::vector<Fault> faults_;
  std::vector<std::string> crashes_;
  std::string error_;
};

}  // namespace qkv::faults
