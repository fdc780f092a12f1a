// The incarnation of a data directory: the second half of the actor that issues dots.
//
// Dots must never be reused (design.md §1; Riak's kv679 bug): a dot names one write, and a
// replica that already covers a dot silently drops any other write carrying it. Three ways
// to reuse one: (1) the disk is wiped and the node starts counting again; (2) the node
// crashes after issuing dots whose writes were not yet durable (sync_writes off), restarts
// with a lower counter for some key, and issues the same dot again; (3) an old copy of the
// data directory (a snapshot, a backup) is started while the original has issued dots past
// it — or will: the original and the copy are two histories, and must never share an actor.
// So:
//   - a new data directory gets a random 64-bit incarnation (never 0);
//   - a start after an unclean stop (no clean-shutdown marker) takes a new random one;
//   - a start from a restored snapshot (the restore marker, kRestoredKey, which every
//     snapshot carries and `qkvd --restore-from` sets) takes a new random one, and clears
//     the marker;
//   - a clean stop (mark_clean_shutdown, after the WAL is flushed) keeps it.
// A new incarnation is never 0, UINT64_MAX, the stored one or the stored one + 1 (the
// choice of an unclean start before qkv took random ones: an original node of that version
// restarting after a crash). Random rather than + 1 also after a crash: a copy of a running
// node's directory made outside qkv (a file-system or volume snapshot, a VM image) carries
// no marker and has no clean-shutdown marker either, so its start is "unclean"; with + 1 it
// would take the very incarnation the original takes after its own next crash — two
// histories under one actor. Random ones collide with probability 2^-64 per pair. The
// incarnation is written synced before the node serves anything.
#pragma once

#include <cstdint>
#include <functional>

#include "common/status.h"
#include "node/storage/storage.h"

namespace qkv::node {

// The metadata key of the restore marker (persisted: do not change): "1" in a snapshot and
// in a data directory restored from one, until the first start clears it ("0").
inline constexpr const char* kRestoredKey = "restored";

struct IncarnationInfo {
  uint64_t incarnation = 0;
  bool fresh = false;          // the data directory was new
  bool after_unclean = false;  // the last stop was not clean; a new incarnation was taken
  bool restored = false;       // a start from a restored snapshot; a new incarnation was taken
  uint64_t previous = 0;       // the incarnation stored before this start; 0 when fresh
};

// Reads, advances and persists the incarnation; clears the clean-shutdown marker so a
// crash from now on is detected at the next start, and the restore marker (after the new
// incarnation is durable: a crash in between takes yet another one at the next start).
// `random` supplies a fresh incarnation (qkvd: std::random_device; the simulation: its
// seeded PRNG).
Result<IncarnationInfo> open_incarnation(storage::Storage& storage,
                                         const std::function<uint64_t()>& random);

// The gossip generation of this start: the larger of one more than the last start's and
// `unix_ms` (the wall clock, ms), persisted (synced) before use, so a restarted node's
// gossip state always supersedes its old one — after a clean stop, which keeps the
// incarnation, and after a wiped disk, which forgets the last generation (Cassandra takes
// the clock's seconds for the same reason; ms here, so two starts in one second differ).
Result<uint64_t> next_generation(storage::Storage& storage, int64_t unix_ms);

// The metadata a snapshot of this node's storage carries (Storage::checkpoint's `meta`):
// the restore marker, and the time it was taken (`unix_ms`, kSnapshotTimeKey).
storage::MetaEntries snapshot_marker(int64_t unix_ms = 0);

// A number kept in node metadata under `name` (incarnation, generation, reap floor,
// snapshot time): nullopt if absent. Errors: storage errors; corruption naming `name` for a
// value that is not a decimal number.
Result<std::optional<uint64_t>> get_meta_number(storage::Storage& storage, const std::string& name);

// The metadata key of a snapshot's time (unix ms, the node's clock), set with the marker:
// a restore checks it against the tombstone grace (qkvd --restore-from).
inline constexpr const char* kSnapshotTimeKey = "snapshot_unix_ms";

// The time a snapshot was taken (kSnapshotTimeKey), or nullopt for one taken before the key
// existed. Errors: storage errors, corruption for a value that is not a number.
Result<std::optional<int64_t>> snapshot_time(storage::Storage& storage);

// Marks a data directory as restored from a snapshot (qkvd --restore-from), whatever copy it
// was made from: its next start takes a new incarnation. Synced.
Status mark_restored(storage::Storage& storage);

// Records a clean stop. REQUIRES: every write this node acknowledged is durable.
Status mark_clean_shutdown(storage::Storage& storage);

}  // namespace qkv::node
