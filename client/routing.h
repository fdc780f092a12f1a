// Routing for the cluster client (client/cluster_client.h), sans-I/O so that it is unit-tested
// with a ManualClock: which nodes a key's request goes to, in what order (Topology), and
// which nodes may be tried now (CircuitBreaker).
//
// Token-aware routing (as Cassandra's TokenAwarePolicy, Riak's clients' vnode routing): the
// client hashes the key onto the ring it fetched from a node (ring/token.h: the same XXH3
// token the nodes compute) and sends the request to one of the key's primaries, which
// coordinates it itself: no forward hop. The other members follow, so a request still finds
// a node when every primary fails (any node accepts any request and forwards it).
//
// Thread-safety: none; the cluster client uses them on its io_context's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/node_id.h"
#include "common/status.h"
#include "proto/client_api.h"
#include "ring/ring.h"

namespace qkv::client {

struct BreakerOptions {
  // Consecutive failures (no answer: connect failed, connection broke, no answer in time)
  // that open the breaker; >= 1. An error answer (quorum not met, invalid argument) is an
  // answer: the node works.
  uint32_t failures_max = 3;
  uint32_t cooldown_ms = 1000;  // open -> half-open after this long
};

// One node's circuit breaker (Nygard, "Release It!", ch. 5): closed until failures_max
// consecutive failures, then open: no request goes to the node for cooldown_ms; then
// half-open: one request at a time probes it. The probe's success closes the breaker, its
// failure opens it for another cooldown_ms.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  explicit CircuitBreaker(BreakerOptions options = {}) : options_(options) {}

  // The state at `now` (open turns half-open once the cool-down has passed).
  State state(TimePoint now) const;
  // Whether a request may go to the node at `now`; in half-open, true for one probe at a time
  // (the caller must then report its outcome).
  bool allow(TimePoint now);
  void on_success();
  void on_failure(TimePoint now);
  // How often it opened (for ClusterStats).
  uint64_t opened() const { return opened_; }

 private:
  BreakerOptions options_;
  uint32_t failures_ = 0;  // consecutive
  bool open_ = false;
  TimePoint open_until_{};
  bool probing_ = false;  // half-open: the probe is out
  uint64_t opened_ = 0;
};

// The ring and the members' client addresses as one node reported them.
class Topology {
 public:
  Topology() = default;
  // Members without a client address (not yet gossiped) or removed are left out; ring owners
  // without an address are skipped, so their keys go to the other nodes. Errors, corruption:
  // a ring a node could not have (no partitions, a count that is not a power of two or over
  // ring::kPartitionCountMax, an owner with no name).
  static Result<Topology> make(const proto::RingResponse& ring,
                               const proto::MembersResponse& members);

  bool known() const { return ring_.has_value(); }
  uint32_t n() const { return n_; }
  // Every member's client address, in member order.
  std::vector<std::string> addresses() const;
  // The client address of `node`; empty when unknown.
  const std::string& address_of(const NodeId& node) const;

  // Where `key`'s request goes, in order: its primaries in preference-list order (those the
  // reporting node believed up first), then every other member (up ones first). Empty
  // without a ring.
  std::vector<std::string> route(std::string_view key) const;

 private:
  std::optional<ring::Ring> ring_;
  uint32_t n_ = 0;
  std::vector<proto::MemberInfo> members_;
};

}  // namespace qkv::client
