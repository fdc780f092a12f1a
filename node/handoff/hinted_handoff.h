// HintedHandoff: the sans-I/O core of hinted handoff (Dynamo §4.6).
//
// With a sloppy quorum a write meant for a primary that is down goes to a fallback, which
// keeps it as a hint: (target, token, key) -> the key's state, in storage::Storage. When
// the target is up again the fallback replays the hint to it (the target joins the state
// into its own, as for any replica write) and deletes the hint once the target has
// acknowledged the very state that was sent. Joins are idempotent, so a hint replayed
// twice does no harm; a hint deleted too early could lose a write, so deletion is the
// careful step.
//
// This class keeps the hints durable in storage and an index of them in memory (target,
// token, key, size, creation time: not the values; about 150 bytes plus the key per hint),
// and decides what to replay when. Everything is bounded (HandoffConfig). It does no I/O
// but storage calls, reads no clock and does not log: time comes in as arguments,
// deliveries and log events go out as values.
//
// Driving it (one thread, e.g. the node's io_context thread):
//   open()                   once, before anything else
//   store(...)               for each write this node accepts as a fallback for `target`
//   due(now, unix_ms, is_up) on every tick: send each Delivery to its target
//   on_ack(id, status)       for each answer to a Delivery (ok, or an error such as a
//                            failed send)
//   join_of_hints(token, key) when asked for a key as a fallback (a read)
//   take_log_events()        now and then, and log them
//
// Time: `now` is monotonic (rate limit, backoff, delivery timeout); `unix_ms` is wall-clock
// milliseconds since the Unix epoch (hint age: hints outlive restarts).
//
// Thread-safety: none; calls must not overlap. Storage calls are made synchronously.
// Hints in `storage` must be written only through this object once it is open.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "causal/sibling_set.h"
#include "common/clock.h"
#include "common/log_event.h"
#include "common/node_id.h"
#include "common/status.h"
#include "node/storage/storage.h"
#include "ring/token.h"

namespace qkv::handoff {

struct HandoffConfig {
  // A hint older than this is dropped, not replayed: past it, anti-entropy is cheaper than
  // replay (Dynamo §4.6; Cassandra's max_hint_window, 3 h by default).
  Duration hint_age_max{3 * 3600 * 1000};
  // Total bytes of stored hints (hint keys and values, as put to storage); store()
  // refuses a hint that would exceed it.
  uint64_t hint_bytes_max = uint64_t{1} << 30;
  // Replay rate over all targets: a token bucket holding at most one second's worth.
  uint32_t hints_per_second_max = 1000;
  // Deliveries sent and not yet acknowledged (nor timed out), over all targets.
  uint32_t in_flight_max = 64;
  // A delivery without an ack after this is counted failed and its hint replayed later.
  Duration delivery_timeout{5000};
  // After a failed or timed-out delivery, nothing more is sent to that target for this
  // long, so a flapping target is not hammered.
  Duration retry_backoff{1000};
};

// Ok, or invalid_argument naming the field that is out of range (every field must be > 0,
// retry_backoff >= 0).
Status validate(const HandoffConfig& config);

class HintedHandoff {
 public:
  // Replaying one hint: send `state` to `target` as a replica write of (token, key), then
  // report the answer with on_ack(id, ...).
  struct Delivery {
    uint64_t id = 0;  // unique among this object's deliveries (not across restarts)
    NodeId target;
    ring::Token token = 0;
    std::string key;
    causal::SiblingSet state;
  };

  struct Stats {
    uint64_t stored = 0;             // store() calls that succeeded
    uint64_t delivered = 0;          // deliveries acknowledged ok
    uint64_t dropped_expired = 0;    // hints dropped for age (hint_age_max)
    uint64_t dropped_full = 0;       // store() calls refused (hint_bytes_max)
    uint64_t dropped_corrupt = 0;    // stored hints that did not decode, deleted
    uint64_t failed_deliveries = 0;  // deliveries answered with an error or timed out
  };

