// The incarnation of a data directory: the second half of the actor that issues dots.
//
// Dots must never be reused (design.md §1; Riak's kv679 bug): a dot names one write, and a
// replica that already covers a dot silently drops any other write carrying it. Two ways
// to reuse one: (1) the disk is wiped and the node starts counting again; (2) the node
// crashes after issuing dots whose writes were not yet durable (sync_writes off), restarts
// with a lower counter for some key, and issues the same dot again. So:
//   - a new data directory gets a random 64-bit incarnation (never 0);
//   - a start after an unclean stop (no clean-shutdown marker) takes incarnation + 1;
//   - a clean stop (mark_clean_shutdown, after the WAL is flushed) keeps it.
// The incarnation is written synced before the node serves anything.
#pragma once

#include <cstdint>
#include <functional>

#include "common/status.h"
#include "node/storage/storage.h"

namespace qkv::node {

struct IncarnationInfo {
  uint64_t incarnation = 0;
  bool fresh = false;          // the data directory was new
  bool after_unclean = false;  // the last stop was not clean; a new incarnation was taken
};

// Reads, advances and persists the incarnation; clears the clean-shutdown marker so a
// crash from now on is detected at the next start. `random` supplies a fresh incarnation
// (qkvd: std::random_device; the simulation: its seeded PRNG).
Result<IncarnationInfo> open_incarnation(storage::Storage& storage,
                                         const std::function<uint64_t()>& random);

// The gossip generation of this start: the larger of one more than the last start's and
// `unix_ms` (the wall clock, ms), persisted (synced) before use, so a restarted node's
// gossip state always supersedes its old one — after a clean stop, which keeps the
// incarnation, and after a wiped disk, which forgets the last generation (Cassandra takes
// the clock's seconds for the same reason; ms here, so two starts in one second differ).
Result<uint64_t> next_generation(storage::Storage& storage, int64_t unix_ms);

// Records a clean stop. REQUIRES: every write this node acknowledged is durable.
Status mark_clean_shutdown(storage::Storage& storage);

}  // namespace qkv::node
