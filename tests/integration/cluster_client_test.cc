// The cluster client (client/cluster_client.h) against real qkvd processes: token-aware
// routing sends nothing through a forward hop, a killed node opens its breaker while the
// client keeps serving, resolvers collapse siblings, many threads share one client, and
// multi-get/put pipeline.
#include "client/cluster_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using client::ClusterClient;
using client::ClusterOptions;
using std::chrono::seconds;

uint64_t forwarded(const ProcessCluster& cluster, int size) {
  uint64_t total = 0;
  for (int i = 0; i < size; ++i) total += node_counter(cluster, i, "forwarded");
  return total;
}

TEST(ClusterClientProcessTest, TokenAwareRoutingSendsNoForwardOnAFiveNodeCluster) {
  ProcessCluster cluster(5);
  cluster.start_all();
  ClusterOptions options;
  options.nodes = {cluster.client_address(3)};  // one seed: the others come from its members
  ClusterClient client(options);
  ASSERT_TRUE(client.await_topology(10'000).is_ok());
  const uint64_t before = forwarded(cluster, 5);
  for (int i = 0; i < 200; ++i) {
    const std::string key = fmt::format("token-aware-{}", i);
    auto put = client.put(key, "v" + std::to_string(i));
    ASSERT_TRUE(put.is_ok()) << put.status().to_string();
    EXPECT_FALSE(put->context.empty());
    auto got = client.get(key);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    ASSERT_EQ(got->values, std::vector<std::string>{"v" + std::to_string(i)});
    ASSERT_EQ(got->siblings.size(), 1u);
  }
  EXPECT_EQ(forwarded(cluster, 5), before) << "a request went to a node that is not a primary";
  EXPECT_TRUE(client.stats().topology_known);

  // The node-list way (token_aware off) does pay the hop: the counter sees requests at all.
  options.token_aware = false;
  options.nodes = {cluster.client_address(0), cluster.client_address(1)};
  ClusterClient plain(options);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(plain.put(fmt::format("plain-{}", i), "v").is_ok());
  EXPECT_GT(forwarded(cluster, 5), before);
}

TEST(ClusterClientProcessTest, AKilledNodeOpensItsBreakerAndTheClientKeepsServing) {
  ProcessCluster cluster(5);
  cluster.start_all();
  ClusterOptions options;
  for (int i = 0; i < 5; ++i) options.nodes.push_back(cluster.client_address(i));
  options.breaker = client::BreakerOptions{2, 60'000};  // stays open for the whole test
  options.topology_refresh_ms = 60'000;  // the client does not learn the node is down
  options.timeout_ms = 3000;
  ClusterClient client(options);
  ASSERT_TRUE(client.await_topology(10'000).is_ok());
  cluster.kill9(2);
  int failed = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string key = fmt::format("breaker-{}", i);
    if (!client.put(key, "v").is_ok()) ++failed;
    auto got = client.get(key);
    if (!got.is_ok() || got->values != std::vector<std::string>{"v"}) ++failed;
  }
  EXPECT_EQ(failed, 0);
  const auto stats = client.stats();
  EXPECT_EQ(stats.breaker_opens, 1u) << "only the killed node's breaker opens";
  EXPECT_GT(stats.breaker_skips, 0u) << "requests for its keys skip it once open";
  // Connecting was refused: every attempt at it failed before sending, so only 2 attempts
  // (failures_max) went to the dead node before the breaker stopped them.
  EXPECT_LT(stats.retries, 10u);
}

TEST(ClusterClientProcessTest, AResolverCollapsesSiblingsAndWritesTheResultBack) {
  ProcessCluster cluster(3);
  cluster.start_all();
  ClusterOptions options;
  options.nodes = {cluster.client_address(0)};
  ClusterClient plain(options);
  ASSERT_TRUE(plain.put("cart", "apple\npear").is_ok());
  ASSERT_TRUE(plain.put("cart", "fig").is_ok());  // blind: a sibling
  auto both = plain.get("cart");
  ASSERT_TRUE(both.is_ok());
  ASSERT_EQ(both->values.size(), 2u);
  for (const auto& sibling : both->siblings) {
    EXPECT_GT(sibling.timestamp_ms, 0) << "the write's time, for last-writer-wins";
    EXPECT_FALSE(sibling.node.empty());
  }

  options.resolver = client::set_union();
  ClusterClient resolving(options);
  auto merged = resolving.get("cart");
  ASSERT_TRUE(merged.is_ok()) << merged.status().to_string();
  EXPECT_EQ(merged->values, std::vector<std::string>{"apple\nfig\npear"});
  EXPECT_EQ(resolving.stats().write_backs, 1u);
  auto after = plain.get("cart");  // written back: one value for every reader
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(after->values, std::vector<std::string>{"apple\nfig\npear"});
  EXPECT_EQ(after->context, merged->context);
}

TEST(ClusterClientProcessTest, ThreadsShareOneClientAndMultiGetPutPipeline) {
  ProcessCluster cluster(3);
  cluster.start_all();
  ClusterOptions options;
  options.nodes = {cluster.client_address(0), cluster.client_address(1)};
  ClusterClient client(options);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string key = fmt::format("thread-{}-{}", t, i);
        auto put = client.put(key, key);
        auto got = client.get(key);
        if (!put.is_ok() || !got.is_ok() || got->values != std::vector<std::string>{key}) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);

  std::vector<client::PutItem> items;
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back(fmt::format("many-{}", i));
    items.push_back({keys.back(), "value " + keys.back(), ""});
  }
  keys.push_back("many-missing");
  auto written = client.put_many(items);
  ASSERT_EQ(written.size(), 300u);
  for (const auto& w : written) EXPECT_TRUE(w.is_ok()) << w.status().to_string();
  auto got = client.get_many(keys);
  ASSERT_EQ(got.size(), 301u);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(got[i].is_ok());
    EXPECT_EQ(got[i]->values, std::vector<std::string>{"value " + keys[i]});
  }
  ASSERT_TRUE(got[300].is_ok());
  EXPECT_FALSE(got[300]->found());
}

TEST(ClusterClientProcessTest, LocalLimitsAndAnUnreachableClusterFailClearly) {
  ClusterOptions options;
  options.nodes = {"127.0.0.1:1"};  // nothing listens on port 1
  options.timeout_ms = 500;
  ClusterClient client(options);
  auto big = client.put("k", std::string(options.limits.value_bytes_max + 1, 'x'));
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("value_bytes_max"), std::string::npos);
  auto unreachable = client.get("k");
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable)
      << unreachable.status().to_string();
  EXPECT_NE(unreachable.status().message().find("127.0.0.1:1"), std::string::npos);
  EXPECT_EQ(client.await_topology(10).code(), StatusCode::kTimeout);
}

}  // namespace
}  // namespace qkv::testing
