// What the fault suite records while it runs, and the few things every part shares: the run's
// clock, a stop request with deadline-bounded waits, and the fault board workers consult.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace qkv::faults {

using SteadyClock = std::chrono::steady_clock;

// Microseconds since `start` (the run's start).
inline int64_t micros_since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count();
}

// A stop request that interrupts waits. Thread-safe.
class Stopper {
 public:
  void request() {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  bool requested() const {
    std::lock_guard lock(mu_);
    return stop_;
  }
  // Waits until `until` or a stop request; true when stopped.
  bool wait_until(SteadyClock::time_point until) const {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, until, [&] { return stop_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stop_ = false;
};

// What a client knows when it sends a request: is a fault active, and could each node take a
// put (it runs, and the nodes it exchanges packets with both ways, itself included, number at
// least W). Thread-safe; the nemesis publishes, workers read.
struct FaultView {
  uint64_t epoch = 0;  // bumped whenever a fault starts or ends
  int fault = -1;      // the active fault's index in the fault log; -1: healthy
  std::vector<bool> eligible;
};

class FaultBoard {
 public:
  explicit FaultBoard(int nodes) { view_.eligible.assign(nodes, true); }
  FaultView view() const {
    std::lock_guard lock(mu_);
    return view_;
  }
  void publish(int fault, std::vector<bool> eligible) {
    std::lock_guard lock(mu_);
    ++view_.epoch;
    view_.fault = fault;
    view_.eligible = std::move(eligible);
  }

 private:
  mutable std::mutex mu_;
  FaultView view_;
};

enum class WorkloadKind : uint8_t { kSet, kRegister };
enum class OpKind : uint8_t { kGet, kPut };

// One client request, judged by the view at its start.
struct Op {
  WorkloadKind workload = WorkloadKind::kSet;
  OpKind kind = OpKind::kGet;
  bool ok = false;
  bool eligible = false;  // the target node could take it (FaultView::eligible)
  int node = 0;           // the node it was sent to (no failover: one node per client)
  int fault = -1;         // FaultView::fault at the start
  int64_t start_us = 0, end_us = 0;
  uint32_t key = 0;      // set: the key's index; register: the worker
  uint64_t element = 0;  // a set put: the element it adds; a register put: its sequence
};

// A register read checked for read-your-writes: no fault from the start of the worker's last
// acknowledged write to the end of the read.
struct RegisterRead {
  int worker = 0;
  uint64_t expected = 0;  // the last acknowledged sequence
  uint64_t seen = 0;      // the largest sequence read (0: none)
  int64_t at_us = 0;
};

struct History {
  std::vector<Op> ops;
  uint32_t set_keys = 0;              // keys set-0 .. set-(set_keys-1) were used
  std::vector<RegisterRead> checked;  // every checked register read
  std::vector<std::string> phantoms;  // register values never written, as read
};

inline std::string set_key(uint32_t index) {
  return "set-" + std::to_string(index);
}

}  // namespace qkv::faults
