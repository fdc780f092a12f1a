// Real qkvd processes on 127.0.0.1 for integration tests: start, SIGKILL, SIGTERM, restart.
// Ports are chosen below 32768 (outgoing connections take ephemeral ports above it) from a
// per-process offset and checked free. Every wait has a deadline; nothing sleeps and hopes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"

namespace qkv::testing {

class ProcessCluster {
 public:
  // `size` nodes n1..nN with N=3, R=W=2, Q=64, data under a fresh temp dir. The first
  // `initial` (default: all) are the configured members that create the ring; the others
  // start with only node 1 as a seed and join by gossip.
  explicit ProcessCluster(int size, std::vector<std::string> extra_flags = {}, int initial = -1);
  ~ProcessCluster();  // SIGKILLs what still runs and removes the data

  // Node ids (and data directories) named as a StatefulSet's pods: SET-0, SET-1, ...
  // instead of n1, n2, ... Call before starting any node.
  void use_statefulset_names(std::string set_name) { set_name_ = std::move(set_name); }
  // Node i's id: "n<i+1>", or "<set>-<i>" with StatefulSet names.
  std::string id_of(int i) const;
  // More qkvd flags for node i only (e.g. its own --config with its TLS certificate).
  void set_node_flags(int i, std::vector<std::string> flags) { node_flags_[i] = std::move(flags); }
  // TLS for every client the cluster makes (client_of, and the waits for start and ring).
  void set_client_tls(client::TlsOptions tls) { client_tls_ = std::move(tls); }
  // Credentials for every client the cluster makes (nodes with [auth]).
  void set_client_credentials(client::Credentials credentials) {
    client_credentials_ = std::move(credentials);
  }

  // Starts node i (0-based) and waits until it answers a status request.
  void start(int i);
  // start() in two halves, so several nodes start at once (as a StatefulSet's pods do).
  void launch(int i);
  void await_started(int i);
  // Waits until node i holds a ring. Fresh initial members make the first ring only once
  // they have heard of each other (node/first_ring.h).
  void await_ring(int i);
  // Starts the initial members, then waits until each holds the first ring.
  void start_initial();
  // start_initial(), then every other node.
  void start_all();
  void kill9(int i);   // SIGKILL and reap
  void pause(int i);   // SIGSTOP: the kernel still accepts and acknowledges its traffic
  void resume(int i);  // SIGCONT
  // Waits for node i to exit by itself: its exit status, -2 if it still runs at the deadline.
  int wait_exit(int i, std::chrono::milliseconds deadline);
  // SIGTERM, then the exit status (-1 if it had to be killed after the deadline).
  int terminate(int i, std::chrono::milliseconds deadline = std::chrono::seconds(20));

  std::string client_address(int i) const;
  // Node i's peer port (gossip and replica traffic).
  std::string peer_address(int i) const;
  // Node i's HTTP operations port (node/http_api.h).
  std::string http_address(int i) const;
  // A client talking to node i only (so a test knows which node coordinates or forwards).
  client::Client client_of(int i, uint32_t timeout_ms = 3000) const;
  // The keys of `keys` node i does not hold itself (local reads: no quorum, no read repair).
  std::set<std::string> missing_on(int i, const std::set<std::string>& keys) const;
  std::string log_of(int i) const;
  // Node i's process id (0 when it is not running).
  pid_t pid(int i) const { return pids_[i]; }
  const std::string& qkvd_path() const { return qkvd_; }
  const std::string& dir() const { return dir_; }

 private:
  std::vector<std::string> args_of(int i) const;

  std::string qkvd_;
  std::string dir_;
  int size_;
  int initial_;
  std::vector<std::string> extra_flags_;
  std::map<int, std::vector<std::string>> node_flags_;
  std::optional<client::TlsOptions> client_tls_;
  std::optional<client::Credentials> client_credentials_;
  std::string set_name_;  // StatefulSet names when set
  std::vector<uint16_t> client_ports_, peer_ports_, http_ports_;
  std::vector<pid_t> pids_;
};

// Polls `done` every 20 ms until it holds or `deadline` passes; returns its last value.
template <typename F>
bool wait_for(F done, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling interval only
  }
  return done();
}

// Node i's status counter `name` (0 if the node does not answer or has no such counter).
uint64_t node_counter(const ProcessCluster& cluster, int i, const std::string& name);
// Writes `toml` to a fresh temp file (/tmp/qkv-config-*.toml) and returns its path; the
// caller removes it. Throws if it cannot.
std::string write_config(const std::string& toml);

// Runs qkvd with `args` to completion (bounded), returning exit code and stderr+stdout.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run_qkvd(const std::string& qkvd, const std::vector<std::string>& args);
// Any program (qkvctl), the same way; killed (exit_code -1) if it still runs at `deadline`.
RunResult run_program(const std::string& path, const std::vector<std::string>& args,
                      std::chrono::seconds deadline = std::chrono::seconds(20));

}  // namespace qkv::testing
