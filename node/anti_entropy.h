// AntiEntropy: active anti-entropy of one node (Dynamo §4.7, Riak's AAE), sans-I/O.
//
// Trees. One Merkle tree (antientropy/merkle_tree.h) per partition this node is a primary
// of: leaves are segments of the partition's token range. A tree is built by one scan of
// the partition (at start unless a saved tree was loaded, and again every
// rebuild_interval to catch silent corruption), one partition per tick, and kept current
// by on_write() for every committed write — client puts, replica writes, read repair,
// handoff and repairs all go through the node's one write path.
//
// Exchanges. Periodically (every exchange_interval per partition, jittered ±25 %) and on
// demand (start_repair), this node compares a partition's tree with another primary's:
//   1. TreeRequest, level by level from the root, only into differing subtrees
//      (antientropy::Descent: O(k log segments) hashes for k differing segments);
//   2. SegmentRequest for the differing segments: their (key, entry hash) lists, compared
//      with this node's own (a scan of those segments) — the differing keys;
//   3. KeysRequest for the differing keys: the peer's states. Each is joined with this
//      node's: stored here through the node's write path if that adds anything, and sent
//      to the peer as an ordinary ReplicaWrite if it adds anything there. Both ways.
// Bounded: at most concurrent_exchanges_max exchanges this node started run at once, and
// what it sends for them is paced to bytes_per_second_max (a token bucket with a burst of
// one second). A step without an answer within exchange_timeout fails the exchange; the
// next periodic one retries.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "antientropy/merkle_tree.h"
#include "common/clock.h"
#include "common/log_event.h"
#include "node/anti_entropy_config.h"
#include "node/in_flight.h"
#include "node/node_transport.h"
#include "node/replica.h"
#include "node/storage/storage.h"
#include "proto/client_api.h"
#include "ring/ring.h"

namespace qkv::node {

struct AntiEntropyCounters {
  uint64_t exchanges = 0;         // completed
  uint64_t exchanges_failed = 0;  // peer error, unreachable or silent
  uint64_t segments_differing = 0;
  uint64_t keys_compared = 0;  // keys in differing segments
  uint64_t keys_repaired = 0;  // keys written here or sent to the peer
  uint64_t bytes_sent = 0;     // every anti-entropy message this node sent
  uint64_t tree_builds = 0;    // scans that built or rebuilt a tree
};

class AntiEntropy {
 public:
  // States are read and repairs joined through the node's write path (`replica`: reads
  // see staged group-commit writes); request ids come from `ids`.
  // REQUIRES: config.validate() is ok; storage, transport, replica and ids outlive this.
  // `seed` seeds the jitter (the simulation passes its own; qkvd the incarnation).
  AntiEntropy(AntiEntropyConfig config, NodeId self, uint32_t n, storage::Storage& storage,
              Transport& transport, Replica& replica, InFlight& ids, uint64_t seed);

  // The partitions this node is a primary of follow the ring; trees of partitions it no
  // longer replicates are dropped, new ones are built. During a ring transition (`next`
  // non-null), ranges this node receives (node/transfer.h) have trees too, kept by the
  // copy and the writes; exchanges run only between `ring`'s primaries.
  void set_ring(std::shared_ptr<const ring::Ring> ring, TimePoint now,
                std::shared_ptr<const ring::Ring> next = nullptr);
  void set_liveness(std::function<bool(const NodeId&)> is_up) { is_up_ = std::move(is_up); }

  // A committed write of a key: its entry changes from `before` (nullopt: the key had no
  // state here) to `after` (nullopt: the key was removed, a reaped tombstone).
  void on_write(ring::Token token, const std::optional<antientropy::Hash128>& before,
                const std::optional<antientropy::Hash128>& after);

  // Tree, Segment and Keys requests and replies (other bodies are not for it).
  void on_message(const PeerMessage& message, TimePoint now, int64_t unix_ms);
  // Builds one tree if one is due, fails exchanges past their step deadline, starts
  // exchanges that are due, sends what the byte budget allows.
  void on_tick(TimePoint now, int64_t unix_ms);
  // True if the next on_tick builds a tree: a scan of storage, which must not overlap a
  // commit in flight (Node drains the commit pipeline first: a write that lands before the
  // scan's snapshot and reaches the tree again at its commit's end would count twice).
  bool build_due(TimePoint now) const;
  // The driver could not reach `peer`: its exchanges fail now.
  void on_peer_unreachable(const NodeId& peer, int64_t unix_ms);

  // Exchanges now (qkvctl repair): of `partition`, or every partition this node
  // replicates, with every other primary. Returns the partitions queued (0 if it
  // replicates no such partition, or anti-entropy is off). Replaces the progress of an
  // earlier repair.
  bool enabled() const { return config_.enabled; }
  uint32_t start_repair(std::optional<uint32_t> partition);
  const proto::RepairProgress& repair_progress() const { return repair_; }

  // When each replicated partition last completed an exchange (unix ms, 0 = never).
  std::vector<std::pair<uint32_t, int64_t>> last_exchanges() const;
  const AntiEntropyCounters& counters() const { return counters_; }
  // The tree of a partition, if this node replicates it and it is built (tests, saving).
  const antientropy::MerkleTree* tree(uint32_t partition) const;
  // Trees built (all of the replicated partitions' trees are current).
  bool all_built() const;
  // Persistence across a clean restart (qkvd saves at a clean stop, loads at the next start
  // if that stop was clean, and clears the saved trees at once so a crash finds none):
  // the built trees with their ages. Loading installs each tree of a partition this node
  // replicates with the same shape, keeping its build age (so weekly rebuilds still
  // happen); others are built by a scan as usual. Errors: corruption naming what is wrong
  // (nothing is installed then).
  std::string save_trees(TimePoint now, int64_t unix_ms) const;
  Status load_trees(std::string_view saved, TimePoint now, int64_t unix_ms);
  // Events for the driver's log (exchanges that repaired, at info; failures, at warn),
  // oldest first; at most 1000 kept between calls.
  std::vector<LogEvent> take_log_events();

