// Reaper: removes tombstones once every replica holds them and nothing older can come back
// (issue 19; Riak's delete_mode and Cassandra's gc_grace_seconds are the anchors, and the
// ways each resurrects deleted data are what the rules below close).
//
// A key is a tombstone when its state holds only tombstones (SiblingSet::is_deleted with
// at least one sibling). Its first primary in the ring (the driver) reaps it when all hold:
//   1. Grace: the key has held only tombstones on the driver for TombstoneConfig::grace,
//      counted from the latest commit that left it so. Older states of the key can arrive
//      only as hints, which expire after handoff.hint_age_max (measured on the hint
//      holder's own clock, from the hint's oldest content), or as requests in flight, which
//      are dropped past their deadline (node/deadline.h); the grace exceeds both (checked
//      in config), so once it has passed no state older than the tombstone is left
//      anywhere but on the primaries.
//   2. Every primary holds the same tombstone: the driver reads the key from each of the
//      other N-1 primaries (all must be up; no fallbacks) and compares their states with
//      its own exactly. A primary that missed the delete still holds the old value: the
//      check fails, the driver sends it its own state (read repair) and tries again later.
//   3. No ring transition (a next ring) is in progress: a receiver may be copying the range.
// Then the driver sends each primary a ReplicaReap carrying the state, and removes its own
// copy. The removal is conditional on every replica (Replica::reap): a replica whose state
// changed since the check (a concurrent write) keeps it, so the write wins, and the
// tombstone it still holds comes back to the others through anti-entropy and is reaped
// again later. A reap that is lost leaves a tombstone, never a value.
//
// Dots of a reaped key live on in clients' causal contexts: Replica keeps a reap floor so a
// new write of the key never reuses one (node/replica.h).
//
// Finding tombstones: every commit that leaves a key with only tombstones queues it here
// (Replica::Hooks::on_tombstone), in memory, bounded by pending_max. A restart forgets the
// queue: the sweep scans one partition this node drives every sweep_interval and queues
// the tombstones it finds (their grace starts then).
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/token_bucket.h"
#include "node/held_ranges.h"
#include "node/in_flight.h"
#include "node/liveness.h"
#include "node/node_config.h"
#include "node/node_transport.h"
#include "node/replica.h"
#include "node/status.h"

namespace qkv::node {

class Reaper {
 public:
  // Every reference outlives this. `actor` is this node's (for the reap floor).
  Reaper(const NodeConfig& config, causal::Actor actor, storage::Storage& storage,
         Transport& transport, InFlight& in_flight, Replica& replica, const HeldRanges& held,
         const Liveness& liveness, NodeCounters& counters);

  // A commit left (token, key) with nothing readers will see from wall-clock `unix_ms` on
  // (only tombstones, or values whose time to live ends by then): its grace starts (again)
  // then. Ignored unless this node drives the key.
  void on_tombstone(ring::Token token, const std::string& key, int64_t unix_ms);
  // Starts the checks that are due, times out old ones, runs the sweep.
  void on_tick(TimePoint now, int64_t unix_ms);
  // A primary's answer to a check's read; false if `id` is not a check's.
  bool on_reply(uint64_t id, const NodeId& from, const Status& status,
                const std::optional<causal::SiblingSet>& state, TimePoint now, int64_t unix_ms);
  // A driver's ReplicaReap: removes this node's copy if it is still exactly that state.
  void on_reap(const PeerMessage& message, const ReplicaReap& reap);
  // Checks waiting on `peer` fail now.
  void on_peer_unreachable(const NodeId& peer, int64_t unix_ms);

  std::size_t pending() const { return latest_.size(); }
  std::size_t checks_in_flight() const { return checks_.size(); }

 private:
  using KeyId = std::pair<ring::Token, std::string>;
  struct Check {
    KeyId key;
    causal::SiblingSet state;       // the driver's own, which every primary must hold
    std::set<NodeId> awaiting;      // primaries that have not answered
    std::vector<NodeId> primaries;  // the other primaries
    bool failed = false;
    TimePoint started;
  };

  // True if this node is the first primary of the key in the current ring.
  bool drives(ring::Token token) const;
  // Queues the key to be checked at `due_unix_ms` (replacing an earlier due time).
  void schedule(KeyId key, int64_t due_unix_ms);
  // Starts the check of one due key, or drops or defers it.
  void start(KeyId key, TimePoint now, int64_t unix_ms);
  void finish(uint64_t id, int64_t unix_ms);
  void defer(KeyId key, int64_t unix_ms);
  void sweep(int64_t unix_ms);

  const NodeConfig& config_;
  causal::Actor actor_;
  storage::Storage& storage_;
  Transport& transport_;
  InFlight& in_flight_;
  Replica& replica_;
  const HeldRanges& held_;
  const Liveness& liveness_;
  NodeCounters& counters_;
  TokenBucket checks_bucket_;
  // Queued keys by due time (wall-clock ms), and each queued key's due time.
  std::set<std::pair<int64_t, KeyId>> queue_;
  std::map<KeyId, int64_t> latest_;
  std::map<uint64_t, Check> checks_;  // by request id
  std::set<KeyId> checking_;          // keys with a check in flight
  int64_t next_sweep_unix_ms_ = 0;
  uint32_t sweep_partition_ = 0;  // the next partition the sweep looks at
};

}  // namespace qkv::node
