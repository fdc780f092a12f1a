// Replica: this node as a replica of keys — the one write path, with group commit.
//
// Every state this node stores goes through here: coordinated puts (a new dot), replica
// writes from coordinators, hint deliveries, read repair, anti-entropy repairs and
// ownership transfers (both join what they receive through merge()).
//
// No read before most writes: the version cache (node/version_cache.h) holds the committed
// state of recently written keys without their values, which is enough to apply a replica
// write that has seen every stored sibling, or a put whose context covers them. Other
// writes, and keys not in the cache, read the stored state first.
//
// Group commit: writes are staged (store, merge) and reach storage together at commit():
// one Storage::write (one RocksDB WriteBatch, one WAL append). Reads (load) see the staged
// states, and with the commit pipeline (start_commit/finish_commit) the committing ones.
// Nothing that depends on a staged write leaves before it is committed: a replica
// write is acked only after commit() (with the commit's status), and the coordinator sends
// a put on only after its own copy is committed (node/coordinator/put_coordinator.h), so a
// dot never escapes a node that could forget it in a crash.
//
// Reap floor: a key this node holds no state for gets its first dot above the floor — the
// highest counter of this node's actor in any state it removed (a reaped tombstone,
// node/reaper.h; a range dropped after an ownership transfer). A removed key's dots live on
// in clients' causal contexts: a new write of the key counting from 1 again would reuse
// one, and a client writing with an old context would then silently supersede it (Riak's
// kv679, the tombstone variant). The floor is persisted (meta "reap_floor", synced) before
// the removal is staged.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "antientropy/merkle_tree.h"
#include "causal/sibling_set.h"
#include "node/handoff/hinted_handoff.h"
#include "node/held_ranges.h"
#include "node/latencies.h"
#include "node/node_config.h"
#include "node/node_transport.h"
#include "node/status.h"
#include "node/storage/storage.h"
#include "node/version_cache.h"

namespace qkv::node {

class Replica {
 public:
  // What the rest of the node learns of commits: the anti-entropy tree's entry of every
  // committed write (only with `track_entries`), and a failed commit (transfers retry).
  // Commits also report every committed state that holds only tombstones, for reaping
  // (node/reaper.h).
  struct Hooks {
    bool track_entries = false;
    // `after` nullopt: the key was removed (a reaped tombstone).
    std::function<void(ring::Token, std::optional<antientropy::Hash128> before,
                       std::optional<antientropy::Hash128> after)>
        on_committed;
    std::function<void()> on_commit_failed;
    Latencies* latencies = nullptr;  // storage writes are timed into storage_commit
    // A committed state that holds no value readers will see from `dead_from` (unix ms; 0:
    // only tombstones) on: SiblingSet::dead_from.
    std::function<void(ring::Token, const std::string& key, int64_t dead_from)> on_tombstone;
  };

  // Every reference outlives this; `handoff` may be null (no hints kept); `unix_ms` gives
  // wall-clock ms for hint ages.
  Replica(const NodeConfig& config, storage::Storage& storage, Transport& transport,
          const HeldRanges& held, handoff::HintedHandoff* handoff, NodeCounters& counters,
          std::function<int64_t()> unix_ms, Hooks hooks);

  // The key's state: the staged one if a write of it waits for the commit, else storage's
  // (nullopt: none). Errors: storage errors and corrupt states (counted).
  Result<std::optional<causal::SiblingSet>> load(ring::Token token, const std::string& key);
  // What this node answers for the key when asked as a fallback (a sloppy read, Dynamo
  // §4.6): load() joined with every hint it holds for the key (none when it keeps no
  // hints). Nothing is written. Errors: as load(), and the hints' storage errors (counted).
  Result<std::optional<causal::SiblingSet>> load_with_hints(ring::Token token,
                                                            const std::string& key);
  // load() for a read (a get's own copy, a coordinator's read of this replica): a state
  // read from storage also enters the version cache (`version_cache_fills`), so the key's
  // next digest reads and writes read no storage, as Cassandra's key cache fills on reads.
  // Scans (anti-entropy, reaping) use load() and leave the cache alone. Errors: as load().
  Result<std::optional<causal::SiblingSet>> read(ring::Token token, const std::string& key);
  // The digest of what load() returns (causal::StateSummary::digest; a key held nowhere has
  // StateSummary().digest()): from the version cache when it holds the key, so a digest
  // read of a recently written or read key reads no storage; else read from storage and
  // put in the cache, as read() does. Errors: as load().
  Result<causal::StateSummary::Digest> digest(ring::Token token, const std::string& key);
  // A key's new state, and its committed state's anti-entropy tree entry (nullopt: the key
  // had none, or trees are not tracked).
  struct Update {
    causal::SiblingSet state;
    std::optional<antientropy::Hash128> before;
  };
  // The coordinator's update of the key (SiblingSet::update: a new dot of `actor`) as it
  // would be stored; nothing is staged. From the version cache when `context` covers every
  // stored sibling, else from load(). Errors: as load().
  // `expires_ms`: the new value's time to live's end (unix ms; 0: never); `timestamp_ms`:
  // the coordinator's unix ms now, recorded in the new sibling (0: unknown).
  Result<Update> updated(ring::Token token, const std::string& key,
                         const causal::VersionVector& context, const causal::Actor& actor,
                         std::optional<std::string> value, int64_t expires_ms = 0,
                         int64_t timestamp_ms = 0);
  // Stages the key's new state for the next commit.
  void store(ring::Token token, const std::string& key, Update update);
  // Joins `state` into this node's copy of the key and stages it if anything changed.
  // An rvalue `state` is moved into what is staged where it can be (no copy of its values).
  Status merge(ring::Token token, const std::string& key, const causal::SiblingSet& state);
  Status merge(ring::Token token, const std::string& key, causal::SiblingSet&& state);

