// LatencyHistogram: a log-linear histogram of non-negative integer values (latencies in
// ns), in HdrHistogram's layout (Gil Tene): values below 2^kSubBits are counted exactly;
// above, each power-of-two range [2^e, 2^(e+1)) is cut into 2^(kSubBits-1) equal buckets,
// so a recorded value is known to within 1 / 2^(kSubBits-1) of itself (0.8 % with 8 bits)
// over the whole uint64 range, in a fixed 58 KiB of counters. No C HdrHistogram is packaged
// for Debian 12, and the part a load generator needs is this small.
//
// Percentiles report the highest value equivalent to the bucket holding the rank (as
// HdrHistogram does), so they never understate. record() is O(1) and allocation-free.
//
// Thread-safety: none; give each thread its own and merge() them.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace qkv::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 8;
  static constexpr uint64_t kExact = uint64_t{1} << kSubBits;  // values below: exact
  static constexpr uint64_t kHalf = kExact / 2;                // buckets per power of two
  static constexpr std::size_t kBuckets = kExact + (64 - kSubBits) * kHalf;

  void record(uint64_t value) {
    ++counts_[index_of(value)];
    ++total_;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }

  void merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }

  void reset() { *this = LatencyHistogram(); }

  uint64_t count() const { return total_; }
  uint64_t min() const { return total_ ? min_ : 0; }
  uint64_t max() const { return max_; }

  // The value at percentile p (0 < p <= 100): the highest value equivalent to the bucket
  // holding the ceil(p/100 * count)-th smallest recorded value, capped at max(). 0 if empty.
  uint64_t percentile(double p) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(highest_equivalent(i), max_);
    }
    return max_;
  }

  double mean() const {
    if (total_ == 0) return 0;
    long double sum = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      if (counts_[i]) sum += static_cast<long double>(counts_[i]) * lowest_equivalent(i);
    }
    return static_cast<double>(sum / static_cast<long double>(total_));
  }

  static std::size_t index_of(uint64_t v) {
    if (v < kExact) return static_cast<std::size_t>(v);
    const int shift = std::bit_width(v) - kSubBits;  // >= 1
    const uint64_t sub = (v >> shift) - kHalf;       // in [0, kHalf)
    return static_cast<std::size_t>(kExact + static_cast<uint64_t>(shift - 1) * kHalf + sub);
  }
  static uint64_t lowest_equivalent(std::size_t i) {
    if (i < kExact) return i;
    const uint64_t shift = (i - kExact) / kHalf + 1;
    const uint64_t sub = (i - kExact) % kHalf + kHalf;
    return sub << shift;
  }
  static uint64_t highest_equivalent(std::size_t i) {
    if (i < kExact) return i;
    const uint64_t shift = (i - kExact) / kHalf + 1;
    return lowest_equivalent(i) + ((uint64_t{1} << shift) - 1);
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace qkv::bench
