// OwnershipTransfer: copies the key ranges a node takes over in a ring transition from their
// old replicas (Dynamo §4.9 "adding/removing storage nodes"; Riak's ownership handoff).
//
// A ring transition (gossip::RingState with next_owners, committed by the claimant,
// node/claimant.h) moves the cluster from `current` to `next`. For every key range p (the
// keys whose token is in partition p) the nodes that are primaries of p in `next` but not
// in `current` receive it; ring::plan_transfers lists them. While the transition lasts:
//   - reads are served by `current`'s primaries, as before;
//   - writes go to `current`'s primaries and also to the receivers (node.h: a receiver that
//     misses one gets a hint), so nothing written after the copy began is missed;
//   - each receiver pulls its ranges, in (token, key) order, one batch per request
//     (TransferRequest/Reply), from an old replica — the suggested source of the plan (the
//     one leaving the range, if any) while it is up, else another current primary — and
//     joins every state into its own through the node's write path, so its Merkle tree of
//     the range is kept current like any write.
// Pulls begin only once every member has applied the transition (`set_cleared`, from the
// ring versions members gossip): from then on no coordinator still writes with the old
// ring only, so every key is either in a pulled batch or written to the receiver directly.
// A range is done when its last batch has been joined and its Merkle tree is built (or
// anti-entropy is off); when every inbound range is done, `done_version()` is the
// transition's version, which the driver gossips (NodeState::transfers_done). The claimant
// switches the ring to `next` once every receiver reports it; old replicas drop a range only
// after that (node.h).
//
// Removed nodes (qkvctl node remove; RingState::removed): a member lost with its disk is
// never a source. A range one of them replicated may hold writes only it and one other old
// replica acknowledged, so its receivers pull it from every surviving old replica, one
// after another, each from the start of the range (a failed source is left for another
// that is still to pull, and is pulled again later from the start); the range is received
// once every one of them has sent all of it. A range with no surviving old replica has
// nothing to copy.
//
// Failures: a source that errs, is unreachable or silent for request_timeout is left for
// the next source, resuming from the last batch joined (joins are idempotent, so a repeat
// is harmless). A receiver that restarts pulls its ranges again from the start: cursors are
// not persisted, and a join of what it already holds changes nothing. A transition that is
// cancelled or replaced ends every pull; what was copied is dropped by the node.
//
// Pacing: at most config.concurrent_max ranges in flight; a request is sent only while the
// receive budget (a token bucket refilled at bytes_per_second_max, one second of burst) is
// positive, and each reply is charged to it; batches stop adding states past
// batch_bytes_max (at least one state per batch).
//
// Sans-I/O: time is the `now` argument; messages go out through Transport.
// Thread-safety: none; the node core's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "causal/sibling_set.h"
#include "common/clock.h"
#include "node/in_flight.h"
#include "node/node_transport.h"
#include "node/replica.h"
#include "node/storage/storage.h"
#include "node/transfer_config.h"
#include "ring/claim.h"
#include "ring/ring.h"

namespace qkv::node {

struct TransferCounters {
  uint64_t ranges_done = 0;     // inbound ranges completely received
  uint64_t keys_received = 0;   // states joined from transfer batches
  uint64_t bytes_received = 0;  // their keys and sibling values

  uint64_t keys_sent = 0;        // states this node served as a source
  uint64_t bytes_sent = 0;       // keys and stored states this node scanned for them
  uint64_t source_failures = 0;  // batches that failed (error, unreachable, silent)
};

// One inbound range of the current transition, for status.
struct InboundTransfer {
  uint32_t partition = 0;
  NodeId source;  // the one being pulled from now (or last)
  uint64_t keys = 0, bytes = 0;
  bool done = false;
  bool active = false;  // a batch is in flight
};

class OwnershipTransfer {
 public:
  // True when the node's Merkle tree of the partition is built (or anti-entropy is off).
  using TreeReady = std::function<bool(uint32_t partition)>;

