// Active anti-entropy in the node core: trees kept current by the write path, exchanges
// that repair divergence both ways, repairs on demand.
#include "node/anti_entropy.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/entry_version.h"
#include "node/wire/replica_codec.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::UnorderedElementsAre;

TestCluster::Options without_handoff() {
  TestCluster::Options o;
  o.hinted_handoff = false;  // only anti-entropy can bring a missed write to a replica
  o.anti_entropy.segments = 64;
  return o;
}

// Ticks until every node's trees are built (one partition per tick).
void build_trees(TestCluster& cluster) {
  for (int i = 0; i < 1000; ++i) {
    bool built = true;
    for (const char* id : {"n1", "n2", "n3"}) {
      built = built && cluster.node(id).anti_entropy().all_built();
    }
    if (built) return;
    cluster.advance(Duration(10));
  }
  FAIL() << "trees not built after 1,000 ticks";
}

// Runs a repair from `node` to its end (bounded by simulated time).
const proto::RepairProgress& repair(TestCluster& cluster, const NodeId& node) {
  node::AntiEntropy& aae = cluster.node(node).anti_entropy();
  EXPECT_GT(aae.start_repair(std::nullopt), 0u);
  for (int i = 0; i < 10'000 && aae.repair_progress().running; ++i) cluster.advance(Duration(10));
  EXPECT_FALSE(aae.repair_progress().running) << "the repair did not end";
  return aae.repair_progress();
}

std::optional<causal::SiblingSet> stored(TestCluster& cluster, const NodeId& node,
                                         const std::string& key) {
  auto bytes = cluster.storage(node).get(ring::token_of(key), key);
  if (!bytes.is_ok() || !bytes.value()) return std::nullopt;
  return node::decode_sibling_set(*bytes.value()).value();
}

// The tree a scan of the node's storage builds now.
antientropy::MerkleTree scanned(TestCluster& cluster, const NodeId& node, uint32_t partition,
                                uint32_t segments) {
  const ring::Ring& ring = cluster.ring();
  antientropy::MerkleTree tree(ring.first_token(partition), ring.last_token(partition), segments);
  Status s = cluster.storage(node).scan(
      tree.first(), tree.last(), [&](ring::Token token, std::string_view key, std::string_view v) {
        tree.insert(token, node::entry_hash(key, node::decode_sibling_set(v).value()));
        return true;
      });
  EXPECT_TRUE(s.is_ok());
  return tree;
}

TEST(AntiEntropyTest, TreesKeptByTheWritePathEqualTreesBuiltByAScan) {
  TestCluster cluster(without_handoff());
  build_trees(cluster);
  // Puts, overwrites with and without context (siblings), deletes, through every node.
  std::string context;
  for (int i = 0; i < 300; ++i) {
    std::string key = fmt::format("k{}", i % 70);
    NodeId via = fmt::format("n{}", 1 + i % 3);
    if (i % 11 == 0) {
      ASSERT_TRUE(cluster.del(via, key, context).status.is_ok());
    } else {
      auto put = cluster.put(via, key, fmt::format("v{}", i), i % 2 ? context : "");
      ASSERT_TRUE(put.status.is_ok());
      context = std::get<proto::PutResponse>(put.body).context;
    }
  }
  cluster.advance(Duration(100));
  for (const char* id : {"n1", "n2", "n3"}) {
    const node::AntiEntropy& aae = cluster.node(id).anti_entropy();
    for (uint32_t p = 0; p < cluster.ring().partition_count(); ++p) {
      const antientropy::MerkleTree* kept = aae.tree(p);
      ASSERT_NE(kept, nullptr) << id << " has no tree of partition " << p;
      EXPECT_TRUE(*kept == scanned(cluster, id, p, 64)) << id << " partition " << p;
    }
  }
}

TEST(AntiEntropyTest, ARepairBringsEveryMissedWriteToTheReplicaThatWasDown) {
  TestCluster cluster(without_handoff());
  build_trees(cluster);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(cluster.put("n1", fmt::format("before{}", i), "old").status.is_ok());
  }
  cluster.set_down("n3", true);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        cluster.put("n1", fmt::format("missed{}", i), fmt::format("v{}", i)).status.is_ok());
  }
  cluster.set_down("n3", false);
  ASSERT_FALSE(stored(cluster, "n3", "missed0").has_value()) << "no handoff, no read repair";

  const proto::RepairProgress& progress = repair(cluster, "n3");
  EXPECT_EQ(progress.partitions_done, progress.partitions_total);
  EXPECT_EQ(progress.partitions_failed, 0u) << progress.last_error;
  EXPECT_EQ(progress.keys_repaired, 50u) << "exactly the missed keys";
  for (int i = 0; i < 50; ++i) {
    auto state = stored(cluster, "n3", fmt::format("missed{}", i));
    ASSERT_TRUE(state.has_value()) << "missed" << i;
    EXPECT_THAT(state->values(), UnorderedElementsAre(fmt::format("v{}", i)));
  }
  // Every partition's trees now agree.
  for (uint32_t p = 0; p < cluster.ring().partition_count(); ++p) {
    EXPECT_TRUE(*cluster.node("n3").anti_entropy().tree(p) ==
                *cluster.node("n1").anti_entropy().tree(p));
  }
}

