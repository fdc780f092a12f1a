#include "node/coordinator/replica_latency.h"

#include <algorithm>

namespace qkv::coordinator {

void ReplicaLatency::record(const NodeId& peer, Duration latency) {
  Window& w = peers_[peer];
  w.samples[w.next] = std::max(Duration(0), latency);
  w.next = (w.next + 1) % kWindow;
  w.count = std::min(w.count + 1, kWindow);
  // The first samples set the figure at once; later ones in steps (sorting is not free).
  if (++w.since_recompute < kRecomputeEvery && w.count > kRecomputeEvery) return;
  w.since_recompute = 0;
  std::array<Duration, kWindow> sorted = w.samples;
  const auto end = sorted.begin() + static_cast<std::ptrdiff_t>(w.count);
  // The sample below which 99% fall (nearest rank): with 128 samples, the second largest.
  const std::size_t rank = (w.count * 99 + 99) / 100 - 1;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank), end);
  w.p99 = sorted[rank];
}

std::optional<Duration> ReplicaLatency::p99(const NodeId& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  return it->second.p99;
}

Duration ReplicaLatency::stand_in_alarm(const NodeId& self, const std::vector<NodeId>& replicas,
                                        Duration floor, Duration ceiling) const {
  Duration slowest{0};
  for (const NodeId& replica : replicas) {
    if (replica == self) continue;
    auto p = p99(replica);
    if (!p) return ceiling;
    slowest = std::max(slowest, *p);
  }
  return std::clamp(2 * slowest, floor, ceiling);
}

}  // namespace qkv::coordinator