  // Received states are joined into the node's copy through its write path (`replica`);
  // request ids come from `ids`.
  // REQUIRES: config.validate() is ok; storage, transport, replica and ids outlive this.
  OwnershipTransfer(TransferConfig config, NodeId self, uint32_t n, storage::Storage& storage,
                    Transport& transport, Replica& replica, TreeReady tree_ready, InFlight& ids);

  // The ring of version `version`; `next` non-null during a transition, `removed` the
  // members it removes without a handoff (never a source). A new transition (or none) ends
  // the pulls of the previous one; the same one under a new version (a claimant handover)
  // keeps them.
  void set_ring(std::shared_ptr<const ring::Ring> current, std::shared_ptr<const ring::Ring> next,
                uint64_t version, std::vector<NodeId> removed = {});
  // Every member has applied the transition: pulls may begin.
  void set_cleared(bool cleared) { cleared_ = cleared; }
  void set_liveness(std::function<bool(const NodeId&)> is_up) { is_up_ = std::move(is_up); }

  // TransferRequest (answered as a source) and TransferReply.
  void on_message(const PeerMessage& message, TimePoint now);
  // Sends the next batches the budget allows; gives up on silent sources; marks ranges done.
  void on_tick(TimePoint now);
  // True if the next on_tick marks a range done: its last batch is joined and its tree is
  // ready. The node first commits what is staged and waits for the commit in flight, so a
  // range is never reported done (done_version, gossiped) while its states may still be
  // lost to a failed commit or a crash.
  bool completion_due() const;
  void on_peer_unreachable(const NodeId& peer, TimePoint now);
  // A group commit failed: states joined from batches may be lost, so every range of the
  // transition is copied again from its start.
  void on_commit_failed();

  // The transition's version once every inbound range is done (0 otherwise, or with no
  // transition). A node that receives nothing is done at once.
  uint64_t done_version() const;
  std::vector<InboundTransfer> inbound() const;
  const TransferCounters& counters() const { return counters_; }

 private:
  struct Inbound {
    std::vector<NodeId> sources;  // the plan's suggestion first, then the other old primaries
    std::size_t source = 0;       // index into sources of the one pulled from now
    // A removed node replicated the range: `sources` are the surviving old primaries still
    // to pull in full; one that sends its last batch leaves the list.
    bool every_source = false;
    std::vector<NodeId> all_sources;  // every_source: all of them, for a copy started again
    std::optional<std::pair<ring::Token, std::string>> cursor;  // last state joined
    bool received = false;                                      // the last batch is joined
    bool done = false;                                          // and the tree is current
    uint64_t request_id = 0;                                    // 0: none in flight
    TimePoint deadline{};
    TimePoint retry_at{};
    uint64_t keys = 0, bytes = 0;
  };

  void answer(const PeerMessage& message, const TransferRequest& request);
  void on_reply(const PeerMessage& message, const TransferReply& reply, TimePoint now);
  void fail(Inbound& in, TimePoint now);
  Inbound inbound_for(const ring::Transfer& transfer, const std::vector<NodeId>& removed) const;
  void source_done(Inbound& in);
  void refill(TimePoint now);

  TransferConfig config_;
  NodeId self_;
  uint32_t n_;
  storage::Storage& storage_;
  Transport& transport_;
  Replica& replica_;
  TreeReady tree_ready_;
  InFlight& ids_;
  std::function<bool(const NodeId&)> is_up_;
  std::shared_ptr<const ring::Ring> current_;
  std::shared_ptr<const ring::Ring> next_;
  std::vector<NodeId> removed_;
  uint64_t version_ = 0;  // of the ring
  bool cleared_ = false;
  std::map<uint32_t, Inbound> inbound_;     // by partition
  std::map<uint64_t, uint32_t> in_flight_;  // request id -> partition
  double budget_bytes_ = 0;
  TimePoint budget_at_{};
  TransferCounters counters_;
};

}  // namespace qkv::node
