// Latency histograms (node/latencies.h) measured by the node core, and their Prometheus
// exposition (node/metrics.h): what an operator's dashboard and alerts read.
#include "node/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/http_api.h"
#include "node/node.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kOk = static_cast<std::size_t>(StatusCode::kOk);

// Every node's latency source: a fake microsecond clock that moves 100 us per read.
struct FakeMicros {
  int64_t us = 0;
  void install(TestCluster& cluster) {
    for (const auto& id : cluster.members()) {
      cluster.node(id).latencies().set_source([this] { return us += 100; });
    }
  }
};

uint64_t total(TestCluster& cluster, const std::function<uint64_t(const node::Latencies&)>& f) {
  uint64_t sum = 0;
  for (const auto& id : cluster.members()) sum += f(cluster.node(id).latencies());
  return sum;
}

TEST(LatencyHistogramTest, BucketsAreInclusiveUpperBoundsAndTheRestGoesToInf) {
  LatencyHistogram h;
  h.observe(100);         // le 100 us
  h.observe(101);         // le 250 us
  h.observe(-5);          // a clock that went back: 0
  h.observe(20'000'000);  // past 10 s: +Inf
  EXPECT_EQ(h.bucket(0), 2u);
  EXPECT_EQ(h.bucket(1), 1u);
  EXPECT_EQ(h.bucket(LatencyHistogram::kBoundsUs.size()), 1u);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.sum_us(), 100u + 101u + 20'000'000u);
}

