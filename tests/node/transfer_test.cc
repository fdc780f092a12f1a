// Ownership transfer in the node core: a ring transition copies each moving key range to
// its new primaries while writes reach both old and new ones; old replicas delete a range
// only once every member has applied the ring that took it away.
#include "node/transfer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "node/committer.h"
#include "node/wire/replica_codec.h"
#include "ring/claim.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

TestCluster::Options four_nodes_three_in_the_ring() {
  TestCluster::Options o;
  o.members = {"n1", "n2", "n3", "n4"};
  o.ring_members = {"n1", "n2", "n3"};
  o.anti_entropy.segments = 64;
  o.transfer.batch_bytes_max = 2048;  // many batches per range
  return o;
}

std::shared_ptr<const ring::Ring> claimed(const ring::Ring& current,
                                          const std::vector<NodeId>& members, uint32_t n) {
  std::vector<ring::ClaimMember> m;
  for (const auto& id : members) m.push_back({id, ""});
  return std::make_shared<const ring::Ring>(ring::claim(current.owners(), m, n).value());
}

std::optional<causal::SiblingSet> stored(TestCluster& cluster, const NodeId& node,
                                         const std::string& key) {
  auto bytes = cluster.storage(node).get(ring::token_of(key), key);
  if (!bytes.is_ok() || !bytes.value()) return std::nullopt;
  return node::decode_sibling_set(*bytes.value()).value();
}

std::vector<std::string> write_keys(TestCluster& cluster, int count, const std::string& prefix) {
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) {
    std::string key = fmt::format("{}-{}", prefix, i);
    EXPECT_TRUE(cluster.put("n1", key, "value of " + key).status.is_ok()) << key;
    keys.push_back(key);
  }
  return keys;
}

// Ticks until `node` reports its inbound ranges done for `version` (bounded).
bool run_until_done(TestCluster& cluster, const NodeId& node, uint64_t version) {
  for (int i = 0; i < 20'000; ++i) {
    if (cluster.node(node).transfer().done_version() == version) return true;
    cluster.advance(Duration(10));
  }
  return false;
}

// Every key is held by exactly its primaries in `ring` (and by no other node).
void expect_held_by_exactly_the_primaries(TestCluster& cluster, const ring::Ring& ring,
                                          const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    auto primaries = ring.preference_list(ring::token_of(key), 3).primaries;
    for (const auto& node : cluster.members()) {
      bool primary = std::find(primaries.begin(), primaries.end(), node) != primaries.end();
      EXPECT_EQ(stored(cluster, node, key).has_value(), primary) << key << " on " << node;
    }
  }
}

TEST(TransferTest, APutOfTheOldRingInFlightHoldsBackTheVersionTheCoordinatorReports) {
  // A put whose replicas were chosen before a transition (no receivers among them) must
  // land before any receiver copies the old replicas' ranges: its coordinator reports the
  // transition's version as applied only once the round is over.
  TestCluster cluster(four_nodes_three_in_the_ring());
  const std::string key = "k";
  const auto primaries = cluster.primaries(key);
  const NodeId& coordinator = primaries[0];
  cluster.set_blackholed(primaries[2], true);  // its ack never comes: the round stays open
  uint64_t id = cluster.send(coordinator, proto::PutRequest{key, "v", "", 2}, 2000);
  ASSERT_TRUE(cluster.response(id).has_value()) << "W=2 met by the other two";
  const uint64_t before = cluster.node(coordinator).ring_version_in_use();
  ASSERT_LT(before, 2u);

  auto current = std::make_shared<const ring::Ring>(cluster.ring());
  cluster.set_ring(current, claimed(*current, {"n1", "n2", "n3", "n4"}, 3), 2);
  EXPECT_EQ(cluster.node(coordinator).ring_version_in_use(), before)
      << "the round chosen under the old ring is still in flight";
  EXPECT_EQ(cluster.node(primaries[1]).ring_version_in_use(), 2u) << "nothing in flight there";
  for (int i = 0; i < 25; ++i) cluster.advance(Duration(100));  // past the 2 s deadline
  EXPECT_EQ(cluster.node(coordinator).ring_version_in_use(), 2u) << "the round is over";
}

