// qkv-sim: K real node cores (node::Node with its coordinator rounds, read repair,
// anti-entropy, ownership transfer and the real codecs), each with the node::Membership
// qkvd runs beside it (gossip, the phi-accrual failure detector, the ring's life, the
// claimant), on a simulated network and clock, driven by one seeded PRNG (design.md §5.4,
// in the spirit of FoundationDB's simulation and TigerBeetle's VOPR).
//
// Determinism: one thread, one event queue ordered by (time, sequence), every random choice
// from one std::mt19937_64 seeded by `seed`, no wall-clock reads and no unordered
// iteration. Same seed, same build -> same trace, byte for byte; `trace_hash` fingerprints
// it.
//
// A run: a workload phase (clients issue get/put/delete on a few keys while faults are
// injected), then the network heals, down nodes restart and faults stop; after the
// in-flight work drains, every key is read at R=N twice (or, with Repair::kAntiEntropy,
// only Merkle-tree exchanges run), and the checker (checker.h) judges the final state and
// the history; gossip must have converged too.
//
// Ring changes (ring_changes > 0): some nodes start outside the ring (spares), and during
// the faulty phase the simulation plays the operator: joins, leaves and replaces are
// staged, planned and committed through the claimant's Membership::ring_admin, as qkvctl
// sends them. The rest (the ring spreading by gossip, transfers, the switch, nodes that
// left exiting) is the nodes' own code. The checker then judges replicas against the
// final ring.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "node/coordinator/quorum.h"

namespace qkv::sim {

struct Faults {
  double loss = 0;          // probability a peer message is dropped
  double duplicate = 0;     // probability a peer message is delivered twice
  double long_delay = 0;    // probability of a 100..2000 ms delay (reorders messages)
  bool partitions = false;  // random splits, one node isolated, one-way cuts; all heal
  bool crashes = false;     // process and machine crashes, then restart
  bool wipes = false;       // a disk wiped on restart (a new incarnation)
  bool skew = false;        // node clocks offset by up to ±2 s
  // One node down (a process crash) longer than the tombstone grace, early in the
  // workload: the others delete and reap keys meanwhile, and its hints expire.
  bool long_outage = false;
  // Expiring writes: 30 % of the shared clients' puts carry a time to live of 1-5 s (with
  // skew, on clocks up to 4 s apart); the checker then wants them unseen 4.5 s past it.
  bool ttl = false;
  bool restores = false;  // a node restarted from a snapshot of its storage taken earlier
                          // in the run (a restored backup: a new incarnation); not in runs
                          // with ring changes

