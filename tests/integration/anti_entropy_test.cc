// Active anti-entropy with real qkvd processes: with hinted handoff off and no client
// reads, Merkle-tree exchanges bring a replica that missed writes up to date.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using std::chrono::seconds;

uint64_t aae_bytes_sent(const ProcessCluster& cluster) {
  uint64_t total = 0;
  for (int i = 0; i < 3; ++i) total += node_counter(cluster, i, "aae_bytes_sent");
  return total;
}

TEST(AntiEntropyTest, ExchangesBringEveryMissedKeyToARestartedReplicaWithoutReads) {
  // Short exchange intervals so that the periodic exchanges do the work within the test.
  ProcessCluster cluster(3, {"--no-hinted-handoff", "--aae-exchange-interval-ms", "2000"});
  cluster.start_all();
  cluster.kill9(2);  // n3 misses every write below
  auto n1 = cluster.client_of(0);
  std::set<std::string> keys;
  for (int i = 0; i < 10'000; ++i) {
    std::string key = fmt::format("aae-{}", i);
    ASSERT_TRUE(n1.put(key, fmt::format("value-{}", i), "", {2, 0}).is_ok()) << key;
    keys.insert(key);
  }
  cluster.start(2);
  auto started = std::chrono::steady_clock::now();
  std::set<std::string> missing = keys;
  bool repaired = wait_for(
      [&] {
        missing = cluster.missing_on(2, missing);
        return missing.empty();
      },
      seconds(60));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  EXPECT_TRUE(repaired) << missing.size() << " of 10,000 keys still missing on n3 after 60 s";
  std::printf("anti-entropy: 10,000 missed keys repaired on n3 in %lld ms; %llu bytes sent\n",
              static_cast<long long>(took.count()),
              static_cast<unsigned long long>(aae_bytes_sent(cluster)));
  EXPECT_GT(node_counter(cluster, 0, "aae_keys_repaired") +
                node_counter(cluster, 1, "aae_keys_repaired") +
                node_counter(cluster, 2, "aae_keys_repaired"),
            0u);
}

TEST(AntiEntropyTest, RepairingUnderOnePercentOfKeysSendsUnderTenPercentOfTheData) {
  // Periodic exchanges rare: only the requested repair runs.
  ProcessCluster cluster(3, {"--no-hinted-handoff", "--aae-exchange-interval-ms", "3600000"});
  cluster.start_all();
  auto n1 = cluster.client_of(0);
  const std::string value(1000, 'v');
  constexpr int kKeys = 10'000, kMissed = 50;  // 0.5 % differ
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(n1.put(fmt::format("k-{}", i), value, "", {3, 0}).is_ok());
  }
  cluster.kill9(2);
  std::set<std::string> missed;
  for (int i = 0; i < kMissed; ++i) {
    std::string key = fmt::format("missed-{}", i);
    ASSERT_TRUE(n1.put(key, value, "", {2, 0}).is_ok());
    missed.insert(key);
  }
  cluster.start(2);
  // Trees are built at start; then a repair from n3 compares every partition.
  uint64_t bytes_before = aae_bytes_sent(cluster);
  auto n3 = cluster.client_of(2);
  auto accepted = n3.repair(0, std::nullopt);
  ASSERT_TRUE(accepted.is_ok()) << accepted.status().to_string();
  EXPECT_EQ(accepted->partitions, 64u) << "n3 replicates every partition of a 3-node ring";
  proto::RepairProgress progress;
  ASSERT_TRUE(wait_for(
      [&] {
        auto status = n3.node_status(0);
        if (!status.is_ok()) return false;
        progress = status->repair;
        return !progress.running;
      },
      seconds(60)));
  EXPECT_EQ(progress.partitions_done, 64u);
  EXPECT_EQ(progress.partitions_failed, 0u) << progress.last_error;
  EXPECT_TRUE(cluster.missing_on(2, missed).empty());
  uint64_t bytes = aae_bytes_sent(cluster) - bytes_before;
  const uint64_t all_keys = (kKeys + kMissed) * (value.size() + 8);
  std::printf(
      "anti-entropy: repair of %d of %d keys: %llu bytes sent by all nodes, %.2f %% of "
      "the %llu bytes of all keys\n",
      kMissed, kKeys + kMissed, static_cast<unsigned long long>(bytes),
      100.0 * static_cast<double>(bytes) / static_cast<double>(all_keys),
      static_cast<unsigned long long>(all_keys));
  EXPECT_LT(bytes, all_keys / 10);
}

TEST(AntiEntropyTest, TreesSurviveACleanRestartAndAreRebuiltAfterACrash) {
  ProcessCluster cluster(3, {"--aae-exchange-interval-ms", "3600000"});
  cluster.start_all();
  auto n1 = cluster.client_of(0);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(n1.put(fmt::format("t-{}", i), "v").is_ok());
  // 64 partitions, all replicated by each of 3 nodes: 64 trees built by scans.
  ASSERT_TRUE(
      wait_for([&] { return node_counter(cluster, 0, "aae_tree_builds") == 64; }, seconds(20)));

  ASSERT_EQ(cluster.terminate(0), 0);
  cluster.start(0);
  auto repaired = [&] {
    auto accepted = cluster.client_of(0).repair(0, std::nullopt);
    EXPECT_TRUE(accepted.is_ok()) << accepted.status().to_string();
    proto::RepairProgress progress;
    EXPECT_TRUE(wait_for(
        [&] {
          auto status = cluster.client_of(0).node_status(0);
          if (status.is_ok()) progress = status->repair;
          return status.is_ok() && !progress.running;
        },
        seconds(30)));
    return progress;
  };
  proto::RepairProgress after_clean = repaired();
  EXPECT_EQ(after_clean.partitions_failed, 0u) << after_clean.last_error;
  EXPECT_EQ(after_clean.keys_repaired, 0u) << "the saved trees match the data";
  EXPECT_EQ(node_counter(cluster, 0, "aae_tree_builds"), 0u) << "a clean stop's trees are loaded";

  cluster.kill9(0);
  cluster.start(0);
  EXPECT_TRUE(
      wait_for([&] { return node_counter(cluster, 0, "aae_tree_builds") == 64; }, seconds(20)))
      << "after a crash every tree is rebuilt by a scan";
  EXPECT_EQ(repaired().keys_repaired, 0u);
}

}  // namespace
}  // namespace qkv::testing