TEST(TransferTest, AJoinCopiesEveryRangeAndOldReplicasDropThemOnlyOnceAllMovedOn) {
  TestCluster cluster(four_nodes_three_in_the_ring());
  auto keys = write_keys(cluster, 300, "before");
  auto current = std::make_shared<const ring::Ring>(cluster.ring());
  auto next = claimed(*current, {"n1", "n2", "n3", "n4"}, 3);
  cluster.set_ring(current, next, 2);

  // Until every member has applied the transition, nothing is pulled...
  for (int i = 0; i < 100; ++i) cluster.advance(Duration(10));
  EXPECT_EQ(cluster.node("n4").transfer().counters().keys_received, 0u);
  EXPECT_EQ(cluster.node("n4").transfer().done_version(), 0u);
  // ...but writes already reach the receivers, without counting towards W.
  auto during = write_keys(cluster, 100, "during");
  for (const auto& key : during) {
    if (next->preference_list(ring::token_of(key), 3).is_primary("n4")) {
      EXPECT_TRUE(stored(cluster, "n4", key).has_value()) << key;
    }
  }

  cluster.set_applied(2);
  ASSERT_TRUE(run_until_done(cluster, "n4", 2));
  // Nodes that receive nothing are done at once.
  EXPECT_EQ(cluster.node("n1").transfer().done_version(), 2u);
  EXPECT_GT(cluster.node("n4").transfer().counters().keys_received, 0u);
  keys.insert(keys.end(), during.begin(), during.end());
  for (const auto& key : keys) {
    if (!next->preference_list(ring::token_of(key), 3).is_primary("n4")) continue;
    auto from = current->preference_list(ring::token_of(key), 3).primaries.front();
    EXPECT_EQ(stored(cluster, "n4", key), stored(cluster, from, key)) << key;
  }
  // The receiver's trees are current: equal to the old replicas' for ranges that match.
  uint64_t entries = 0;
  for (uint32_t p = 0; p < 64; ++p) {
    if (next->preference_list(next->first_token(p), 3).is_primary("n4")) {
      ASSERT_NE(cluster.node("n4").anti_entropy().tree(p), nullptr) << p;
      entries += cluster.node("n4").anti_entropy().tree(p)->entries();
    }
  }
  EXPECT_GT(entries, 0u);

  // The switch: old replicas keep their copies until every member has applied it.
  cluster.set_ring(next, nullptr, 3);
  for (int i = 0; i < 10; ++i) cluster.advance(Duration(10));
  EXPECT_EQ(cluster.node("n1").counters().ranges_dropped, 0u);
  cluster.set_applied(3);
  expect_held_by_exactly_the_primaries(cluster, *next, keys);
  // Every key reads back through every node.
  for (const auto& key : keys) {
    auto got = cluster.get("n4", key);
    ASSERT_TRUE(got.status.is_ok()) << key << ": " << got.status.to_string();
    EXPECT_EQ(std::get<proto::GetResponse>(got.body).values,
              std::vector<std::string>{"value of " + key});
  }
}

// The commit pipeline's storage side at its slowest: a commit is written only when the node
// waits for it (Committer::wait), never ending by itself.
class WaitOnlyCommitter final : public node::Committer {
 public:
  explicit WaitOnlyCommitter(storage::Storage& storage) : storage_(storage) {}
  void submit(std::vector<storage::WriteOp> ops) override { ops_ = std::move(ops); }
  std::optional<Status> poll() override { return std::nullopt; }
  Status wait() override {
    EXPECT_TRUE(ops_.has_value());
    Status written = storage_.write(*ops_);
    ops_.reset();
    return written;
  }

 private:
  storage::Storage& storage_;
  std::optional<std::vector<storage::WriteOp>> ops_;
};

