// The load generator's own arithmetic: the histogram's percentiles and the key choice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "bench/histogram.h"
#include "bench/key_chooser.h"
#include "tests/common/test_seed.h"

namespace qkv::bench {
namespace {

TEST(LatencyHistogramTest, BucketsCoverEveryValueWithinTheirPrecision) {
  std::mt19937_64 rng(testing::test_seed());
  for (int i = 0; i < 100'000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    const std::size_t b = LatencyHistogram::index_of(v);
    ASSERT_LT(b, LatencyHistogram::kBuckets);
    ASSERT_LE(LatencyHistogram::lowest_equivalent(b), v);
    ASSERT_GE(LatencyHistogram::highest_equivalent(b), v);
    // Relative width of a bucket: below 1/128 (0.8 %).
    const uint64_t width =
        LatencyHistogram::highest_equivalent(b) - LatencyHistogram::lowest_equivalent(b);
    ASSERT_LE(static_cast<double>(width), static_cast<double>(v) / 128.0) << v;
  }
  EXPECT_EQ(LatencyHistogram::index_of(UINT64_MAX), LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(LatencyHistogram::index_of(255), 255u);
  EXPECT_EQ(LatencyHistogram::lowest_equivalent(LatencyHistogram::index_of(256)), 256u);
}

TEST(LatencyHistogramTest, PercentilesMatchASortedSampleWithinOnePercent) {
  std::mt19937_64 rng(testing::test_seed());
  std::lognormal_distribution<double> latency(13.0, 1.0);  // ~ 0.5 ms median, long tail
  LatencyHistogram a, b;
  std::vector<uint64_t> sample;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<uint64_t>(latency(rng));
    sample.push_back(v);
    (i % 2 ? a : b).record(v);
  }
  a.merge(b);
  std::sort(sample.begin(), sample.end());
  ASSERT_EQ(a.count(), sample.size());
  EXPECT_EQ(a.min(), sample.front());
  EXPECT_EQ(a.max(), sample.back());
  for (double p : {50.0, 90.0, 99.0, 99.9, 100.0}) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sample.size())) - 1;
    const double exact = static_cast<double>(sample[rank]);
    const double got = static_cast<double>(a.percentile(p));
    EXPECT_GE(got, exact) << "p" << p << " never understates";
    EXPECT_LE(got, exact * 1.01) << "p" << p;
  }
  LatencyHistogram empty;
  EXPECT_EQ(empty.percentile(99), 0u);
  EXPECT_EQ(empty.min(), 0u);
}

TEST(KeyChooserTest, UniformAndZipfianStayInRangeAndZipfianIsSkewed) {
  const uint64_t n = 10'000;
  KeyChooser uniform(Distribution::kUniform, n, 1), zipfian(Distribution::kZipfian, n, 1);
  std::map<uint64_t, uint64_t> u, z;
  const int draws = 200'000;
  for (int i = 0; i < draws; ++i) {
    const uint64_t a = uniform.next(), b = zipfian.next();
    ASSERT_LT(a, n);
    ASSERT_LT(b, n);
    ++u[a];
    ++z[b];
  }
  auto top_share = [&](const std::map<uint64_t, uint64_t>& m) {
    std::vector<uint64_t> counts;
    for (const auto& [k, c] : m) counts.push_back(c);
    std::sort(counts.rbegin(), counts.rend());
    uint64_t top = 0;
    for (std::size_t i = 0; i < std::min<std::size_t>(100, counts.size()); ++i) top += counts[i];
    return static_cast<double>(top) / draws;
  };
  // The hottest 1 % of keys: ~1-2 % of uniform draws, well over a third of zipfian(0.99) ones.
  EXPECT_LT(top_share(u), 0.03);
  EXPECT_GT(top_share(z), 0.35);
  // Scrambled: the hottest key is not simply key 0.
  KeyChooser again(Distribution::kZipfian, n, 1);
  EXPECT_EQ(again.next(), KeyChooser(Distribution::kZipfian, n, 1).next()) << "deterministic";
}

TEST(KeyChooserTest, KeyNamesSortLikeTheirIndexes) {
  EXPECT_EQ(key_name(42), "user0000000042");
  EXPECT_LT(key_name(9), key_name(10));
}

}  // namespace
}  // namespace qkv::bench
