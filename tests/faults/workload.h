// The fault suite's clients (Jepsen's set and register workloads), one thread per worker, each
// with its own qkv::client::Client per node (a Client is not thread-safe). Every request goes
// to one node picked at random, with no failover, so availability is per node.
//
// Set workers grow sets by causal read-modify-write: read the key (R) to get its siblings and
// causal context, take the union of the siblings' elements, add one new element (unique in the
// run: worker * 10^9 + sequence), write the union back (W) with the context. An element whose
// put was acknowledged must be in the final read; an element never attempted must never be.
// Keys rotate: after set_keys_active * adds_per_key adds a fresh group of keys takes over, so
// values stay small.
//
// Register workers own one key each (reg-<worker>) and alternate a write of the next sequence
// number (with the context of their last read) and a read from a random node. A read is checked
// for read-your-writes when no fault started or ended since the start of the last acknowledged
// write: it must show that sequence or a later one.
#pragma once

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/faults/history.h"

namespace qkv::faults {

struct WorkloadConfig {
  std::vector<std::string> nodes;  // client addresses
  int set_workers = 6;
  int register_workers = 3;
  double rate = 25;  // iterations per second per worker (a set iteration: get + put)
  uint32_t timeout_ms = 1000;
  int r = 2, w = 2;
  uint32_t set_keys_active = 8;
  uint32_t adds_per_key = 200;
  uint64_t seed = 1;
};

class Workload {
 public:
  Workload(WorkloadConfig config, const FaultBoard& board, SteadyClock::time_point start);
  ~Workload();  // stops and joins the workers

  void start();
  void stop();  // asks the workers to stop and joins them; idempotent
  // The merged history. REQUIRES: stopped.
  History history() const;
  // The set keys in use now (for the convergence probe).
  std::vector<std::string> active_set_keys() const;

 private:
  struct Worker;
  void run_set(Worker& worker);
  void run_register(Worker& worker);
  void set_iteration(Worker& worker);
  void register_iteration(Worker& worker);

  WorkloadConfig config_;
  const FaultBoard& board_;
  SteadyClock::time_point start_;
  Stopper stopper_;
  std::atomic<uint64_t> adds_{0};  // set adds started, for key rotation
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace qkv::faults