TEST(AntiEntropyTest, AnExchangeRepairsBothWaysAndKeepsConcurrentSiblings) {
  TestCluster cluster(without_handoff());
  build_trees(cluster);
  ASSERT_TRUE(cluster.put("n1", "shared", "base").status.is_ok());
  std::vector<NodeId> p = cluster.primaries("shared");
  // Each side gets a write the other misses: concurrent values of one key.
  cluster.set_down(p[2], true);
  ASSERT_TRUE(cluster.put(p[0], "shared", "from-a", "", 2).status.is_ok());
  cluster.set_down(p[2], false);
  cluster.set_down(p[0], true);
  ASSERT_TRUE(cluster.put(p[1], "other", "only-b", "", 2).status.is_ok());
  cluster.set_down(p[0], false);

  repair(cluster, p[2]);
  repair(cluster, p[0]);
  for (const NodeId& id : p) {
    auto state = stored(cluster, id, "shared");
    ASSERT_TRUE(state.has_value());
    EXPECT_THAT(state->values(), UnorderedElementsAre("base", "from-a")) << id;
  }
  for (const NodeId& id : cluster.primaries("other")) {
    EXPECT_TRUE(stored(cluster, id, "other").has_value()) << id;
  }
}

TEST(AntiEntropyTest, InSyncReplicasExchangeOnlyTheirRoots) {
  TestCluster cluster(without_handoff());
  build_trees(cluster);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(cluster.put("n2", fmt::format("k{}", i), "v", "", 3).status.is_ok());
  }
  const proto::RepairProgress& progress = repair(cluster, "n1");
  EXPECT_EQ(progress.partitions_failed, 0u) << progress.last_error;
  EXPECT_EQ(progress.keys_compared, 0u);
  EXPECT_EQ(progress.keys_repaired, 0u);
  // One tree request and reply per exchange: well under 200 bytes each way.
  uint64_t exchanges = 2ull * progress.partitions_total;
  EXPECT_LT(progress.bytes_sent, exchanges * 200) << progress.bytes_sent << " bytes";
}

TEST(AntiEntropyTest, PeriodicExchangesRepairWithoutAnyRequest) {
  TestCluster::Options options = without_handoff();
  options.anti_entropy.exchange_interval = Duration(1000);
  TestCluster cluster(options);
  build_trees(cluster);
  cluster.set_down("n2", true);
  ASSERT_TRUE(cluster.put("n1", "k", "v").status.is_ok());
  cluster.set_down("n2", false);
  // Every partition exchanges within 1.25 intervals of the last one (jitter).
  for (int i = 0; i < 300 && !stored(cluster, "n2", "k"); ++i) cluster.advance(Duration(10));
  ASSERT_TRUE(stored(cluster, "n2", "k").has_value());
  EXPECT_GT(cluster.node("n1").anti_entropy().counters().exchanges +
                cluster.node("n2").anti_entropy().counters().exchanges,
            0u);
}

TEST(AntiEntropyTest, AnExchangeWithAnUnreachablePeerFailsAndIsCounted) {
  TestCluster cluster(without_handoff());
  build_trees(cluster);
  cluster.set_down("n2", true);
  const proto::RepairProgress& progress = repair(cluster, "n1");
  EXPECT_EQ(progress.partitions_done, progress.partitions_total);
  EXPECT_EQ(progress.partitions_failed, progress.partitions_total) << "n2 replicates them all";
  EXPECT_THAT(progress.last_error, ::testing::HasSubstr("n2"));
  EXPECT_GT(cluster.node("n1").anti_entropy().counters().exchanges_failed, 0u);
}

TEST(AntiEntropyTest, SwitchedOffItKeepsNoTreesAndRefusesRepairs) {
  TestCluster::Options options = without_handoff();
  options.anti_entropy.enabled = false;
  TestCluster cluster(options);
  cluster.advance(Duration(1000));
  ASSERT_TRUE(cluster.put("n1", "k", "v").status.is_ok());
  EXPECT_EQ(cluster.node("n1").anti_entropy().tree(0), nullptr);
  auto refused = cluster.request("n1", proto::RepairRequest{});
  EXPECT_EQ(refused.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(refused.status.message(), ::testing::HasSubstr("anti-entropy is off on n1"));
}

}  // namespace
}  // namespace qkv::testing