  // REQUIRES (QKV_ASSERT): validate(config) is ok. storage must outlive this object.
  HintedHandoff(HandoffConfig config, storage::Storage& storage);
  HintedHandoff(const HintedHandoff&) = delete;
  HintedHandoff& operator=(const HintedHandoff&) = delete;

  // Loads the index from the hints already in storage (one scan_hints); a hint whose value
  // is too short to hold its creation time is deleted and counted in dropped_corrupt, one
  // whose target is not a valid node id (a corrupt key) is logged and left alone.
  // REQUIRES: called once, before every other call. Errors: from storage; then this object
  // must not be used.
  Status open();

  // Keeps `state` as a hint for `target`, joined (causal::SiblingSet::join) with the hint
  // already held for (target, token, key), if any; the hint keeps its oldest creation time.
  // Synced as storage writes are (sync_writes). A hint in flight may be joined into: its
  // ack then leaves the hint stored, to be replayed again with the newer state.
  // Errors: overloaded naming hint_bytes_max if the hint would take the total past it
  // (nothing is stored; counted in dropped_full; a store that leaves the held hint as it
  // is always succeeds); invalid_argument for an invalid target;
  // storage errors (nothing stored).
  Status store(const NodeId& target, ring::Token token, const std::string& key,
               const causal::SiblingSet& state, int64_t unix_ms);

  // What to send now. First starts the backoff (retry_backoff from `now`) of targets whose
  // deliveries failed since the last call, releases deliveries unacknowledged for
  // delivery_timeout (counted failed; their targets back off) and drops hints older than
  // hint_age_max
  // (counted in dropped_expired), whatever their target's state. Then returns hints of
  // targets that are up (is_up, asked once per target with hints per call) and not backing
  // off, never one already in flight: at most the rate budget (hints_per_second_max) and
  // in_flight_max minus those in flight, one per target in turn, the turn carrying over
  // from call to call, each target's hints in (token, key) order. A hint whose state does
  // not decode is deleted instead (dropped_corrupt). Storage errors skip the hint this
  // time and are logged.
  std::vector<Delivery> due(TimePoint now, int64_t unix_ms,
                            const std::function<bool(const NodeId&)>& is_up);

  // The answer to delivery `delivery_id`. Ok: counted delivered; the hint is deleted only
  // if no store() changed it since due() handed it out (else it stays, to be replayed with
  // the newer state). Error: counted failed; the hint stays, and its target backs off for
  // retry_backoff from the next due() (which brings the time). An id not in flight
  // (unknown, answered already, or timed out) is ignored: its hint is replayed or was
  // deleted already. Ids are those of this object: a driver that restarts must not pass
  // answers to deliveries of the previous run (map them to its own request ids).
  void on_ack(uint64_t delivery_id, const Status& status);

  // The join of every hint held for (token, key), whatever their targets (a fallback may
  // stand in for several primaries of one key): what a fallback answers for the key when a
  // coordinator reads from it as a stand-in (sloppy reads, Dynamo §4.6). nullopt when no
  // hint for the key is held. A hint older than hint_age_max at `unix_ms` is skipped even
  // before due() drops it: it may hold a value a reaped tombstone deleted (node/reaper.h);
  // one whose value does not decode is skipped and logged (due() drops it).
  // Cost: one index lookup per target that has hints, one storage read per hint found.
  // Errors: storage errors (logged as due()'s are); nothing changes.
  Result<std::optional<causal::SiblingSet>> join_of_hints(ring::Token token, const std::string& key,
                                                          int64_t unix_ms);

  Stats stats() const { return stats_; }
  const HandoffConfig& config() const { return config_; }
  // Per target with hints: (hint count, hint bytes).
  std::map<NodeId, std::pair<uint64_t, uint64_t>> pending() const;
  // Bytes of all hints (what hint_bytes_max bounds).
  uint64_t hint_bytes() const { return hint_bytes_; }
  std::size_t in_flight() const { return in_flight_.size(); }

