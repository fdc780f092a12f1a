// Deadlines that travel (Cassandra's dropped mutations): a request sent to another node
// carries the wall-clock time (unix ms) at which its sender gives up on it; a receiver that
// gets it later than that, by more than the clock skew it tolerates, drops it unanswered.
// Its sender has moved on (its client was answered, or the hint will be sent again), so
// starting the work now could only write behind the client's back or waste the node's time.
//
// Wall clocks differ between nodes: clock_skew_max (NodeConfig) is the bound assumed on
// that difference; a larger skew makes a node drop work it could still have done (an
// availability cost, never a correctness one: a dropped request is one that was lost).
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/clock.h"

namespace qkv::node {

// The deadline, unix ms, of work that has `budget` left at wall-clock time `unix_now`
// (ms); 0 ("none") when the wall clock is unknown (unix_now <= 0).
inline uint64_t deadline_after(int64_t unix_now, Duration budget) {
  if (unix_now <= 0) return 0;
  return static_cast<uint64_t>(unix_now + std::max<int64_t>(0, budget.count()));
}

// True if work whose deadline is `deadline_unix_ms` (0: none) arriving at `unix_now` is
// past it by more than `clock_skew_max`. Never true when either clock is unknown.
inline bool past_deadline(uint64_t deadline_unix_ms, int64_t unix_now, Duration clock_skew_max) {
  if (deadline_unix_ms == 0 || unix_now <= 0) return false;
  return unix_now > static_cast<int64_t>(deadline_unix_ms) + clock_skew_max.count();
}

}  // namespace qkv::node
