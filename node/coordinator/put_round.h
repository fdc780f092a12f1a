// PutRound: one coordinated write's decisions, as actions (Dynamo §4.5-4.6; the shape of
// Riak's riak_kv_put_core beside riak_core_apl). Pure: no I/O, no clock. The driver
// (node/coordinator/put_coordinator.h) executes the actions, feeds replies, send failures
// and alarms back in, and forgets the round once done().
//
// The coordinator has committed its own copy before the round starts, so it acks at once.
// Every other replica (the key's primaries, plus the receivers during a ring transition)
// is sent the write. A replica that fails — an error reply, a send that could not leave,
// a node the failure detector holds down, a link that broke — or that is still silent at
// the sloppy alarm gets a stand-in: the next fallback of the preference list is sent the
// write as a hint for it (sloppy quorum, Dynamo §4.6), and its ack counts towards W. A
// fallback that fails is replaced by the next one. With no fallback left, or for a
// primaries-only write (PW: no stand-in may count), the coordinator keeps the hint itself
// (as Cassandra's coordinator does), so every primary gets the write later however many
// failed. At the deadline, whoever has not acked may never have got the write: the primary
// it was meant for gets a hint from the coordinator too.
//
// The write is answered once the quorum decides (WriteQuorum) and the round lives on until
// every replica answered, or is covered — a stand-in for it acked, or the coordinator keeps
// a hint for it — or the deadline passed: Dynamo writes N copies whatever W is, so late
// failures still get stand-ins, but a silent replica whose copy is already covered does
// not keep the round (and the node's in-flight count) waiting for the deadline.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <variant>
#include <vector>

#include "common/node_id.h"
#include "common/status.h"
#include "node/coordinator/write_quorum.h"

namespace qkv::coordinator {

// Send the write to `to`. `hint_for` empty: `to` is a replica of the key; otherwise `to`
// is a fallback standing in for the primary `hint_for` and keeps the write as a hint.
// A send that certainly did not leave is reported back with on_reply(to, error).
struct SendWrite {
  NodeId to;
  NodeId hint_for;
};
// The coordinator keeps a hint for `primary` itself (it does not count towards W).
struct KeepHint {
  NodeId primary;
};
// Answer the client: ok (the quorum is met) or the failure.
struct Answer {
  Status status;
};
using PutAction = std::variant<SendWrite, KeepHint, Answer>;

class PutRound {
 public:
  // `self`: the coordinator; `replicas`: the primaries and receivers of the key (self among
  // them, normally); `w`: acks required (W, plus one per receiver in a transition);
  // `fallbacks`: stand-in candidates in the order to try them (up ones first, none of them
  // a replica); `sloppy`: false for a primaries-only write (no stand-ins).
  // REQUIRES: 1 <= w <= replicas.size(); replicas distinct.
  PutRound(NodeId self, std::vector<NodeId> replicas, uint32_t w, std::vector<NodeId> fallbacks,
           bool sloppy);

  // The coordinator's own ack, and a SendWrite to every other replica. Call once.
  std::vector<PutAction> start();
  // A reply (ok: an ack) or a failure of `from` (an error reply, a failed send, a broken
  // link). Repeated and unknown answers do not count, but a failure of a replica or
  // stand-in still gets it a (further) stand-in.
  std::vector<PutAction> on_reply(const NodeId& from, const Status& status);
  // The sloppy alarm (half the deadline): replicas still silent get a stand-in, one at a
  // time through more().
  std::vector<PutAction> on_sloppy_alarm();
  // Stand-ins now for `suspects` (replicas whose links are silent, node/liveness.h) that
  // were sent the write and have not acked: a fallback each, one at a time through more(),
  // while their own acks still count. Only while fallbacks are left (no coordinator hint:
  // the suspect was sent the write); none for a primaries-only write.
  std::vector<PutAction> stand_in_beside(const std::vector<NodeId>& suspects);
  // Decisions deferred until the sends already returned were tried: the driver calls it
  // after executing each list (and feeding back failed sends) until it returns nothing. One
  // silent replica gets its stand-in per call, so a fallback whose send failed is replaced
  // before the next replica takes one, and fallbacks go to replicas in preference order.
  std::vector<PutAction> more();
  // The deadline: hints for whoever has not acked; the round fails unless W was met.
  std::vector<PutAction> on_timeout();

  // Answered, and nothing more will come or matter (every replica answered or is covered):
  // the driver forgets the round.
  bool done() const;
  bool sloppy() const { return sloppy_; }
  const std::vector<NodeId>& replicas() const { return replicas_; }
  const WriteQuorum& quorum() const { return quorum_; }
  // fallback -> the primary it stands in for.
  const std::map<NodeId, NodeId>& standing_in() const { return standing_in_; }

 private:
  bool is_replica(const NodeId& node) const;
  // `primary` acked, a stand-in for it acked, or this coordinator keeps a hint for it.
  bool covered(const NodeId& primary) const;
  void stand_in_for(const NodeId& primary, std::vector<PutAction>& out);
  void keep_hint(const NodeId& primary, std::vector<PutAction>& out);
  void maybe_answer(std::vector<PutAction>& out);

  NodeId self_;
  std::vector<NodeId> replicas_;  // the round's own replicas (stand-ins not included)
  WriteQuorum quorum_;
  std::vector<NodeId> fallbacks_left_;  // not used yet, in the order to try
  bool sloppy_;
  std::map<NodeId, NodeId> standing_in_;
  std::set<NodeId> hinted_here_;  // primaries the coordinator keeps a hint for
  std::vector<NodeId> silent_;    // at the sloppy alarm: replicas waiting for a stand-in
  bool answered_ = false;
};

}  // namespace qkv::coordinator
