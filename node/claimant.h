// Claimant: the one writer of the ring (Riak's riak_core_claimant), sans-I/O.
//
// Who writes the ring. The ring (gossip::RingState) is issued by one node only,
// `ring.claimant`; every other node takes it from gossip. One writer is what lets the ring
// version order ring tables: two different tables are never issued under one version.
//
// Transitions. A ring with `next_owners` non-empty is a transition. `owners` still serve
// reads; writes go to the primaries of both `owners` and `next_owners`; each key range is
// copied to its new primaries (ring::plan_transfers(Ring(owners), Ring(next_owners), n)).
// Each node that receives ranges reports `NodeState::transfers_done == ring.version` in
// gossip once all its inbound ranges are copied and its Merkle trees are current. Then the
// claimant issues version+1 with owners = next_owners and next_owners empty
// (maybe_complete). If the claimant owns nothing in the new table it hands the claim to the
// smallest id among the new owners in that same version.
//
// Operator changes (Riak's staged clustering: `stage`, `plan`, `commit`, `cancel`). Changes
// (join, leave, replace, rebalance, remove) are staged in the claimant's memory only: as in Riak, a
// restart of the claimant loses them and the operator stages again. `plan` shows the owner
// table the staged changes lead to, with an id; `commit(id)` issues the transition only if
// the plan is still the one with that id (the ring version it starts from, the staged
// changes and the resulting table are all in the id), so an operator never commits a plan
// other than the one they looked at. Two commits at once (two operators, or one command
// sent twice) both reach the claimant, which runs them one at a time: the first issues the
// ring and clears the staging, the second finds nothing staged and is told the plan was
// already committed as ring version V.
//
// Removing a lost node (`remove`; Riak's force-remove, Cassandra's removenode). A member
// whose disk is gone for good cannot hand off: the transition takes its partitions away
// like a leave's, and names it in RingState::removed so no receiver pulls from it; the
// receivers of a range it replicated pull from every surviving old replica instead
// (node/transfer.h), so a write acknowledged by one of them survives. A node that is up is
// refused (it should leave, handing its data off) unless the change is forced.
//
// Auto-join (Cassandra's auto_bootstrap; node/auto_join.h). A node started with auto_join
// that has learned the ring and is not in it asks the claimant to stage its join
// (stage_auto_join, over the peer port). Such joins are marked automatic. When everything
// staged is an automatic join and none has been staged for the quiet period, the claimant
// commits them itself as one transition (maybe_auto_commit), so pods started together
// join in one transition. It never commits anything an operator staged: with an operator's
// change staged, the automatic joins wait in the staging and go with the operator's commit
// (`ring plan` lists them). Joiners that went down or were removed before the commit are
// unstaged (they ask again when they are back).
//
// How the next table is computed: replaces first (ring::claim_replace: the new node takes
// exactly the old node's partitions), then, if any join, leave or rebalance is staged, one
// ring::claim from the table after the replaces to the target member set (zones from each
// member's gossiped NodeState::zone).
//
// Errors (the message always says what to do next):
//   unavailable       this node is not the claimant (the message names the claimant), the
//                     ring has no version yet, or a transition is in progress (plan/commit);
//   invalid_argument  a change that does not fit the ring or the staged changes, nothing
//                     staged, a stale plan id, nothing to cancel.
//
// Thread-safety: none (one owner thread, the node core's).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/node_id.h"
#include "common/status.h"
#include "gossip/node_state.h"
#include "ring/claim.h"
#include "ring/ring.h"

namespace qkv::node {

// The gossip membership view: every node this node has heard of, by id.
using MemberView = std::map<NodeId, gossip::NodeState>;

struct RingChange {
  enum class Kind : uint8_t { kJoin, kLeave, kReplace, kRebalance, kRemove };
  Kind kind = Kind::kRebalance;
  // join: the joining node; leave, remove: the leaving node; replace: the old node;
  // rebalance: empty. stage() also accepts a node's peer or client address ("host:port")
  // here and stores the id it resolves to.
  NodeId node;
  NodeId replacement;  // replace: the new node (an id or an address, as `node`)
  bool force = false;  // remove: even a node that is up
  // join: staged by the joining node itself (auto_join), not by an operator.
  bool automatic = false;

  friend bool operator==(const RingChange&, const RingChange&) = default;
};

// "join n4", "join n4 (auto_join)", "leave n2", "replace n2 with n6", "rebalance",
// "remove n3", "remove n3 (forced)".
std::string describe(const RingChange& change);

struct RingPlan {
  uint64_t id = 0;            // what commit() must be given; never 0
  uint64_t from_version = 0;  // the ring version the plan starts from
  std::vector<RingChange> changes;
  std::vector<NodeId> next_owners;
  std::vector<ring::Transfer> transfers;  // key ranges to copy, by partition
  // Partitions owned before and after, for every node in either table.
  std::map<NodeId, std::pair<uint32_t, uint32_t>> ownership;
  ring::ClaimQuality quality{};
};

// How far a transition is (for status). Zero everywhere when no transition is in progress.
struct TransitionProgress {
  uint32_t transfers_total = 0;
  // Transfers whose receiver has reported transfers_done == ring.version (a receiver
  // reports once, for all its inbound transfers).
  uint32_t transfers_done = 0;
  std::vector<NodeId> waiting_on;  // receivers not yet reported, sorted
};

// Progress of the transition `ring` describes, judged from the gossiped NodeStates.
// A receiver missing from `members` has not reported.
TransitionProgress transition_progress(const gossip::RingState& ring, const MemberView& members);

// What maybe_auto_commit did.
struct AutoCommit {
  std::vector<NodeId> unstaged;           // automatic joins dropped: their node is down or gone
  std::optional<RingPlan> plan;           // the plan committed, with...
  std::optional<gossip::RingState> ring;  // ...the ring to publish
  Status error;  // planning or committing failed: the automatic joins were unstaged
};

class Claimant {
 public:
  // `self`: this node's id; it acts only while ring.claimant == self.
  explicit Claimant(NodeId self);

