// Real qkvd processes in the lab's node namespaces (`ip netns exec`), n1..nK, each listening
// on its namespace's address: clients on :7000, peers on :7100. Every node is an initial
// member (the ring is claimed from all of them). Data and logs live under ClusterConfig::dir.
//
// Clock skew (libfaketime): when ClusterConfig::faketime_library is set, every node starts
// with it preloaded, reading its offset from <dir>/nK.faketime ("+0" at start) at most once
// a second. Only the wall clock moves (DONT_FAKE_MONOTONIC=1): steady clocks, and so the
// nodes' timers, are untouched, as when NTP steps a clock.
//
// Thread-safety: none; the harness calls it from one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/faults/lab.h"

namespace qkv::faults {

struct ClusterConfig {
  std::string qkvd;              // the binary
  std::string dir;               // data, logs and offset files
  int n = 3, r = 2, w = 2;       // the cluster's defaults
  int partitions = 64;           // Q
  std::string faketime_library;  // "" = no clock skew
};

class Cluster {
 public:
  Cluster(const Lab& lab, Tools tools, ClusterConfig config);
  ~Cluster();  // SIGKILLs what runs (a SIGSTOPped node too)
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int size() const { return static_cast<int>(pids_.size()); }
  std::string client_address(int i) const;
  std::string node_id(int i) const;
  std::string log_path(int i) const;
  bool running(int i) const { return pids_[i] > 0; }
  bool paused(int i) const { return paused_[i]; }

  // Starts node i (not running). Does not wait: see wait_ready.
  void start(int i);
  // Waits until node i answers a status request; false at the deadline.
  bool wait_ready(int i, std::chrono::milliseconds deadline) const;
  // Waits until every running node holds every running node up; false at the deadline.
  bool wait_all_up(std::chrono::milliseconds deadline) const;
  void kill9(int i);   // SIGKILL (a paused node too) and reap
  void pause(int i);   // SIGSTOP
  void resume(int i);  // SIGCONT
  // Node i's wall clock runs `seconds` ahead (negative: behind) from within a second on.
  void set_clock_offset(int i, long seconds);
  bool skew_supported() const { return !config_.faketime_library.empty(); }
  // When node i's process exited by itself (a crash): reaps it and returns its wait status.
  std::optional<int> exit_status(int i);

 private:
  std::vector<std::string> args_of(int i) const;
  std::string config_path(int i) const;
  void write_config(int i) const;

  const Lab& lab_;
  Tools tools_;
  ClusterConfig config_;
  std::vector<pid_t> pids_;
  std::vector<bool> paused_;
};

}  // namespace qkv::faults
