// GetRound: the quorum bookkeeping of one coordinated read (Dynamo §4.5; Riak's
// riak_kv_get_core). Pure: no I/O, no clock.
//
// The coordinator asks every replica of the key and succeeds once R of them answered,
// found or not found (Riak's notfound_ok): the answer is the join of the sibling sets
// received, so concurrent writes seen by any of the R replicas come back as siblings.
// It fails once every replica answered (or failed) with fewer than R answers, or at the
// deadline, with
// `unavailable: read quorum not met: A of N replicas answered, R required`.
// Per-replica states are kept, also after the outcome, so the caller can tell which replicas
// are stale once every replica answered (read repair).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "causal/sibling_set.h"
#include "common/node_id.h"
#include "node/coordinator/quorum.h"

namespace qkv::coordinator {

class GetRound {
 public:
  // REQUIRES: 1 <= r <= replicas.size(); replicas distinct.
  GetRound(std::vector<NodeId> replicas, uint32_t r);

  // A replica's answer: a state (nullopt = it holds nothing for the key), or an error.
  // Unknown and repeated senders are ignored.
  Outcome on_reply(const NodeId& from, const Status& status,
                   std::optional<causal::SiblingSet> state);
  Outcome on_timeout();

  Outcome outcome() const { return outcome_; }
  Status result() const;
  // Every replica answered or failed, or the deadline passed: nothing more will come.
  // Answers keep being recorded after the outcome is decided, until then.
  bool complete() const;
  // Replicas that answered with less than merged() (nothing, or an older or different
  // state): the targets of read repair (Dynamo §4.7). Empty when no replica held the key.
  std::vector<NodeId> stale_replicas() const;
  // The join of every state received so far (empty when none was found).
  const causal::SiblingSet& merged() const { return merged_; }
  // True when at least one answering replica held the key.
  bool found_anywhere() const { return found_; }
  // The state each replica answered with (replicas that held nothing map to nullopt).
  const std::map<NodeId, std::optional<causal::SiblingSet>>& answers() const { return answers_; }
  uint32_t replies() const { return static_cast<uint32_t>(answers_.size()); }

 private:
  Outcome decide();

  std::vector<NodeId> replicas_;
  uint32_t r_;
  std::map<NodeId, std::optional<causal::SiblingSet>> answers_;
  std::set<NodeId> failed_;
  std::string first_error_;
  causal::SiblingSet merged_;
  bool found_ = false;
  bool timed_out_ = false;
  Outcome outcome_ = Outcome::kPending;
};

}  // namespace qkv::coordinator
