// LatencyHistogram: counts of latencies in fixed buckets, as a Prometheus histogram
// exposes them (cumulative buckets `le`, a sum and a count: see node/metrics.h). The bucket
// bounds are fixed for every histogram of qkv, so scrapes of any node and any version
// aggregate: 100 us to 10 s, about 2.5x apart, then +Inf.
//
// Units: microseconds in, microseconds out. Memory: 17 counters and a sum, no allocation.
// Thread-safety: none (the node core's thread).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace qkv {

class LatencyHistogram {
 public:
  // Upper bounds (us, inclusive) of the finite buckets; a last bucket holds the rest.
  static constexpr std::array<uint64_t, 16> kBoundsUs{
      100,    250,     500,     1'000,   2'500,     5'000,     10'000,    25'000,
      50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

  // One sample; a negative latency (a clock that went back) counts as 0.
  void observe(int64_t latency_us) {
    const uint64_t us = latency_us > 0 ? static_cast<uint64_t>(latency_us) : 0;
    const auto* bound = std::lower_bound(kBoundsUs.begin(), kBoundsUs.end(), us);
    ++counts_[static_cast<std::size_t>(bound - kBoundsUs.begin())];
    sum_us_ += us;
    ++count_;
  }

  // Adds `other`'s samples to this one's.
  void merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    sum_us_ += other.sum_us_;
    count_ += other.count_;
  }

  // Samples in bucket i alone (not cumulative); i == kBoundsUs.size() is the +Inf bucket.
  uint64_t bucket(std::size_t i) const { return counts_[i]; }
  uint64_t count() const { return count_; }
  uint64_t sum_us() const { return sum_us_; }

 private:
  std::array<uint64_t, kBoundsUs.size() + 1> counts_{};
  uint64_t sum_us_ = 0;
  uint64_t count_ = 0;
};

}  // namespace qkv
