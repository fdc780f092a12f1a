#include "gossip/failure_detector.h"

#include <numbers>

#include "common/assert.h"

namespace qkv::gossip {

FailureDetector::FailureDetector(FailureDetectorConfig config) : config_(config) {
  QKV_ASSERT(config_.phi_convict > 0);
  QKV_ASSERT(config_.bootstrap_interval.count() > 0);
  QKV_ASSERT(config_.interval_max.count() > 0);
  QKV_ASSERT(config_.window_max >= 1);
}

void FailureDetector::heartbeat(const NodeId& id, TimePoint now) {
  auto [it, inserted] = peers_.try_emplace(id);
  Window& w = it->second;
  if (inserted) {
    // Seed the window with one bootstrap interval, as Cassandra's ArrivalWindow does
    // (fd_initial_value_ms): a mean learned from the first few arrivals alone, often
    // bunched (several gossip paths bring news at once), would be far too short and convict
    // a live peer after a second of silence. Erring high costs a slower first detection.
    w.last = now;
    w.intervals.push_back(config_.bootstrap_interval.count());
    w.sum = config_.bootstrap_interval.count();
    return;
  }
  if (now <= w.last) return;  // same arrival, or out of order: nothing to learn
  const int64_t interval = (now - w.last).count();
  w.last = now;
  if (interval > config_.interval_max.count()) return;  // an outage, not a cadence
  w.intervals.push_back(interval);
  w.sum += interval;
  if (w.intervals.size() > config_.window_max) {
    w.sum -= w.intervals.front();
    w.intervals.pop_front();
  }
}

double FailureDetector::mean_of(const Window& w) const {
  QKV_ASSERT(!w.intervals.empty());  // seeded at the first arrival
  return static_cast<double>(w.sum) / static_cast<double>(w.intervals.size());
}

double FailureDetector::phi(const NodeId& id, TimePoint now) const {
  auto it = peers_.find(id);
  if (it == peers_.end() || now <= it->second.last) return 0.0;
  const double silence = static_cast<double>((now - it->second.last).count());
  return silence / mean_of(it->second) * std::numbers::log10e;
}

double FailureDetector::mean_interval_ms(const NodeId& id) const {
  auto it = peers_.find(id);
  if (it == peers_.end()) return static_cast<double>(config_.bootstrap_interval.count());
  return mean_of(it->second);
}

std::size_t FailureDetector::window_size(const NodeId& id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? 0 : it->second.intervals.size();
}

}  // namespace qkv::gossip