 private:
  struct Tree {
    explicit Tree(antientropy::MerkleTree t) : tree(std::move(t)) {}
    antientropy::MerkleTree tree;
    bool built = false;
    TimePoint built_at{};
    TimePoint next_exchange{};
    int64_t last_success_unix_ms = 0;
    std::size_t next_peer = 0;  // round robin over the other primaries
  };
  enum class Phase { kTree, kSegments, kKeys };
  struct Exchange {
    uint32_t partition = 0;
    NodeId peer;
    bool repair = false;  // part of start_repair's repair
    Phase phase = Phase::kTree;
    std::unique_ptr<antientropy::Descent> descent;
    std::vector<uint32_t> segments_left;  // differing segments not yet compared
    std::vector<std::string> keys_left;   // differing keys not yet fetched
    uint64_t request_id = 0;              // of the step awaiting an answer
    std::optional<PeerMessage> to_send;   // waiting for the byte budget
    TimePoint step_deadline{};
    uint64_t keys_compared = 0, keys_repaired = 0, bytes_sent = 0;
  };
  struct RepairTask {
    uint32_t partition;
    std::vector<NodeId> peers_left;
    bool failed = false;
    uint32_t running = 0;
  };

  // Trees and the tick (anti_entropy.cc).
  std::vector<NodeId> other_primaries(uint32_t partition) const;
  bool is_primary(uint32_t partition) const;
  bool peer_up(const NodeId& peer) const;  // per is_up_; up when no liveness was set
  void build(uint32_t partition, Tree& tree, TimePoint now);
  bool build_due(const Tree& tree, TimePoint now) const;
  // (key, entry hash) of this node's keys in `segment` of `partition`'s tree.
  Status scan_segment(const antientropy::MerkleTree& tree, uint32_t segment,
                      std::vector<antientropy::SegmentEntry>& out);
  void log(LogEvent event);

  // Exchanges, as initiator and as responder (anti_entropy_exchange.cc).
  // Starts the periodic exchanges that are due, round robin over the peers that are up.
  void start_due_exchanges(TimePoint now);
  void start(uint32_t partition, const NodeId& peer, bool repair, TimePoint now);
  void step(Exchange& ex, PeerBody body, TimePoint now);
  // Sends the steps waiting for the byte budget while it lasts.
  void send_ready(TimePoint now, int64_t unix_ms);
  // Counts the message's encoded size in `bytes` and the budget.
  Status send_now(const NodeId& to, PeerMessage message, uint64_t& bytes);
  void finish(uint64_t id, const Status& status, int64_t unix_ms);
  void on_tree_reply(uint64_t id, Exchange& ex, const TreeReply& reply, TimePoint now,
                     int64_t unix_ms);
  void on_segment_reply(uint64_t id, Exchange& ex, const SegmentReply& reply, TimePoint now,
                        int64_t unix_ms);
  void on_keys_reply(uint64_t id, Exchange& ex, const KeysReply& reply, TimePoint now,
                     int64_t unix_ms);
  void next_segments(uint64_t id, Exchange& ex, TimePoint now, int64_t unix_ms);
  void next_keys(uint64_t id, Exchange& ex, TimePoint now, int64_t unix_ms);
  void answer(const PeerMessage& message);
  // Why this node cannot answer for `partition` (with trees of `segments` leaves), if so.
  std::optional<Status> refusal(uint32_t partition,
                                std::optional<uint32_t> segments = std::nullopt) const;
  void answer_tree(const PeerMessage& message, const TreeRequest& req);
  void answer_segments(const PeerMessage& message, const SegmentRequest& req);
  void answer_keys(const PeerMessage& message, const KeysRequest& req);
  Duration jittered(Duration d);

  // On-demand repair (anti_entropy_repair.cc).
  // Starts the repair's exchanges of built trees with peers that are up, as the limit on
  // concurrent exchanges allows; a peer that is down fails its partition.
  void start_due_repairs(TimePoint now);
  // A repair's exchange ended: its counts and any error go to the repair's progress.
  void repair_exchange_ended(const Exchange& ex, const Status& status);
  // Counts the repair's partitions whose exchanges all ended; running = any left.
  void update_repair();

  AntiEntropyConfig config_;
  NodeId self_;
  uint32_t n_;
  storage::Storage& storage_;
  Transport& transport_;
  Replica& replica_;
  InFlight& ids_;
  std::function<bool(const NodeId&)> is_up_;
  std::shared_ptr<const ring::Ring> ring_;
  std::shared_ptr<const ring::Ring> next_;  // a transition's next ring, or null
  std::map<uint32_t, Tree> trees_;          // by partition
  std::map<uint64_t, Exchange> exchanges_;  // this node's, by id
  std::deque<RepairTask> repair_queue_;     // partitions of the repair not finished
  proto::RepairProgress repair_;
  double budget_bytes_ = 0;  // token bucket for bytes_per_second_max
  TimePoint budget_at_{};
  std::mt19937_64 random_;
  AntiEntropyCounters counters_;
  std::vector<LogEvent> log_events_;
};

}  // namespace qkv::node