  // The events to log since the last call, for the caller to log (this core does not
  // log). First single events, oldest first: hints loaded (hints_loaded, info), corrupt
  // hints (hint_corrupt), delivery failures (hint_delivery_failed, one per backoff), the
  // first of a run of storage errors (hint_storage_error); at most kLogLinesMax of them,
  // then one handoff_log_lines_suppressed with their count. Then the drops for age and
  // for space, gathered per target between calls: one hints_expired or hints_refused_full
  // per target, so every drop is logged and a burst is not a flood. All but hints_loaded
  // are warnings. Events not taken are kept (bounded as said).
  std::vector<LogEvent> take_log_events();

  static constexpr std::size_t kLogLinesMax = 256;

 private:
  using HintKey = std::pair<ring::Token, std::string>;  // (token, key)
  struct Hint {
    int64_t created_unix_ms = 0;
    uint64_t bytes = 0;       // hint key + value, as stored
    uint64_t generation = 0;  // changes with every store() that changes the value
    uint64_t delivery = 0;    // the delivery in flight, 0 if none
  };
  struct Target {
    std::map<HintKey, Hint> hints;
    uint64_t bytes = 0;
    TimePoint retry_after{};  // backing off until then
  };
  using TargetMap = std::map<NodeId, Target>;
  // Hints by creation time, for expiry; the pointers are to keys of targets_ and of its
  // hint maps (std::map nodes do not move).
  struct AgeEntry {
    int64_t created_unix_ms;
    const NodeId* target;
    const HintKey* key;
  };
  struct AgeOrder {
    bool operator()(const AgeEntry& a, const AgeEntry& b) const;
  };
  struct InFlight {
    NodeId target;
    HintKey key;
    uint64_t generation = 0;
    TimePoint sent_at;
  };

  void index_insert(TargetMap::iterator target, HintKey key, Hint hint);
  void index_erase(TargetMap::iterator target, std::map<HintKey, Hint>::iterator hint);
  void release_timed_out(TimePoint now);
  void expire(int64_t unix_ms);
  uint64_t budget(TimePoint now);
  // Puts the hint in flight and returns its delivery; nullopt if it was dropped instead
  // (missing or corrupt: erased from the index); a storage error leaves it as it was.
  Result<std::optional<Delivery>> deliver(TargetMap::iterator target,
                                          std::map<HintKey, Hint>::iterator hint, TimePoint now);
  void start_backoffs(TimePoint now);
  void back_off(Target& target, const NodeId& id, TimePoint now, const std::string& why);
  void storage_failed(const std::string& doing, const Status& status);
  void storage_worked() { storage_failing_ = false; }
  void log(LogEvent event);

  const HandoffConfig config_;
  storage::Storage& storage_;
  bool opened_ = false;

  TargetMap targets_;  // never erased from: targets are few (cluster members)
  std::set<AgeEntry, AgeOrder> by_age_;
  uint64_t hint_bytes_ = 0;
  uint64_t next_generation_ = 1;

  std::map<uint64_t, InFlight> in_flight_;  // by delivery id
  std::map<NodeId, std::string> failed_;    // targets to back off at the next due(): error
  uint64_t next_delivery_id_ = 1;
  std::optional<NodeId> last_served_;  // the round-robin turn: the next due() starts after it

  uint64_t bucket_millis_ = 0;  // rate budget in thousandths of a delivery
  std::optional<TimePoint> bucket_refilled_;

  Stats stats_;
  std::map<NodeId, uint64_t> expired_unlogged_;  // per target, since take_log_events()
  std::map<NodeId, uint64_t> refused_unlogged_;
  std::vector<LogEvent> events_;
  uint64_t lines_suppressed_ = 0;
  bool storage_failing_ = false;  // a storage error was logged; more are not, until one works
};

}  // namespace qkv::handoff
