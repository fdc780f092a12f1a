// Phi-accrual failure detector: conviction bounds derived from phi = t / mean * log10(e).
#include "gossip/failure_detector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <deque>
#include <numbers>
#include <random>

#include "tests/common/test_seed.h"

namespace qkv::gossip {
namespace {

TimePoint at(int64_t ms) {
  return TimePoint(Duration(ms));
}

// With an exponential model, phi reaches `threshold` after a silence of
// threshold * ln(10) mean intervals: 18.42 s for phi 8 and a 1 s mean.
double conviction_silence_ms(double threshold, double mean_ms) {
  return threshold * std::numbers::ln10 * mean_ms;
}

TEST(FailureDetectorTest, RegularHeartbeatsThenSilenceConvictsAtTheDerivedBound) {
  FailureDetector fd(FailureDetectorConfig{});
  int64_t t = 0;
  for (int i = 0; i < 100; ++i, t += 1000) fd.heartbeat("p", at(t));
  const int64_t last = t - 1000;
  ASSERT_DOUBLE_EQ(fd.mean_interval_ms("p"), 1000.0);

  const double bound = conviction_silence_ms(8, 1000);  // 18420.7 ms
  EXPECT_NEAR(bound, 18420.7, 0.1);
  // Just inside the bound: suspected but not convicted; just past it: convicted.
  EXPECT_TRUE(fd.is_up("p", at(last + 18'420)));
  EXPECT_FALSE(fd.is_up("p", at(last + 18'421)));
  EXPECT_LT(fd.phi("p", at(last + 18'420)), 8.0);
  EXPECT_GE(fd.phi("p", at(last + 18'421)), 8.0);
  // So within 20 s of silence, at the latest.
  EXPECT_FALSE(fd.is_up("p", at(last + 20'000)));
  // phi grows linearly with silence: one mean interval is log10(e).
  EXPECT_NEAR(fd.phi("p", at(last + 1000)), std::numbers::log10e, 1e-12);
  EXPECT_NEAR(fd.phi("p", at(last + 5000)), 5 * std::numbers::log10e, 1e-12);
}

TEST(FailureDetectorTest, ResumedHeartbeatsBringPhiBackAndKeepTheMean) {
  FailureDetector fd(FailureDetectorConfig{});
  int64_t t = 0;
  for (int i = 0; i < 50; ++i, t += 1000) fd.heartbeat("p", at(t));
  const int64_t last = t - 1000;
  ASSERT_FALSE(fd.is_up("p", at(last + 30'000)));

  fd.heartbeat("p", at(last + 30'000));  // back after 30 s
  EXPECT_EQ(fd.phi("p", at(last + 30'000)), 0.0);
  EXPECT_TRUE(fd.is_up("p", at(last + 30'000)));
  // The 30 s gap is above interval_max (10 s): not recorded, so the mean is still 1 s and
  // the next outage is caught as fast as the first.
  EXPECT_DOUBLE_EQ(fd.mean_interval_ms("p"), 1000.0);
  EXPECT_EQ(fd.window_size("p"), 50u);  // the seed and 49 intervals
  EXPECT_TRUE(fd.is_up("p", at(last + 30'000 + 18'420)));
  EXPECT_FALSE(fd.is_up("p", at(last + 30'000 + 18'421)));
}

TEST(FailureDetectorTest, IrregularArrivalsUseTheWindowMean) {
  FailureDetectorConfig config;
  config.window_max = 64;
  FailureDetector fd(config);
  std::mt19937_64 rng(testing::test_seed());
  std::deque<int64_t> window;  // the test's own model of the last 64 intervals
  int64_t t = 0;
  fd.heartbeat("p", at(t));
  for (int i = 0; i < 500; ++i) {
    const int64_t interval = 200 + static_cast<int64_t>(rng() % 2801);  // [200, 3000] ms
    t += interval;
    fd.heartbeat("p", at(t));
    window.push_back(interval);
    if (window.size() > 64) window.pop_front();
  }
  double sum = 0;
  for (int64_t v : window) sum += static_cast<double>(v);
  const double mean = sum / static_cast<double>(window.size());
  ASSERT_EQ(fd.window_size("p"), 64u);
  EXPECT_NEAR(fd.mean_interval_ms("p"), mean, 1e-9);

  const double bound = conviction_silence_ms(8, mean);
  const auto before = static_cast<int64_t>(std::floor(bound)) - 1;
  const auto after = static_cast<int64_t>(std::ceil(bound)) + 1;
  EXPECT_TRUE(fd.is_up("p", at(t + before)));
  EXPECT_FALSE(fd.is_up("p", at(t + after)));
  EXPECT_NEAR(fd.phi("p", at(t + 1234)), 1234 / mean * std::numbers::log10e, 1e-9);
}

TEST(FailureDetectorTest, WindowForgetsOldIntervals) {
  FailureDetectorConfig config;
  config.window_max = 10;
  FailureDetector fd(config);
  int64_t t = 0;
  for (int i = 0; i <= 100; ++i, t += 1000) fd.heartbeat("p", at(t));
  t -= 1000;
  for (int i = 0; i < 10; ++i) fd.heartbeat("p", at(t += 3000));
  EXPECT_EQ(fd.window_size("p"), 10u);
  EXPECT_DOUBLE_EQ(fd.mean_interval_ms("p"), 3000.0);
}

TEST(FailureDetectorTest, IntervalsAboveTheMaxAreNotRecorded) {
  FailureDetectorConfig config;
  config.interval_max = Duration(4000);
  FailureDetector fd(config);
  fd.heartbeat("p", at(0));
  fd.heartbeat("p", at(1000));
  fd.heartbeat("p", at(5000));         // 4000: at the max, recorded
  fd.heartbeat("p", at(9001));         // 4001: above, not recorded
  EXPECT_EQ(fd.window_size("p"), 3u);  // the 1000 ms seed, 1000, 4000
  EXPECT_DOUBLE_EQ(fd.mean_interval_ms("p"), 2000.0);
  // ...but the arrival still ends the silence.
  EXPECT_EQ(fd.phi("p", at(9001)), 0.0);
}

TEST(FailureDetectorTest, NeverHeardPeerHasNoSuspicion) {
  FailureDetector fd(FailureDetectorConfig{});
  EXPECT_FALSE(fd.knows("ghost"));
  EXPECT_EQ(fd.phi("ghost", at(1'000'000)), 0.0);
  EXPECT_TRUE(fd.is_up("ghost", at(1'000'000)));
  EXPECT_EQ(fd.window_size("ghost"), 0u);
}

TEST(FailureDetectorTest, PeerHeardOnceUsesTheBootstrapMean) {
  FailureDetectorConfig config;
  config.bootstrap_interval = Duration(500);
  FailureDetector fd(config);
  fd.heartbeat("p", at(10'000));
  EXPECT_TRUE(fd.knows("p"));
  EXPECT_EQ(fd.window_size("p"), 1u);  // the seed
  EXPECT_DOUBLE_EQ(fd.mean_interval_ms("p"), 500.0);
  EXPECT_NEAR(fd.phi("p", at(10'500)), std::numbers::log10e, 1e-12);
  // 8 * ln(10) * 500 = 9210.3 ms.
  EXPECT_TRUE(fd.is_up("p", at(10'000 + 9210)));
  EXPECT_FALSE(fd.is_up("p", at(10'000 + 9211)));
}

TEST(FailureDetectorTest, ABurstOfEarlyArrivalsDoesNotConvictAfterASecond) {
  // A node just learned of a peer hears of it by several gossip paths within milliseconds.
  // Without the seeded interval the mean would be ~13 ms and 1 s of silence would convict.
  FailureDetector fd(FailureDetectorConfig{});
  for (int64_t t : {0, 10, 20, 40}) fd.heartbeat("p", at(t));
  EXPECT_DOUBLE_EQ(fd.mean_interval_ms("p"), (1000.0 + 10 + 10 + 20) / 4);
  EXPECT_TRUE(fd.is_up("p", at(40 + 1500)));
  EXPECT_TRUE(fd.is_up("p", at(40 + 4700)));
  EXPECT_FALSE(fd.is_up("p", at(40 + 4800)));  // 8 ln(10) * 260 ms = 4789 ms
}

TEST(FailureDetectorTest, SameMillisecondIsOneArrivalAndTimeNeverGoesBack) {
  FailureDetector fd(FailureDetectorConfig{});
  fd.heartbeat("p", at(1000));
  fd.heartbeat("p", at(1000));         // a second message of the same exchange
  EXPECT_EQ(fd.window_size("p"), 1u);  // the seed only
  fd.heartbeat("p", at(2000));
  fd.heartbeat("p", at(1500));  // out of order: ignored
  EXPECT_EQ(fd.window_size("p"), 2u);
  EXPECT_DOUBLE_EQ(fd.mean_interval_ms("p"), 1000.0);
  EXPECT_EQ(fd.phi("p", at(1800)), 0.0);  // before the last arrival
  EXPECT_NEAR(fd.phi("p", at(3000)), std::numbers::log10e, 1e-12);
}

TEST(FailureDetectorTest, ForgetMakesAPeerNeverHeard) {
  FailureDetector fd(FailureDetectorConfig{});
  fd.heartbeat("p", at(0));
  fd.heartbeat("p", at(1000));
  fd.heartbeat("q", at(0));
  fd.forget("p");
  EXPECT_FALSE(fd.knows("p"));
  EXPECT_EQ(fd.phi("p", at(100'000)), 0.0);
  EXPECT_TRUE(fd.knows("q"));  // others untouched
  EXPECT_GT(fd.phi("q", at(100'000)), 8.0);
}

TEST(FailureDetectorTest, PeersAreIndependent) {
  FailureDetector fd(FailureDetectorConfig{});
  for (int64_t t = 0; t <= 10'000; t += 1000) fd.heartbeat("fast", at(t));
  for (int64_t t = 0; t <= 10'000; t += 2000) fd.heartbeat("slow", at(t));
  EXPECT_DOUBLE_EQ(fd.mean_interval_ms("fast"), 1000.0);
  // The 1000 ms seed and five 2000 ms intervals.
  EXPECT_DOUBLE_EQ(fd.mean_interval_ms("slow"), 11000.0 / 6);
  // After 25 s of silence the fast one (bound 18.4 s) is convicted, the slow one
  // (bound 33.8 s) is not.
  EXPECT_FALSE(fd.is_up("fast", at(35'000)));
  EXPECT_TRUE(fd.is_up("slow", at(35'000)));
}

}  // namespace
}  // namespace qkv::gossip