TEST(TransferTest, WithTheCommitPipelineARangeIsDoneOnlyOnceWhatItJoinedIsInStorage) {
  // done_version is gossiped, and the claimant then ends the transition: the old replicas
  // drop the ranges. A receiver must not report them while their states may still be lost
  // with a commit in flight (a crash, a full disk).
  TestCluster::Options options = four_nodes_three_in_the_ring();
  options.anti_entropy.enabled = false;  // no tree builds, which wait for commits too
  TestCluster cluster(options);
  auto keys = write_keys(cluster, 300, "before");
  WaitOnlyCommitter committer(cluster.storage("n4"));
  cluster.node("n4").set_committer(&committer);
  auto current = std::make_shared<const ring::Ring>(cluster.ring());
  auto next = claimed(*current, {"n1", "n2", "n3", "n4"}, 3);
  cluster.set_ring(current, next, 2);
  cluster.set_applied(2);
  ASSERT_TRUE(run_until_done(cluster, "n4", 2));
  uint64_t moved = 0;
  for (const auto& key : keys) {
    if (!next->preference_list(ring::token_of(key), 3).is_primary("n4")) continue;
    auto from = current->preference_list(ring::token_of(key), 3).primaries.front();
    EXPECT_EQ(stored(cluster, "n4", key), stored(cluster, from, key)) << key;
    ++moved;
  }
  EXPECT_GT(moved, 0u);
  cluster.node("n4").commit_now();
  cluster.node("n4").set_committer(nullptr);
}

TEST(TransferTest, AReceiverDownDuringAWriteGetsItAsAHint) {
  TestCluster cluster(four_nodes_three_in_the_ring());
  auto current = std::make_shared<const ring::Ring>(cluster.ring());
  auto next = claimed(*current, {"n1", "n2", "n3", "n4"}, 3);
  cluster.set_ring(current, next, 2);
  cluster.set_down("n4", true);
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    std::string k = fmt::format("k{}", i);
    if (next->preference_list(ring::token_of(k), 3).is_primary("n4")) key = k;
  }
  // W counts the current primaries only: the write succeeds with the receiver down.
  ASSERT_TRUE(cluster.put("n1", key, "v").status.is_ok());
  EXPECT_FALSE(stored(cluster, "n4", key).has_value());
  cluster.set_down("n4", false);
  for (int i = 0; i < 500 && !stored(cluster, "n4", key); ++i) cluster.advance(Duration(10));
  EXPECT_TRUE(stored(cluster, "n4", key).has_value()) << "the hint was not handed off";
}

TEST(TransferTest, ASilentSourceIsLeftForAnotherOldReplica) {
  TestCluster::Options o = four_nodes_three_in_the_ring();
  o.transfer.request_timeout = Duration(200);
  TestCluster cluster(o);
  auto keys = write_keys(cluster, 200, "k");
  auto current = std::make_shared<const ring::Ring>(cluster.ring());
  auto next = claimed(*current, {"n1", "n2", "n3", "n4"}, 3);
  cluster.set_ring(current, next, 2);
  cluster.set_applied(2);
  // Some batches arrive, then one source goes silent (no unreachable notice).
  cluster.advance(Duration(10));
  cluster.set_blackholed("n1", true);
  ASSERT_TRUE(run_until_done(cluster, "n4", 2));
  EXPECT_GT(cluster.node("n4").transfer().counters().source_failures, 0u);
  for (const auto& key : keys) {
    if (!next->preference_list(ring::token_of(key), 3).is_primary("n4")) continue;
    EXPECT_TRUE(stored(cluster, "n4", key).has_value()) << key;
  }
}

TEST(TransferTest, ACancelledTransitionDropsThePartialCopiesAndKeepsTheOldOwners) {
  TestCluster cluster(four_nodes_three_in_the_ring());
  auto keys = write_keys(cluster, 200, "k");
  auto current = std::make_shared<const ring::Ring>(cluster.ring());
  auto next = claimed(*current, {"n1", "n2", "n3", "n4"}, 3);
  cluster.set_ring(current, next, 2);
  cluster.set_applied(2);
  ASSERT_TRUE(run_until_done(cluster, "n4", 2));
  // Aborted: the same owners under a new version, no next ring.
  cluster.set_ring(current, nullptr, 3);
  cluster.set_applied(3);
  EXPECT_TRUE(cluster.node("n4").held_ranges().empty());
  expect_held_by_exactly_the_primaries(cluster, *current, keys);
}

