// Phi-accrual failure detection (Hayashibara, Défago, Yared, Katayama, "The φ Accrual
// Failure Detector", 2004), in Cassandra's variant: inter-arrival times are modelled as
// exponentially distributed, so
//
//   phi(now) = -log10(P(no heartbeat for t)) = t / mean * log10(e),   t = now - last arrival
//
// where mean is the mean of the recent inter-arrival intervals. A peer is convicted
// (is_up == false) when phi >= phi_convict; with the default 8, that is after a silence of
// 8 * ln(10) = 18.42 mean intervals (18.4 s at a regular 1 s cadence).
//
// Choices, documented because callers depend on them:
// - A never-heard peer has phi 0 and is_up() == true: the detector has no evidence against
//   it. Whether the peer exists at all is membership's question (GossipCore::is_up answers
//   false for an unknown id).
// - The first arrival from a peer seeds its window with one interval of
//   bootstrap_interval (GossipCore uses twice the gossip interval), as Cassandra seeds its
//   ArrivalWindow with fd_initial_value_ms: a peer heard once has that mean, and a few
//   early arrivals bunched together (news arriving by several gossip paths at once) cannot
//   pull the mean down to milliseconds and convict a live peer after a second of silence.
//   The seed ages out of the window like any interval.
// - Intervals longer than interval_max are not recorded (the arrival still resets the
//   silence): a peer back from a crash or partition must not drag the mean up and slow
//   every later detection. Cassandra does the same with its max interval.
// - Arrivals at the same millisecond as the previous one are one arrival (several
//   messages of one exchange can carry the same news); a time before the last arrival is
//   ignored. Intervals are whole milliseconds, so the mean is never below 1 ms.
// - Each peer keeps at most window_max intervals (oldest dropped): memory is
//   O(peers * window_max) of 8-byte entries.
//
// Sans-I/O: time comes in as `now`; no clock reads. Units: ms. Thread-safety: none
// (one owner thread, like every core).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>

#include "common/clock.h"
#include "common/node_id.h"

namespace qkv::gossip {

struct FailureDetectorConfig {
  double phi_convict = 8.0;           // REQUIRES: > 0
  Duration bootstrap_interval{1000};  // the interval seeding each peer's window; > 0
  Duration interval_max{10'000};      // longer intervals are not recorded; > 0
  std::size_t window_max = 1000;      // intervals kept per peer; >= 1
};

class FailureDetector {
 public:
  // REQUIRES: the config's stated ranges (asserted).
  explicit FailureDetector(FailureDetectorConfig config);

  // Records a heartbeat arrival from `id` at `now` (for gossip: a newer version of its state).
  void heartbeat(const NodeId& id, TimePoint now);

  // The suspicion level of `id` at `now` (>= 0); 0 for a never-heard peer or if now is
  // before the last arrival.
  double phi(const NodeId& id, TimePoint now) const;

  // phi(id, now) < phi_convict.
  bool is_up(const NodeId& id, TimePoint now) const { return phi(id, now) < config_.phi_convict; }

  // Drops everything known about `id` (it becomes never-heard).
  void forget(const NodeId& id) { peers_.erase(id); }

  // True if `id` was heard at least once (and not forgotten).
  bool knows(const NodeId& id) const { return peers_.contains(id); }

  // The mean interval phi uses for `id`, in ms (bootstrap_interval if none is recorded).
  double mean_interval_ms(const NodeId& id) const;

  // Intervals in `id`'s window, the seed included (0 if never heard); at most window_max.
  std::size_t window_size(const NodeId& id) const;

  const FailureDetectorConfig& config() const { return config_; }

 private:
  struct Window {
    TimePoint last;
    std::deque<int64_t> intervals;  // ms, each in [1, interval_max]
    int64_t sum = 0;                // of intervals
  };

  double mean_of(const Window& w) const;

  FailureDetectorConfig config_;
  std::map<NodeId, Window> peers_;
};

}  // namespace qkv::gossip
