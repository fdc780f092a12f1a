// WriteQuorum: the ack counting of one coordinated write (Dynamo §4.5; Riak's
// riak_kv_put_fsm). Pure: no I/O, no clock; the caller feeds acks and timeouts in and
// acts on the Outcome.
//
// The coordinator applies the write to its own store first (Dynamo: the coordinator
// generates the vector clock and writes locally), then sends the new state to the other
// replicas; the write succeeds once W replicas (the coordinator included) acknowledged.
// It fails as soon as W acks become impossible, or at the deadline, with
// `unavailable: write quorum not met: A of N replicas acknowledged, W required`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/node_id.h"
#include "node/coordinator/quorum.h"

namespace qkv::coordinator {

class WriteQuorum {
 public:
  // replicas: every replica of the key (the coordinator among them); w: acks required.
  // REQUIRES: 1 <= w <= replicas.size(); replicas distinct.
  WriteQuorum(std::vector<NodeId> replicas, uint32_t w);

  // An answer from `from`: ok counts as an ack, an error as a failed replica. Answers
  // from unknown nodes and repeated answers are ignored.
  Outcome on_reply(const NodeId& from, const Status& status);
  // The deadline passed: succeeds if the quorum was met, fails otherwise.
  Outcome on_timeout();
  // Sloppy quorum (Dynamo §4.6): a fallback now also holds the write, standing in for a
  // primary that failed or is silent; its ack counts towards W. REQUIRES: not a replica yet.
  void add_replica(const NodeId& fallback);

  Outcome outcome() const { return outcome_; }
  // Every replica answered or failed, or the deadline passed. Answers keep being recorded
  // after the outcome is decided, until then.
  bool complete() const;
  // The status for the client once the outcome is not pending.
  Status result() const;
  uint32_t acks() const { return acks_; }
  bool acked(const NodeId& replica) const;
  uint32_t required() const { return w_; }
  const std::vector<NodeId>& replicas() const { return replicas_; }
  // Replicas that have not answered yet.
  std::vector<NodeId> waiting() const;
  // True if `pred` holds for every replica that has not answered yet (none: true). Asked
  // after every answer, so it builds no list.
  template <typename Pred>
  bool all_waiting(Pred&& pred) const {
    for (std::size_t i = 0; i < replicas_.size(); ++i) {
      if (answers_[i] == Answer::kNone && !pred(replicas_[i])) return false;
    }
    return true;
  }

 private:
  enum class Answer : uint8_t { kNone, kAck, kFailed };
  Outcome decide();
  // Index of `replica` in replicas_, or replicas_.size().
  std::size_t index_of(const NodeId& replica) const;

  std::vector<NodeId> replicas_;
  std::vector<Answer> answers_;  // per replica, in replicas_'s order
  uint32_t w_;
  uint32_t acks_ = 0;
  uint32_t failures_ = 0;
  std::string first_error_;
  bool timed_out_ = false;
  Outcome outcome_ = Outcome::kPending;
};

}  // namespace qkv::coordinator