  static Faults none() { return {}; }
  static Faults all();
  bool any() const;
  // "all", "none", or a comma list of loss, dup, delay, partition, crash, wipe, skew,
  // restore, long, ttl (optionally name=rate for the first three, e.g. loss=0.1). "all"
  // leaves out long and ttl.
  static Result<Faults> parse(const std::string& text);
  std::string to_string() const;
};

struct SimConfig {
  uint64_t seed = 1;
  int nodes = 5;             // K
  uint32_t n = 3;            // replicas per key
  uint32_t partitions = 16;  // Q
  int clients = 4;           // concurrent clients, plus one "solo" client (see checker.h)
  int keys = 6;              // the shared key set: small, to force conflicts
  int ops = 300;             // client operations in the workload phase
  Faults faults = Faults::all();
  bool sync_writes = true;  // see SimStorage
  Duration writeback{300};  // page-cache write-back delay when sync_writes is off
  Duration request_timeout{1000};
  // Tombstone reaping (node/reaper.h): the grace, and the hints' life it must outlive
  // (with the longest request and the 4.5 s clock skew bound). 0: reaping off.
  Duration tombstone_grace{30'000};
  Duration hint_age_max{20'000};
  bool keep_trace = false;  // keep the whole event trace (for --trace)
  // How replicas converge after the faults: kReadRepair (hinted handoff on, then every key
  // read at R=N) or kAntiEntropy (hinted handoff off, no final reads: Merkle-tree
  // exchanges alone). Anti-entropy runs in both (every 2 s per partition; 0.5 s in the
  // second).
  enum class Repair { kReadRepair, kAntiEntropy };
  Repair repair = Repair::kReadRepair;
  // Ring changes (join, leave, replace) committed during the faulty phase; 0: a fixed ring
  // of every node. With changes, the initial ring holds nodes - min(2, nodes - n) nodes and
  // the rest are spares, the ring never has fewer than n members, and the workload lasts
  // until every change is committed and the last transition has switched.
  int ring_changes = 0;
  // With ring changes: every node runs with auto_join (node/auto_join.h), so the spares
  // join by themselves (the claimant commits them after a 3 s quiet period) and the
  // operator makes only leaves and replaces. The ring must settle with every spare in it
  // (or replaced in, or left again).
  bool auto_join = false;
  // Whom the nodes' gets ask first (node/coordinator/get_round.h): every primary, or a
  // quorum of them with spares asked on a failure or at the stand-in alarm.
  coordinator::Fanout read_fanout = coordinator::Fanout::kAll;
  // The commit pipeline (node/committer.h), as qkvd's [storage] commit_thread: each group
  // commit's storage write happens 0-3 ms after the node hands it over (a crash before then
  // loses it, unacknowledged), and the node hears of its end at that moment.
  bool commit_pipeline = false;
};

// One client operation as the client saw it.
struct Op {
  enum class Kind { kGet, kPut, kDelete };
  enum class Outcome { kOk, kNotFound, kFailed, kUnknown };  // kUnknown: no answer in time
  uint64_t id = 0;
  int client = 0;
  bool solo = false;
  Kind kind = Kind::kGet;
  std::string key;
  std::string value;              // put: unique per write
  uint8_t quorum = 0;             // r for gets, w for writes
  std::vector<std::string> seen;  // writes: the values of the get whose context they carry
  uint32_t ttl_seconds = 0;       // puts: the value's time to live (0: none)
  bool has_context = false;
  TimePoint start, end;
  Outcome outcome = Outcome::kUnknown;
  std::string status;               // the error, when not ok
  std::vector<std::string> values;  // gets: the siblings returned
};

struct SimResult {
  bool ok = true;
  std::vector<std::string> violations;  // each with the seed, the key and its trace
  uint64_t trace_hash = 0;
  uint64_t events = 0;
  uint64_t messages = 0;
  std::size_t ops_acknowledged = 0;  // answered ok (not found included for gets)
  std::size_t ops_unsuccessful = 0;  // failed, or no answer / unavailable
  std::size_t ops = 0;
  bool destructive_event = false;  // a wipe, a restore, or a machine crash losing unsynced writes
  int snapshots = 0;               // storage snapshots taken (the restore fault)
  int restores = 0;                // nodes restarted from one
  uint64_t hints_stored = 0;       // by the nodes' last lives (handoff stats are per process)
  uint64_t hints_delivered = 0;
  uint64_t fallback_reads = 0;     // gets' reads from fallbacks, by the nodes' last lives
  uint64_t tombstones_reaped = 0;  // keys removed by reaping, by the nodes' last lives
  std::vector<std::string> trace;  // with keep_trace
  // Ring changes (ring_changes > 0): committed changes, transitions completed (switches),
  // the final ring version, and what moved (summed over every node's every life).
  int ring_joins = 0;
  int ring_leaves = 0;
  int ring_replaces = 0;
  int ring_switches = 0;
  uint64_t ring_version = 0;
  uint64_t transfer_keys_received = 0;
  uint64_t ranges_dropped = 0;
  int nodes_removed = 0;  // nodes that left the ring, emptied and exited
  int spares_joined = 0;  // nodes outside the first ring that some later ring named
};

// Runs one simulation. Never throws; a broken invariant inside a core aborts (QKV_ASSERT).
SimResult run_simulation(const SimConfig& config);

}  // namespace qkv::sim
