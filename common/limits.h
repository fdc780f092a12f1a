// Limits on everything a request carries (design.md §4.5). Each is configurable in
// qkvd's config; these are the defaults. Units are in the names (bytes).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace qkv {

struct Limits {
  uint64_t key_bytes_max = 64 * 1024;           // 64 KiB
  uint64_t value_bytes_max = 16 * 1024 * 1024;  // 16 MiB
  uint64_t frame_bytes_max = 32 * 1024 * 1024;  // 32 MiB: one framed message on the wire
  uint64_t context_bytes_max = 64 * 1024;       // 64 KiB: an opaque causal context
  // Siblings of one key (values and tombstones). A coordinated write whose result holds
  // more than siblings_warn is counted and logged; one that would hold more than
  // siblings_max is refused (Riak's warn_siblings 25 / max_siblings 100). Siblings pile up
  // when clients write without the context of their read: the remedy is a read, then a
  // write of the resolved value with that read's context.
  uint32_t siblings_warn = 25;
  uint32_t siblings_max = 100;
  // Client gets, puts and deletes a node has taken and not yet finished (coordinated or
  // forwarded). Past it a new one is refused at once with overloaded, instead of queueing
  // into a timeout (load shedding; status, ring and admin requests are always answered).
  uint32_t client_requests_in_flight_max = 10'000;
  // Requests in flight on the node that no local client waits for any more: a put
  // answered at W < N stays in flight until its other replicas ack or are covered by a
  // stand-in (node/coordinator/put_round.h), and requests coordinated for forwarding peers.
  // Past the bound qkvd stops reading client connections until they are back under 3/4 of
  // it (TCP backpressure: clients wait, nothing is refused), so writes answered early
  // cannot pile unbounded replica work ahead of new requests (Riak's put FSMs likewise
  // count until every replica answered; at W=1 the bound halves p99:
  // docs/performance.md). Requests clients still wait for are bounded by shedding
  // (client_requests_in_flight_max) instead. 0: no bound.
  uint32_t in_flight_max = 64;
  // How long client connections stay paused by in_flight_max (ms). Past it they are read
  // again, and every get, put and delete read while the node is still over the bound is
  // refused at once with overloaded naming in_flight_max, so under sustained overload a
  // client hears within about this long instead of waiting in a socket buffer (Cassandra
  // likewise pauses native connections, or throws OverloadedException). Status, ring and
  // admin requests are answered throughout. 0: no bound (pause until drained). 20 ms is
  // longer than the pauses a saturating closed loop causes at W=1 (of ~4,400 pauses in a
  // run, under 10 lasted longer; ~800 lasted over 5 ms: docs/performance.md, Overload).
  uint32_t client_pause_ms_max = 20;
  // The same on one client connection (qkvd's Server): one pipelining client cannot take
  // the whole node's budget.
  uint32_t client_requests_per_connection_max = 1'000;
  // Key requests one client connection may send per second (a token bucket with a burst
  // of one second's worth); past it they are refused with overloaded. 0: no rate limit.
  uint32_t client_requests_per_second_max = 0;

  // Ok, or invalid_argument naming the limit ("key is 70000 bytes; key_bytes_max is 65536").
  Status check_key(uint64_t key_bytes) const;
  Status check_value(uint64_t value_bytes) const;
  Status check_context(uint64_t context_bytes) const;
  // Ok, or invalid_argument naming siblings_max when a write would leave `siblings` on the
  // key ("the key would hold 101 siblings; siblings_max is 100 ...").
  Status check_siblings(uint64_t siblings) const;
  // Ok, or overloaded naming client_requests_in_flight_max when `in_flight` requests are
  // already being served.
  Status check_client_requests_in_flight(uint64_t in_flight) const;
  // Ok, or invalid_argument if the limits are inconsistent (a maximal put must fit a frame).
  Status validate() const;
};

}  // namespace qkv