TEST(LatencyHistogramTest, QuantilesInterpolateWithinTheBucket) {
  LatencyHistogram h;
  EXPECT_EQ(node::quantile_ms(h, 0.99), 0.0) << "empty";
  for (int i = 0; i < 100; ++i)
    h.observe(i < 90 ? 800 : 4'000);  // 90 in (500,1000], 10 in (2500,5000]
  EXPECT_NEAR(node::quantile_ms(h, 0.5), 0.5 + 0.5 * (50.0 / 90.0), 1e-9);
  EXPECT_NEAR(node::quantile_ms(h, 0.99), 2.5 + 2.5 * 0.9, 1e-9);
  h.observe(50'000'000);
  EXPECT_EQ(node::quantile_ms(h, 1.0), 10'000.0) << "past the last bound: that bound";
}

TEST(NodeLatenciesTest, ACoordinatedPutIsMeasuredOnceWithItsReplicaAcksAndCommits) {
  TestCluster cluster;
  FakeMicros micros;
  micros.install(cluster);
  ASSERT_TRUE(cluster.put("n1", "k", "v").status.is_ok());
  cluster.deliver();
  EXPECT_EQ(total(cluster, [](const auto& l) { return l.put()[kOk].count(); }), 1u)
      << "one coordinator measured it";
  EXPECT_EQ(total(cluster, [](const auto& l) { return l.get()[kOk].count(); }), 0u);
  EXPECT_GE(total(cluster, [](const auto& l) { return l.replica_write().count(); }), 2u)
      << "the two other replicas acked the coordinator";
  EXPECT_EQ(total(cluster, [](const auto& l) { return l.storage_commit().count(); }), 3u)
      << "each replica committed once";
  uint64_t sum = total(cluster, [](const auto& l) { return l.put()[kOk].sum_us(); });
  EXPECT_GT(sum, 0u) << "the put took fake time";
}

TEST(NodeLatenciesTest, AForwardedRequestIsMeasuredAsAForwardWhereItArrived) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  FakeMicros micros;
  micros.install(cluster);
  const std::string key = cluster.key_not_replicated_by("n1");
  ASSERT_TRUE(cluster.put("n2", key, "v").status.is_ok());
  const uint64_t gets_before = total(cluster, [](const auto& l) { return l.get()[kOk].count(); });
  ASSERT_TRUE(cluster.get("n1", key).status.is_ok());
  EXPECT_EQ(cluster.node("n1").latencies().forward().count(), 1u);
  EXPECT_EQ(cluster.node("n1").latencies().get()[kOk].count(), 0u);
  EXPECT_EQ(total(cluster, [](const auto& l) { return l.get()[kOk].count(); }), gets_before + 1)
      << "the primary that coordinated it";
}

TEST(NodeLatenciesTest, AFailedGetIsMeasuredUnderItsOutcome) {
  TestCluster cluster;
  FakeMicros micros;
  micros.install(cluster);
  cluster.set_blackholed("n2", true);
  cluster.set_blackholed("n3", true);
  const StatusCode code = cluster.get("n1", "k", 3).status.code();
  ASSERT_NE(code, StatusCode::kOk);
  EXPECT_EQ(cluster.node("n1").latencies().get()[static_cast<std::size_t>(code)].count(), 1u);
  EXPECT_EQ(cluster.node("n1").latencies().get()[kOk].count(), 0u);
}

TEST(NodeLatenciesTest, WithoutASourceNothingIsRecorded) {
  TestCluster cluster;
  ASSERT_TRUE(cluster.put("n1", "k", "v").status.is_ok());
  EXPECT_EQ(total(cluster, [](const auto& l) { return l.put()[kOk].count(); }), 0u);
}

TEST(MetricsTest, CountersGaugesAndHistogramsFollowPrometheusConventions) {
  proto::StatusResponse status;
  status.node_id = "n1";
  status.version = "0.1.0";
  status.uptime_ms = 5000;
  status.counters = {{"coordinated_puts", 7}, {"ring_version", 3}, {"in_flight", 2}};
  status.exchanges = {{0, 1'000}, {1, 0}};
  proto::MembersResponse members;
  members.members = {{"n1", "", "", "", "normal", true, 0, 1, 64, 0, 0},
                     {"n2", "", "", "", "normal", false, 9.5, 1, 64, 4, 4096}};
  node::Latencies latencies;
  int64_t us = 0;
  latencies.set_source([&] { return us; });
  latencies.on_answer(node::Measured::kPut, 0, StatusCode::kOk);  // 0 us
  us = 3'000;
  latencies.on_answer(node::Measured::kPut, 0, StatusCode::kUnavailable);  // 3 ms
  const std::string text = node::metrics_text(node::MetricsInputs{
      status, members, latencies, {{"memtable_bytes", 1024}}, {{"bg:n2", 300}}, 10'000});

  EXPECT_THAT(text, HasSubstr("# TYPE qkv_coordinated_puts_total counter\n"
                              "qkv_coordinated_puts_total 7\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE qkv_ring_version gauge\nqkv_ring_version 3\n"));
  EXPECT_THAT(text, HasSubstr("qkv_requests_in_flight 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("qkv_ring_version_total")));
  EXPECT_THAT(text, HasSubstr("qkv_members{state=\"up\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("qkv_members{state=\"down\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("qkv_member_phi{member=\"n2\"} 9.5\n"));
  EXPECT_THAT(text, HasSubstr("qkv_partitions_owned 64\n"));
  EXPECT_THAT(text, HasSubstr("qkv_hint_bytes_pending 4096\n"));
  EXPECT_THAT(text, HasSubstr("qkv_peer_send_queue_bytes{link=\"background\",peer=\"n2\"} 300\n"));
  EXPECT_THAT(text, HasSubstr("qkv_rocksdb_memtable_bytes 1024\n"));
  // Partition 0 last exchanged at 1 s, the oldest (partition 1, never exchanged, counts from
  // the start at 5 s): 9 s ago at 10 s.
  EXPECT_THAT(text, HasSubstr("qkv_aae_oldest_exchange_age_seconds 9\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE qkv_coordinated_put_duration_seconds histogram\n"));
  EXPECT_THAT(text,
              HasSubstr("qkv_coordinated_put_duration_seconds_count{outcome=\"unavailable\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("qkv_coordinated_put_duration_seconds_bucket{outcome=\"unavailable\","
                              "le=\"0.0025\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("qkv_coordinated_put_duration_seconds_bucket{outcome=\"unavailable\","
                              "le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("qkv_coordinated_put_duration_seconds_bucket{outcome=\"ok\","
                              "le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("qkv_coordinated_get_duration_seconds_count{outcome=\"ok\"} 0\n"))
      << "ok exists before the first request";
  EXPECT_THAT(text, Not(HasSubstr("outcome=\"timeout\""))) << "other outcomes once seen";
}

}  // namespace
}  // namespace qkv::testing
