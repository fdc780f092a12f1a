#include "node/coordinator/replica_latency.h"

#include <gtest/gtest.h>

namespace qkv::coordinator {
namespace {

TEST(ReplicaLatencyTest, P99IsTheSecondLargestOfAFullWindowAndFollowsRecentSamples) {
  ReplicaLatency latency;
  EXPECT_FALSE(latency.p99("n2").has_value()) << "no samples yet";
  latency.record("n2", Duration(7));
  EXPECT_EQ(latency.p99("n2"), Duration(7)) << "the first sample counts at once";
  for (int i = 0; i < 126; ++i) latency.record("n2", Duration(2));
  latency.record("n2", Duration(40));  // 128 samples: 7, 126 x 2, 40
  EXPECT_EQ(latency.p99("n2"), Duration(7)) << "one outlier in 128 is past the p99";
  // A window of slow acks replaces the old figures.
  for (std::size_t i = 0; i < ReplicaLatency::kWindow; ++i) latency.record("n2", Duration(30));
  EXPECT_EQ(latency.p99("n2"), Duration(30));
  EXPECT_FALSE(latency.p99("n3").has_value()) << "per peer";
}

TEST(ReplicaLatencyTest, TheStandInAlarmIsTwiceTheSlowestP99WithinItsBounds) {
  ReplicaLatency latency;
  const Duration floor(50), ceiling(1000);
  const std::vector<NodeId> replicas = {"n1", "n2", "n3"};
  EXPECT_EQ(latency.stand_in_alarm("n1", replicas, floor, ceiling), ceiling)
      << "replicas never heard from: nothing says what is slow";
  latency.record("n2", Duration(10));
  EXPECT_EQ(latency.stand_in_alarm("n1", replicas, floor, ceiling), ceiling) << "n3 unknown";
  latency.record("n3", Duration(80));
  EXPECT_EQ(latency.stand_in_alarm("n1", replicas, floor, ceiling), Duration(160));
  EXPECT_EQ(latency.stand_in_alarm("n1", {"n1", "n2"}, floor, ceiling), floor)
      << "2 x 10 ms is below the floor; the coordinator itself is skipped";
  latency.record("n3", Duration(900));
  latency.record("n3", Duration(900));
  EXPECT_EQ(latency.stand_in_alarm("n1", replicas, floor, ceiling), ceiling);
}

}  // namespace
}  // namespace qkv::coordinator
