// AutoJoin: a node that joins the ring by itself (Cassandra's auto_bootstrap; issue 15,
// `kubectl scale`), sans-I/O.
//
// A node started with `[cluster] auto_join = true` and seeds learns the ring by gossip. If
// it is in neither table of the ring, has never been a ring member (meta "ring_member":
// a node that left, or was removed, stays out until an operator joins it), and is not
// removed, it asks the claimant to stage its join: a RingAdminRequest{stage, join, itself}
// carried in a peer Forward to the claimant named by the ring. The claimant answers with a
// ForwardReply (node/membership.h) and takes the request only if it runs with auto_join
// too (in Kubernetes every pod has the same config; elsewhere a node started with
// auto_join by mistake is refused and waits for an operator). Its Claimant stages the
// join marked automatic and
// commits the automatic joins once none has been staged for its quiet period
// (node/claimant.h), so nodes started together enter the ring in one transition.
//
// The node asks again every `retry` until the ring names it (a claimant that restarted has
// lost its staging; one that changed is asked anew); asking twice is harmless, the claimant
// keeps one staged join. An answer that does not come within `retry` is given up on.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log_event.h"
#include "common/node_id.h"
#include "common/status.h"
#include "gossip/node_state.h"
#include "proto/client_api.h"

namespace qkv::node {

struct AutoJoinConfig {
  // [cluster] auto_join (qkvd --auto-join): this node stages its own join. Off by default:
  // outside Kubernetes an operator joins nodes (qkvctl node join).
  bool enabled = false;
  // [cluster] auto_join_quiet_ms, used by the claimant: it commits automatic joins once
  // none has been staged for this long, so pods started together join in one transition.
  Duration quiet{10'000};
  // Between two requests of a node not yet in the ring; also how long an answer is awaited.
  Duration retry{2'000};

  // Errors: invalid_argument naming the key (quiet and retry must be > 0).
  Status validate() const;
};

// A request for the claimant, to send as PeerMessage{self, request_id, Forward{request}}.
struct JoinRequest {
  NodeId claimant;
  uint64_t request_id = 0;
  proto::ClientRequest request;
};

class AutoJoin {
 public:
  explicit AutoJoin(AutoJoinConfig config = {}) : config_(config) {}

  const AutoJoinConfig& config() const { return config_; }

  // The request to send now, if this node (`self`) should ask to join: enabled, the ring
  // known (version > 0) with a claimant other than itself, `self` in neither owners nor
  // next_owners, `eligible` (never a ring member, not removed: the caller knows), no answer
  // awaited, and `retry` passed since the last request.
  std::optional<JoinRequest> due(TimePoint now, const NodeId& self, const gossip::RingState& ring,
                                 bool eligible);

  // True if `request_id` is the join request whose answer is awaited (for on_reply). Any
  // other answer, a late one included, is not this class's (the node core ignores answers
  // it does not know).
  bool awaits(uint64_t request_id) const { return awaited_ != 0 && request_id == awaited_; }
  // The claimant's answer to the request `request_id` (stale answers are ignored). Returns
  // what to log: the first request to a claimant is logged when it is answered
  // (auto_join_requested), a refusal once per distinct error (auto_join_refused).
  std::vector<LogEvent> on_reply(uint64_t request_id, const proto::ClientResponse& response);

 private:
  // Request ids of their own, apart from the node core's (random high bits, counting up).
  static constexpr uint64_t kIdBit = uint64_t{1} << 63;

  AutoJoinConfig config_;
  uint64_t next_id_ = 1;
  uint64_t awaited_ = 0;  // the request id whose answer is awaited; 0: none
  NodeId asked_;          // the claimant asked last
  TimePoint last_request_{};
  bool asked_once_ = false;
  NodeId staged_at_;        // the claimant that last answered ok
  std::string last_error_;  // the last refusal logged
};

}  // namespace qkv::node
