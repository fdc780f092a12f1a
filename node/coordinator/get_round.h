// GetRound: the quorum bookkeeping of one coordinated read (Dynamo §4.5-4.6; Riak's
// riak_kv_get_core). Pure: no I/O, no clock. The driver (node/coordinator/get_coordinator.h)
// sends the reads the round asks for and feeds every answer, failure and the deadline back.
//
// Whom it reads: the first N healthy nodes of the preference list (Dynamo §4.6). Every
// primary is asked; a primary that fails — the failure detector holds it down, its send
// failed, its link broke, it answered an error — or that is still silent at the sloppy
// alarm is replaced by the next stand-in candidate, a fallback, in the order given, as a
// put's stand-ins are chosen (node/coordinator/put_round.h). A fallback asked for a key answers
// with its hints for it joined in, so a write taken by stand-ins while primaries were down is read
// back. A fallback that fails is replaced by the next one. No stand-in is taken once the outcome is
// decided (a read does not need more answers than it already waits for).
//
// When it succeeds: once R replicas answered, found or not found (Riak's notfound_ok), and at
// least PR of them are primaries (Riak's PR; fallbacks count towards R, never towards PR).
// The answer is the join of the sibling sets received, so concurrent writes seen by any
// replica come back as siblings. It fails once nothing more can come (every node asked
// answered or failed, with no stand-in left) or, with PR unmet, once every primary has
// answered or failed; or at the deadline, with
// `unavailable: read quorum not met: A of N replicas answered, R required; ...` or
// `unavailable: primary quorum not met: P of N primaries answered, PR=p required ...`.
// Per-replica states are kept, also after the outcome, so the caller can tell which
// primaries are stale once every node asked answered (read repair).
//
// Digest reads (Cassandra's, inside Dynamo's read of every primary): given `data_from`, that
// primary is asked for its state and the other primaries only for their digests
// (causal::StateSummary::digest), which a replica answers from its version cache without
// reading storage, in 16 bytes instead of the values. Fallbacks are always asked for their
// state (it holds their hints). A digest equal to the digest of a state received (or to
// that of "holds nothing") tells that node's state exactly, so it counts towards R and PR
// as the state itself would. A digest equal to none of them is a mismatch: that node is
// asked for its state (returned as a ReadFrom with digest false), once a state has arrived
// to compare it with (or no state read is left), and counts once it comes; nodes with the
// same digest share one such read. Mismatches are fetched after the outcome too, so read
// repair still sees every primary's state.
//
// Fanout (Fanout::kQuorum, Cassandra's reads): only as many primaries as the read needs are
// asked at first — max(R, PR) of them: `data_from` (when given) and then the others in the
// order given. The rest are spares: a spare is asked (for its digest, as a primary, before
// any fallback) when a node asked fails or is still silent at the stand-in alarm, which is
// Cassandra's speculative retry. What it saves is a request and an answer per primary not
// asked. What it costs: read repair compares only the primaries asked, and a replica slow
// to answer delays the read until the alarm instead of being outvoted. Fanout::kAll asks
// every primary (Dynamo, Riak).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "causal/sibling_set.h"
#include "causal/state_summary.h"
#include "common/node_id.h"
#include "node/coordinator/quorum.h"

namespace qkv::coordinator {

// Read the key from `to`. `stand_in_for` empty: `to` is a primary; otherwise `to` is a
// fallback standing in for that primary, asked for its hints too. `digest`: ask for the
// digest of its state only (answered with on_digest). A send that certainly did not leave
// is reported back with on_reply(to, error).
struct ReadFrom {
  NodeId to;
  NodeId stand_in_for;
  bool digest = false;

  bool operator==(const ReadFrom&) const = default;
};

class GetRound {
 public:
  using Digest = causal::StateSummary::Digest;

  // `primaries`: the key's primaries (N, fewer in a small cluster); `r`: answers required;
  // `pr`: primaries among them required (0: none); `fallbacks`: stand-in candidates in the
  // order to try them, none of them a primary (empty: primaries only are asked);
  // `data_from`: the primary asked for its state, the others being asked for digests
  // (empty: every node is asked for its state); `fanout`: every primary asked at first, or
  // max(r, pr) of them.
  // REQUIRES: 1 <= r <= primaries.size(); pr <= primaries.size(); nodes distinct;
  // data_from empty or a primary.
  GetRound(std::vector<NodeId> primaries, uint32_t r, uint32_t pr = 0,
           std::vector<NodeId> fallbacks = {}, NodeId data_from = {}, Fanout fanout = Fanout::kAll);