  // A coordinator's read of this node's copy (with its hints for the key when asked as a
  // fallback, read.with_hints; its digest alone when asked for one, read.digest_only):
  // answered at once.
  void on_read(const PeerMessage& message, const ReplicaRead& read);
  // A coordinator's write (or a hint delivery, read repair): joined and acked after the
  // commit; as a fallback for a down primary (hint_for set), kept as a hint.
  // `write` is the message's body, taken (its state is moved into what is staged).
  void on_write(const PeerMessage& message, ReplicaWrite&& write);

  // True if writes or acks wait for commit().
  bool has_staged() const { return !staged_.empty() || !staged_acks_.empty(); }
  // Writes what is staged in one storage write, then sends the acks that waited on it:
  // finish_commit(storage.write(start_commit())). Returns the commit's status (ok when
  // nothing was staged).
  Status commit();

  // The commit pipeline (node/committer.h), in two steps. start_commit() makes what is
  // staged the committing batch and returns its storage ops (empty: only acks wait); the
  // caller writes them (Storage::write, on any thread) and then calls finish_commit with
  // the write's status, which updates the version cache and the trees and sends the acks.
  // Reads (load, read, digest) see the committing batch's states as they see staged
  // ones, so a read-modify-write of a key sees its latest state while it commits.
  // REQUIRES: no batch is committing (at most one at a time, in order).
  std::vector<storage::WriteOp> start_commit();
  void finish_commit(const Status& committed);
  // After a failed commit: what is staged may have been built on the failed batch's states,
  // which never reached storage, so none of it is written. Its acks are sent `status`.
  void discard_staged(const Status& status);
  // Forgets every cached version: the node deleted key ranges from storage.
  void forget_versions() { versions_.clear(); }

  // Tombstone reaping (node/reaper.h): stages the removal of the key if its state is
  // exactly `expected`; a state that changed since (a concurrent write) stays, so the
  // write wins. First raises the reap floor over `actor`'s counter in `expected`. Returns
  // whether the removal was staged. Errors: storage errors (nothing staged).
  Result<bool> reap(ring::Token token, const std::string& key, const causal::SiblingSet& expected,
                    const causal::Actor& actor);
  // Raises the reap floor over `actor`'s counters in every state stored with first <=
  // token <= last: a range about to be deleted (HeldRanges::drop_ranges). Errors: storage.
  Status raise_reap_floor(ring::Token first, ring::Token last, const causal::Actor& actor);
  // The reap floor (see the top of this file); 0 until something was removed.
  Result<uint64_t> reap_floor();

 private:
  struct StagedWrite {
    ring::Token token;
    std::string key;
    causal::SiblingSet state;
    std::optional<antientropy::Hash128> before;  // the committed state's tree entry
    bool erase = false;                          // a reap: the key is removed
  };
  Status persist_reap_floor(uint64_t floor);
  struct StagedAck {
    NodeId to;
    uint64_t request_id;
  };
  void send_ack(const NodeId& to, uint64_t request_id, Status status);
  // merge() of a const or an rvalue state.
  template <typename State>
  Status merge_state(ring::Token token, const std::string& key, State&& state);
  // The tree entry of a committed state read from storage (nullopt if not tracked).
  std::optional<antientropy::Hash128> tree_entry(const std::string& key,
                                                 const std::optional<causal::SiblingSet>& state);
  // The version cache's entry of a key with no staged write, or null.
  const VersionCache::Entry* cached(const std::string& key);
  // Puts a committed state just read from storage (`summary` is its summary) into the
  // version cache.
  void fill(const std::string& key, const std::optional<causal::SiblingSet>& state,
            causal::StateSummary summary);

  const NodeConfig& config_;
  storage::Storage& storage_;
  Transport& transport_;
  const HeldRanges& held_;
  handoff::HintedHandoff* handoff_;
  NodeCounters& counters_;
  std::function<int64_t()> unix_ms_;
  Hooks hooks_;
  // The state of a staged or committing write of the key, or null (the key's state is
  // storage's). `erase` writes give a null state through load().
  const StagedWrite* pending(const std::string& key) const;

  std::vector<StagedWrite> staged_;
  std::map<std::string, std::size_t, std::less<>> staged_index_;  // key -> its entry in staged_
  std::vector<StagedAck> staged_acks_;  // replica writes to ack after the commit
  // The batch start_commit() took, until finish_commit(): its writes and acks.
  bool committing_open_ = false;
  std::vector<StagedWrite> committing_;
  std::map<std::string, std::size_t, std::less<>> committing_index_;
  std::vector<StagedAck> committing_acks_;
  int64_t committing_began_us_ = 0;
  VersionCache versions_;
  std::optional<uint64_t> reap_floor_;  // read from meta at first use
};

}  // namespace qkv::node
