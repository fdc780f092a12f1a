// The HTTP operations port of real qkvd processes, read as Prometheus and Kubernetes read
// it: /metrics passes `promtool check metrics` and moves with a put; the health endpoints
// answer what a probe needs (liveness never depends on peers; the rollout gate waits for
// hints); the JSON API sees a killed member go down.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/common/http_get.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;

// The value of the first sample of `metric` (name and labels exactly as written), summed
// over nodes 0..size-1; samples are integers here.
double metric_sum(const ProcessCluster& cluster, int size, const std::string& metric) {
  double sum = 0;
  for (int i = 0; i < size; ++i) {
    auto reply = http_request(cluster.http_address(i), "/metrics");
    if (!reply) continue;
    const auto at = reply->body.find("\n" + metric + " ");
    if (at == std::string::npos) continue;
    sum += std::stod(reply->body.substr(at + metric.size() + 2));
  }
  return sum;
}

TEST(HttpProcessTest, MetricsPassPromtoolAndAPutMovesTheCounterAndTheHistogram) {
  ProcessCluster cluster(3);
  cluster.start_all();
  auto reply = http_request(cluster.http_address(0), "/metrics");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
  EXPECT_THAT(reply->content_type, HasSubstr("text/plain; version=0.0.4"));
  const std::string file = cluster.dir() + "/metrics.txt";
  std::ofstream(file) << reply->body;
  RunResult check = run_program("/bin/sh", {"-c", "promtool check metrics < " + file});
  EXPECT_EQ(check.exit_code, 0) << "promtool (Debian package prometheus) says: " << check.output;

  const std::string puts = "qkv_coordinated_puts_total";
  const std::string put_ok = "qkv_coordinated_put_duration_seconds_count{outcome=\"ok\"}";
  const double puts_before = metric_sum(cluster, 3, puts);
  const double hist_before = metric_sum(cluster, 3, put_ok);
  ASSERT_TRUE(cluster.client_of(0).put("metrics-key", "v").is_ok());
  EXPECT_EQ(metric_sum(cluster, 3, puts), puts_before + 1);
  EXPECT_EQ(metric_sum(cluster, 3, put_ok), hist_before + 1)
      << "the coordinator measured it in its histogram";
  EXPECT_GE(metric_sum(cluster, 3, "qkv_storage_commit_duration_seconds_count"), 3)
      << "three replicas committed it";
}

TEST(HttpProcessTest, HealthAndApiFollowAKilledMemberAndTheGateWaitsForItsHints) {
  ProcessCluster cluster(3);
  cluster.start_all();
  for (const char* path : {"/health/live", "/health/startup", "/health/ready"}) {
    auto reply = http_request(cluster.http_address(0), path);
    ASSERT_TRUE(reply) << path;
    EXPECT_EQ(reply->status, 200u) << path << ": " << reply->body;
    EXPECT_EQ(nlohmann::json::parse(reply->body)["status"], "ok");
  }
  auto members = [&] {
    auto reply = http_request(cluster.http_address(0), "/api/v1/members");
    return reply ? nlohmann::json::parse(reply->body) : nlohmann::json();
  };
  ASSERT_TRUE(wait_for([&] { return members()["members"].size() == 3; }, std::chrono::seconds(10)))
      << members().dump();

  cluster.kill9(2);
  EXPECT_TRUE(wait_for(
      [&] {
        const nlohmann::json view = members();
        for (const auto& m : view["members"]) {
          if (m["id"] == "n3") return m["up"] == false;
        }
        return false;
      },
      std::chrono::seconds(10)))
      << "n3 shows down within 10 s of kill -9: " << members().dump();
  auto live = http_request(cluster.http_address(0), "/health/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200u) << "liveness never depends on peers";
  auto ready = http_request(cluster.http_address(0), "/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200u) << "n1 still serves: " << ready->body;

  // A write while n3 is down leaves a hint for it: the rollout gate is not settled.
  ASSERT_TRUE(cluster.client_of(0).put("hinted-key", "v").is_ok());
  bool gated = wait_for(
      [&] {
        for (int i = 0; i < 2; ++i) {
          auto settled = http_request(cluster.http_address(i), "/health/ready?settled=1");
          if (settled && settled->status == 503 &&
              settled->body.find("wait for delivery to n3") != std::string::npos) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(5));
  EXPECT_TRUE(gated) << "a node holding hints for n3 is not settled";
  cluster.start(2);
  EXPECT_TRUE(wait_for(
      [&] {
        for (int i = 0; i < 3; ++i) {
          auto settled = http_request(cluster.http_address(i), "/health/ready?settled=1");
          if (!settled || settled->status != 200) return false;
        }
        return true;
      },
      std::chrono::seconds(15)))
      << "hints delivered once n3 is back: every node settled";

  auto missing = http_request(cluster.http_address(0), "/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404u);
  EXPECT_THAT(missing->body, HasSubstr("/metrics"));
}

}  // namespace
}  // namespace qkv::testing
