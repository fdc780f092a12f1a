// The node core's counters and its part of the status answer (qkvctl status), and the
// ring answer (qkvctl ring).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "causal/version_vector.h"
#include "common/clock.h"
#include "node/node_config.h"
#include "proto/client_api.h"
#include "ring/ring.h"

namespace qkv::node {

class AntiEntropy;
class HeldRanges;
class OwnershipTransfer;

struct NodeCounters {
  uint64_t client_requests = 0;
  uint64_t invalid_requests = 0;
  uint64_t forwarded = 0;               // requests this node sent on to a primary
  uint64_t forward_failovers = 0;       // forwards retried at the next primary
  uint64_t forward_duplicates = 0;      // repeated Forward messages dropped
  uint64_t forwards_expired = 0;        // Forwards that arrived past their deadline, dropped
  uint64_t replica_writes_expired = 0;  // ReplicaWrites (hint deliveries too) past their
                                        // deadline, dropped unapplied (node/deadline.h)
  uint64_t replica_reads_expired = 0;   // ReplicaReads past their deadline, dropped
  uint64_t coordinated_gets = 0;
  uint64_t coordinated_puts = 0;  // deletes included
  uint64_t replica_reads = 0;
  uint64_t replica_writes = 0;
  uint64_t fallback_reads = 0;  // gets' reads from a fallback standing in for a primary
  uint64_t spare_reads = 0;     // gets' reads of a primary not asked at first (read_fanout quorum):
                             // one asked was down, failed or slow (Cassandra's speculative retry)
  uint64_t read_repairs = 0;       // replicas sent the merged state after a get found them stale
  uint64_t digest_reads = 0;       // replica reads answered with a digest, not the state
  uint64_t digest_mismatches = 0;  // gets' digest answers that matched no state received,
                                   // so the replica was read again for its state
  uint64_t hinted_writes = 0;      // writes sent to a fallback for a down or silent primary
  uint64_t coordinator_hints = 0;  // hints this coordinator kept itself: no fallback was left
  uint64_t unavailable = 0;        // clients of this node answered with unavailable
  uint64_t storage_errors = 0;
  uint64_t storage_commits = 0;       // storage writes (group commits); writes per commit =
  uint64_t storage_writes = 0;        // storage_writes / storage_commits
  uint64_t version_cache_hits = 0;    // writes applied without reading the stored state
  uint64_t version_cache_misses = 0;  // writes that read it (node/version_cache.h)
  uint64_t version_cache_fills = 0;   // states read from storage for reads, then cached
  uint64_t ranges_dropped = 0;        // key ranges deleted after a ring change took them away
  uint64_t siblings_warned = 0;       // coordinated writes that left more than siblings_warn
  uint64_t siblings_refused = 0;      // writes refused: they would pass siblings_max
  uint64_t overloaded = 0;  // client requests refused: client_requests_in_flight_max reached
  // Conditional writes (node/conditional_write.h) this node coordinated, and those of them
  // refused because their condition did not hold.
  uint64_t conditional_writes = 0;
  uint64_t preconditions_failed = 0;
  // Tombstone reaping (node/reaper.h).
  uint64_t tombstones_reaped = 0;   // keys this node removed: every primary held the tombstone
  uint64_t reap_checks = 0;         // tombstones this node asked the other primaries about
  uint64_t reaps_deferred = 0;      // checks that found a primary without the same tombstone,
                                    // or unanswered: tried again later
  uint64_t tombstones_pending = 0;  // gauge: tombstones queued here, waiting for their grace

  std::vector<std::pair<std::string, uint64_t>> to_list() const;
};

// What the status answer is made of; every reference outlives the call.
struct StatusInputs {
  const NodeConfig& config;
  const causal::Actor& actor;
  Duration uptime;
  const HeldRanges& held;
  const NodeCounters& counters;
  std::size_t in_flight;
  std::size_t client_requests_in_flight;  // of in_flight: answers due to local clients
  const AntiEntropy& anti_entropy;
  const OwnershipTransfer& transfer;
  std::vector<std::pair<std::string, uint64_t>> extra_counters;  // the driver's parts
};
proto::ClientResponse status_response(const StatusInputs& in);

// The ring's owners, or unavailable while the ring is not known (`ring` null).
proto::ClientResponse ring_response(const ring::Ring* ring, uint32_t n);

}  // namespace qkv::node