  // A ReadFrom for every primary asked at first (all of them, or max(r, pr) with
  // Fanout::kQuorum). Call once; answers may come before it is called.
  std::vector<ReadFrom> start() const;
  // A node's answer: a state (nullopt = it holds nothing for the key), or an error. A
  // failure of a node asked gets its primary the next stand-in (returned: a spare primary
  // first, then a fallback), while the outcome is pending. A node asked for a digest may answer
  // with its state (one older than digest reads does). Unknown and repeated senders are ignored; so
  // is an error from a node that answered, unless its state was asked for since (a mismatched
  // digest). Returns the reads to make now: stand-ins, and the states of mismatched digests.
  std::vector<ReadFrom> on_reply(const NodeId& from, const Status& status,
                                 std::optional<causal::SiblingSet> state);
  // A node's digest answer (to a ReadFrom with digest set). Returns the reads to make now,
  // as on_reply.
  std::vector<ReadFrom> on_digest(const NodeId& from, const Digest& digest);
  // The sloppy alarm (half the deadline): while fewer than R answered, every primary asked
  // and still silent (neither answered nor failed, nor replaced yet) gets a stand-in, in
  // order: a spare primary first, then a fallback.
  std::vector<ReadFrom> on_sloppy_alarm();
  Outcome on_timeout();

  Outcome outcome() const { return outcome_; }
  Status result() const;
  // Every node asked answered (a mismatched digest: with its state too) or failed, or the
  // deadline passed: nothing more will come. Answers keep being recorded after the
  // outcome is decided, until then.
  bool complete() const;
  // Primaries that answered with less than merged() (nothing, or an older or different
  // state; for a digest answer: a digest other than merged()'s): the targets of read
  // repair (Dynamo §4.7). Never a spare not asked, nor a fallback: a fallback's store holds only
  // the keys it replicates, and its hints go to their primaries by handoff. Empty when no node held
  // the key.
  std::vector<NodeId> stale_replicas() const;
  // The join of every state received so far (empty when none was found).
  const causal::SiblingSet& merged() const { return merged_; }
  // True when at least one answering node held the key.
  bool found_anywhere() const { return found_; }
  // The nodes whose answers count (a state, or a digest of one received), in the order
  // they were asked (primaries first, in order).
  std::vector<ReadFrom> answered() const;
  uint32_t replies() const;
  uint32_t primary_replies() const;
  // Digest answers that matched no state received, so their nodes were asked for theirs.
  uint32_t digest_mismatches() const { return digest_mismatches_; }
  // Spare primaries asked (Fanout::kQuorum): a node asked first failed or was slow.
  uint32_t spare_reads() const { return spare_reads_; }

 private:
  const ReadFrom* asked(const NodeId& node) const;
  void stand_in_for(const NodeId& primary, std::vector<ReadFrom>& out);
  // A node failed (a read or a send): its primary gets the next stand-in while pending.
  void on_failure(const NodeId& from, const Status& status, std::vector<ReadFrom>& out);
  // Asks mismatched digests' nodes for their states, as the top of this file says.
  void fetch_mismatched(std::vector<ReadFrom>& out);
  // A digest answer that tells its node's state: that of a state received, or "nothing".
  bool known(const Digest& digest) const;
  bool counts(const NodeId& node) const;  // answered a state, or a known digest
  // Neither waiting for the node's first answer nor for its state after its digest.
  bool settled(const NodeId& node) const;
  bool primaries_settled() const;
  Outcome decide() const;

  std::vector<NodeId> primaries_;
  uint32_t r_;
  uint32_t pr_;
  std::vector<NodeId> spares_;          // primaries not asked yet (Fanout::kQuorum), in order
  std::vector<NodeId> fallbacks_left_;  // not asked yet, in the order to try
  std::size_t asked_first_ = 0;         // of asked_: the reads start() returns
  std::vector<ReadFrom> asked_;         // primaries, then stand-ins as they were taken
  std::map<NodeId, std::optional<causal::SiblingSet>> answers_;  // states received
  std::vector<Digest> state_digests_;  // of answers_' states (with digest reads only)
  std::map<NodeId, Digest> digests_;   // digest answers of nodes whose state is not in answers_
  std::set<NodeId> fetching_;          // of digests_: their state asked for, not come yet
  std::set<NodeId> failed_;
  std::set<NodeId> stood_in_;  // primaries a stand-in (spare or fallback) was asked for
  std::string first_error_;
  causal::SiblingSet merged_;
  bool digest_reads_ = false;
  uint32_t digest_mismatches_ = 0;
  uint32_t spare_reads_ = 0;
  bool found_ = false;
  bool timed_out_ = false;
  Outcome outcome_ = Outcome::kPending;
};

}  // namespace qkv::coordinator
