// Forwarder: sends a client's request on to a primary of the key when this node is not
// one (Dynamo §4.5: any node takes a request, a primary coordinates it), and takes the
// Forwards other nodes send here exactly once.
//
// Failover: the primaries are tried in order (up ones first). A read gives each primary a
// share of its deadline (half of what remains, the last one all of it) and moves on when
// one is unreachable or silent. A write moves on only when it was certainly not delivered
// (the send failed): after a silence it may have been applied, and coordinating it again
// elsewhere would write it twice under two dots (a duplicate sibling that can outlive a
// later write's context), so the client is told to read the key instead.
//
// Deadlines travel (node/deadline.h): a Forward carries the wall-clock time at which this
// node gives up on the attempt; a receiver that gets it later than that (plus
// clock_skew_max) drops it unanswered (counted as forwards_expired), so a write whose client was
// told "may have been applied" is never coordinated long after, when a stuck link or a paused node
// releases it.
//
// Duplicates: a Forward is remembered by (forwarder, request id) for request_timeout_max
// (at most kForwardsSeenMax of them): a duplicated Forward must not coordinate a write
// twice.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/in_flight.h"
#include "node/key_request.h"
#include "node/node_transport.h"
#include "node/reply.h"
#include "node/status.h"

namespace qkv::node {

class Forwarder {
 public:
  // Most forwards remembered for duplicate detection; past it the oldest are forgotten.
  static constexpr std::size_t kForwardsSeenMax = 100'000;

  // Every reference outlives this. `unix_ms` gives wall-clock ms (null: forwards carry no
  // deadline).
  Forwarder(const NodeConfig& config, Transport& transport, InFlight& in_flight, Replier& replier,
            NodeCounters& counters, std::function<int64_t()> unix_ms);

  // Forwards `request` to `primaries` (in the order to try), answering `reply_to` with the
  // primary's answer or the failures. REQUIRES: primaries non-empty; request located.
  void start(ReplyTo reply_to, KeyRequest request, std::vector<NodeId> primaries, TimePoint now);
  // The primary's answer to forward `id`.
  void on_reply(uint64_t id, proto::ClientResponse response);
  // The alarm of forward `id`: its primary did not answer within the attempt's budget.
  void on_alarm(uint64_t id, TimePoint now);
  // `peer`'s link broke: forwards waiting on it fail over (a write only if not delivered).
  void on_peer_unreachable(const NodeId& peer, TimePoint now);

  // False for a Forward already taken (a duplicate); remembers it otherwise.
  bool first_time(const NodeId& from, uint64_t request_id, TimePoint now);

 private:
  struct Op {
    proto::ClientRequest request;
    std::vector<NodeId> primaries;
    std::size_t attempt = 0;
    std::vector<std::string> failures;  // "n1: unreachable", "n2: no answer in time"
    bool is_write = false;              // retried elsewhere only if never delivered
  };
  void send_attempt(uint64_t id, Op& op, TimePoint now);
  // `maybe_delivered`: the primary may have the request (it was silent, not unreachable).
  void failed_attempt(uint64_t id, std::string why, bool maybe_delivered, TimePoint now);

  const NodeConfig& config_;
  Transport& transport_;
  InFlight& in_flight_;
  Replier& replier_;
  NodeCounters& counters_;
  std::function<int64_t()> unix_ms_;
  std::map<uint64_t, Op> ops_;
  std::map<std::pair<NodeId, uint64_t>, TimePoint> seen_;
  std::set<std::pair<TimePoint, std::pair<NodeId, uint64_t>>> seen_expiry_;
};

}  // namespace qkv::node
