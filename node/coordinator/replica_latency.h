// ReplicaLatency: each peer's recent replica-write latency, from which the put coordinator
// sets its stand-in alarm (node/coordinator/put_coordinator.h). A replica that has not
// acked within a small multiple of its own recent p99 is very likely partitioned, paused
// or dead, not merely slow, so a fallback is sent the write at once (Dynamo §4.6's sloppy
// quorum) instead of after half the request's deadline. The same idea as Cassandra's
// speculative retry, which re-sends a read after a replica's p99.
//
// Each peer keeps its last kWindow samples; the p99 is recomputed at most every
// kRecomputeEvery samples. Pure: no clock (latencies come in as durations).
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "common/node_id.h"

namespace qkv::coordinator {

class ReplicaLatency {
 public:
  static constexpr std::size_t kWindow = 128;
  static constexpr std::size_t kRecomputeEvery = 16;

  // One ack of `peer`, `latency` after the write was sent (ms, >= 0).
  void record(const NodeId& peer, Duration latency);
  // The 99th percentile of `peer`'s last kWindow samples; nullopt before its first.
  std::optional<Duration> p99(const NodeId& peer) const;

  // The stand-in alarm of a write to `replicas` (this node among them is skipped: it acks
  // at once): twice the largest p99 among them, within [floor, ceiling]. Replicas without
  // samples (new, or never acked) give `ceiling`: nothing says what is slow for them.
  // REQUIRES: floor <= ceiling.
  Duration stand_in_alarm(const NodeId& self, const std::vector<NodeId>& replicas, Duration floor,
                          Duration ceiling) const;

 private:
  struct Window {
    std::array<Duration, kWindow> samples{};
    std::size_t count = 0;  // samples held (at most kWindow)
    std::size_t next = 0;   // where the next one goes
    std::size_t since_recompute = 0;
    Duration p99{0};
  };
  std::map<NodeId, Window> peers_;
};

}  // namespace qkv::coordinator
