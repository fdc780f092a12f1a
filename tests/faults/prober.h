// Convergence after a heal, and the final read (docs/testing.md, "The fault suite").
//
// During each fault the nemesis writes a few probe keys (probe-<fault>-<i>, written once).
// After the heal, converge() polls every 100 ms, with no other request to those keys, for:
//   agree: each acknowledged probe's N primaries hold, read locally (ReadOptions::local, no
//          quorum, no read repair), the same siblings, the probe's value among them: hinted
//          handoff (or anything else) delivered what the fault kept from a replica;
//   r3:    R=N reads of keys never written (r3-<fault>-<i>) all succeed: every primary of
//          them answers again;
//   hints: no running node reports hints_pending.
// The primaries come from the ring the cluster answered at the start (the ring is fixed).
//
// Thread-safety: none; used by one thread at a time.
#pragma once

#include <chrono>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "client/client.h"
#include "ring/ring.h"
#include "tests/faults/history.h"

namespace qkv::faults {

struct Probe {
  std::string key, value;
};

struct Convergence {
  int64_t agree_ms = -1, r3_ms = -1, hints_ms = -1;  // since the heal; -1: not by the deadline
  int probes = 0;                                    // acknowledged probes judged
  int64_t converged_ms() const {
    return agree_ms < 0 || r3_ms < 0 ? -1 : std::max(agree_ms, r3_ms);
  }
};

struct FinalKey {
  std::string key;
  bool read = false;                // an R=N read succeeded
  bool agree = false;               // then the primaries' local copies were identical
  std::vector<std::string> values;  // the R=N read's siblings
};

class Prober {
 public:
  Prober(std::vector<std::string> nodes, ring::Ring ring, int n, uint32_t timeout_ms);

  // Writes probe-<fault>-<i> (i < count) through random nodes marked in `usable`; returns the
  // acknowledged ones.
  std::vector<Probe> write_probes(int fault, int count, const std::vector<bool>& usable,
                                  std::mt19937_64& rng);

  // Polls from the heal (`healed`) until every measure holds, `deadline` passes or `stopper`
  // asks to stop. `running`: the nodes up after the heal.
  Convergence converge(int fault, const std::vector<Probe>& probes,
                       const std::vector<bool>& running, SteadyClock::time_point healed,
                       std::chrono::milliseconds deadline, const Stopper& stopper);

  // For each key: an R=N read until one succeeds, then the local copies of its primaries until
  // they agree, all within `deadline`.
  std::vector<FinalKey> final_read(const std::vector<std::string>& keys,
                                   std::chrono::milliseconds deadline);

 private:
  std::vector<int> primaries(const std::string& key) const;
  // The primaries' local copies are identical (and hold `value` when not empty).
  bool replicas_agree(const std::string& key, const std::string& value);
  bool quorum_reads_ok(int fault, const std::vector<bool>& running);
  bool no_hints_pending(const std::vector<bool>& running);

  std::vector<client::Client> clients_;  // one per node, no failover
  ring::Ring ring_;
  int n_;
  int next_node_ = 0;  // rotates R=N reads over the nodes
};

}  // namespace qkv::faults