TEST(TransferTest, ALeavingNodesRangesMoveAndItEndsHoldingNothing) {
  TestCluster::Options o;
  o.members = {"n1", "n2", "n3", "n4"};
  o.anti_entropy.segments = 64;
  TestCluster cluster(o);
  auto keys = write_keys(cluster, 300, "k");
  auto current = std::make_shared<const ring::Ring>(cluster.ring());
  auto next = claimed(*current, {"n1", "n2", "n3"}, 3);
  cluster.set_ring(current, next, 2);
  cluster.set_applied(2);
  for (const char* id : {"n1", "n2", "n3", "n4"}) ASSERT_TRUE(run_until_done(cluster, id, 2));
  cluster.set_ring(next, nullptr, 3);
  cluster.set_applied(3);
  EXPECT_TRUE(cluster.node("n4").held_ranges().empty());
  std::size_t left = 0;
  (void)cluster.storage("n4").scan(0, UINT64_MAX, [&](auto, auto, auto) {
    ++left;
    return true;
  });
  EXPECT_EQ(left, 0u) << "a removed node holds no data";
  expect_held_by_exactly_the_primaries(cluster, *next, keys);
}

TEST(TransferTest, AReplicaRefusesWritesForRangesItNeitherReplicatesNorHolds) {
  TestCluster cluster(four_nodes_three_in_the_ring());
  node::PeerMessage write{"n1", 9, node::ReplicaWrite{"some-key", causal::SiblingSet(), {}}};
  cluster.node("n4").on_peer_message(write, cluster.now());
  EXPECT_FALSE(stored(cluster, "n4", "some-key").has_value());
}

// qkvctl node remove: n5 is lost. Each key of a range n5 replicated was acknowledged by n5
// and one other old replica only (the third missed it): the receivers pull such ranges from
// every surviving old replica, never from n5 (up here, so a request to it would be answered).
TEST(TransferTest, ARemovedNodeIsNeverASourceAndItsRangesComeFromEverySurvivor) {
  TestCluster::Options o;
  o.members = {"n1", "n2", "n3", "n4", "n5"};
  o.anti_entropy.segments = 64;
  o.transfer.batch_bytes_max = 2048;
  TestCluster cluster(o);
  auto keys = write_keys(cluster, 300, "k");
  auto current = std::make_shared<const ring::Ring>(cluster.ring());
  auto next = claimed(*current, {"n1", "n2", "n3", "n4"}, 3);
  std::vector<std::string> lost_keys;  // of n5's ranges: held by n5 and one survivor only
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const ring::Token token = ring::token_of(keys[i]);
    std::vector<NodeId> survivors;
    for (const NodeId& p : current->preference_list(token, 3).primaries) {
      if (p != "n5") survivors.push_back(p);
    }
    if (survivors.size() != 2) continue;
    ASSERT_TRUE(cluster.storage(survivors[i % 2]).delete_range(token, token).is_ok());
    lost_keys.push_back(keys[i]);
  }
  ASSERT_GT(lost_keys.size(), 20u);

  cluster.set_ring(current, next, 2, {"n5"});
  cluster.set_applied(2);
  for (const char* id : {"n1", "n2", "n3", "n4"}) ASSERT_TRUE(run_until_done(cluster, id, 2));
  EXPECT_EQ(cluster.node("n5").transfer().counters().keys_sent, 0u) << "n5 was asked for data";
  for (const auto& key : lost_keys) {
    const ring::Token token = ring::token_of(key);
    for (const NodeId& r : next->preference_list(token, 3).primaries) {
      if (current->preference_list(token, 3).is_primary(r)) continue;
      EXPECT_TRUE(stored(cluster, r, key).has_value()) << key << " not copied to " << r;
    }
  }
  // After the switch (n5 gone), every key is still on a primary.
  cluster.set_down("n5", true);
  cluster.set_ring(next, nullptr, 3);
  cluster.set_applied(3);
  for (const auto& key : keys) {
    bool held = false;
    for (const NodeId& p : next->preference_list(ring::token_of(key), 3).primaries) {
      held = held || stored(cluster, p, key).has_value();
    }
    EXPECT_TRUE(held) << key << " was lost";
  }
}

}  // namespace
}  // namespace qkv::testing