  // Whether a node is up (gossip's verdict): a remove of a node that is up is refused
  // unless forced, and automatic joins of nodes that are down are not committed. Unset:
  // every node counts as up.
  void set_liveness(std::function<bool(const NodeId&)> is_up) { is_up_ = std::move(is_up); }

  // Stages one change after validating it against the ring, the membership view and the
  // changes already staged:
  //   join      a known node (by id, peer or client address), not removed, not in owners
  //             or next_owners, not staged already (as a join or a replacement);
  //   leave     a node that owns partitions, not staged already (leave or replace), and not
  //             the last member left once every staged change applies;
  //   replace   the old node owns partitions and is not staged already; the new one is a
  //             known node, not removed, not in owners or next_owners, not staged already;
  //   rebalance always fits (recomputes the claim for the same member set); staging it
  //             twice keeps one;
  //   remove    as leave, and the node is down (or the change is forced).
  // Staging is allowed while a transition is in progress; plan and commit wait for it.
  // Errors: unavailable (not the claimant, no ring yet), invalid_argument (does not fit).
  Status stage(RingChange change, const gossip::RingState& ring, const MemberView& members);

  // A node's own request to join (auto_join). Stages `join id`, marked automatic, and
  // starts the quiet period at `now`; a join of `id` already staged (by itself or by an
  // operator) is left as it is. Returns true if it was staged now.
  // Errors: as stage() (e.g. invalid_argument when `id` already owns partitions).
  Result<bool> stage_auto_join(const NodeId& id, const gossip::RingState& ring,
                               const MemberView& members, TimePoint now);

  // Called by the driver on its ticks. When this node is the claimant, no transition is in
  // progress, everything staged is an automatic join and the last was staged `quiet` or
  // more before `now`: unstages the joins whose node is down, unknown or removed, then
  // plans and commits the rest as one transition (the ring to publish is in the result).
  // Otherwise does nothing. A plan or commit that fails unstages the automatic joins (their
  // nodes ask again) and says why in `error`.
  AutoCommit maybe_auto_commit(const gossip::RingState& ring, const MemberView& members,
                               TimePoint now, Duration quiet);

  const std::vector<RingChange>& staged() const { return staged_; }
  void clear_staged() { staged_.clear(); }

  // The plan of the staged changes from `ring`. The staged changes are validated again
  // (membership may have moved since they were staged).
  // Errors: unavailable (not the claimant, no ring yet, a transition in progress),
  // invalid_argument (nothing staged, a staged change no longer fits, the claim fails).
  Result<RingPlan> plan(const gossip::RingState& ring, const MemberView& members) const;

  // Issues the plan with id `plan_id`: returns the ring to publish, version+1 with
  // next_owners = the plan's (or, if nothing moves, owners unchanged and next_owners empty)
  // and removed = the nodes staged for remove, n and claimant unchanged; clears the staging.
  // Errors: as plan(); invalid_argument if nothing is staged (naming the ring version a
  // previous commit issued, if any) or plan_id is not the current plan's (the staging
  // stays).
  Result<gossip::RingState> commit(uint64_t plan_id, const gossip::RingState& ring,
                                   const MemberView& members);

  // With changes staged: clears them and returns nullopt (a transition in progress is left
  // alone; cancel again to abort it). Else, with a transition in progress: aborts it and
  // returns the ring to publish, version+1 with next_owners empty (owners keep serving; the
  // nodes drop their partial copies).
  // Errors: unavailable (not the claimant, no ring yet), invalid_argument (nothing staged
  // and no transition in progress).
  Result<std::optional<gossip::RingState>> cancel(const gossip::RingState& ring);

  // Called by the driver whenever gossip changes. If this node is the claimant, a
  // transition is in progress and every receiver of a transfer has reported
  // transfers_done == ring.version: the completed ring, version+1, owners = next_owners,
  // next_owners empty, and the claim handed to the smallest new owner if this node owns
  // nothing in the new table. Else nullopt.
  std::optional<gossip::RingState> maybe_complete(const gossip::RingState& ring,
                                                  const MemberView& members) const;

 private:
  // The last commit: what a repeated commit is told.
  struct Committed {
    uint64_t plan_id = 0;
    uint64_t ring_version = 0;
  };

  bool up(const NodeId& id) const { return !is_up_ || is_up_(id); }

  NodeId self_;
  std::vector<RingChange> staged_;
  std::optional<Committed> last_commit_;
  std::function<bool(const NodeId&)> is_up_;
  TimePoint last_auto_stage_{};  // when the last automatic join was staged
};

}  // namespace qkv::node
