// InFlight: the node's requests in flight — request ids, alarms (deadlines and earlier
// wake-ups), and where each answer goes. The parts that own the requests (put and get
// coordinators, the forwarder) keep each request's own state under the same id; InFlight
// tells the dispatcher which part an id or an alarm belongs to.
//
// Request ids come from one counter per process, shared with every other exchange the
// node starts (replica reads and writes, hint deliveries, anti-entropy, transfers), so a
// reply's id names exactly one of them. The counter starts from the incarnation and the
// generation, so a restarted node never reuses an id of its previous run (a Forward with
// a reused id would be dropped as a duplicate).
//
// Thread-safety: none (owned by the node core's thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "common/clock.h"
#include "common/node_id.h"
#include "node/latencies.h"
#include "node/node_transport.h"

namespace qkv::node {

// Where the answer to a request goes: a local client, or the peer that forwarded it.
struct ReplyTo {
  std::optional<ClientId> client;
  NodeId peer;
  uint64_t peer_request_id = 0;
  uint64_t client_request_id = 0;
  // For the latency histograms (node/latencies.h): what the answer measures, set where the
  // node decides how to handle the request, and when the request reached this node.
  Measured measured = Measured::kNone;
  int64_t received_us = 0;
};

// Which part of the node owns a request.
enum class RequestKind { kPut, kGet, kForward };

class InFlight {
 public:
  // `incarnation` and `generation` seed the id counter (see the top of this file).
  InFlight(uint64_t incarnation, uint64_t generation);

  // A fresh request id (never 0: id 0 marks a message no round waits for).
  uint64_t next_id() { return next_id_++; }

  // Starts tracking request `id` until forget(id); its alarm rings at `alarm` (<= deadline).
  // REQUIRES: id not tracked.
  void track(uint64_t id, RequestKind kind, ReplyTo reply_to, TimePoint deadline, TimePoint alarm);
  // Moves the alarm of a tracked request. REQUIRES: id tracked.
  void rearm(uint64_t id, TimePoint alarm);
  // Stops tracking `id` (no-op if it is not tracked).
  void forget(uint64_t id);
  // `id`'s client has its answer; the request may stay tracked for the work after it (a
  // put's late stand-ins, a get's read repair) but no longer counts in client_requests().
  // No-op if untracked or marked already.
  void answered(uint64_t id);

  struct Entry {
    RequestKind kind;
    ReplyTo reply_to;
    TimePoint deadline;  // the client's deadline
    TimePoint alarm;     // when the owner is woken next
    bool answered = false;
  };
  // Null if `id` is not tracked (answered and forgotten, or never ours).
  const Entry* find(uint64_t id) const;

  // The next alarm that is due at `now`, removed from the alarm list (the request stays
  // tracked: the owner rearms or forgets it). Alarms ring in (time, id) order.
  std::optional<uint64_t> pop_due(TimePoint now);
  // The earliest alarm, if any: call Node::on_tick then.
  std::optional<TimePoint> next_alarm() const;
  std::size_t size() const { return entries_.size(); }
  // Tracked requests whose answer goes to a local client (not to a forwarding peer) and
  // that are not answered yet: what load shedding bounds (client_requests_in_flight_max).
  std::size_t client_requests() const { return client_requests_; }

 private:
  uint64_t next_id_;
  std::map<uint64_t, Entry> entries_;
  std::set<std::pair<TimePoint, uint64_t>> alarms_;
  std::size_t client_requests_ = 0;
};

}  // namespace qkv::node
