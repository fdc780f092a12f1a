// Tombstone reaping (node/reaper.h) on an in-memory cluster: a tombstone goes once every
// primary holds it and its grace has passed, never while a primary still holds what it
// deleted, and a reaped key's dots are never issued again.
#include "node/reaper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/node.h"
#include "node/wire/replica_codec.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::UnorderedElementsAre;

constexpr Duration kGrace{10'000};

const proto::GetResponse& body(const proto::ClientResponse& r) {
  return std::get<proto::GetResponse>(r.body);
}

TestCluster::Options reaping() {
  TestCluster::Options options;
  options.wall_clock = true;
  options.hinted_handoff = false;  // a primary that is down misses writes for good
  options.request_timeout_max = Duration(5'000);
  options.tombstones.grace = kGrace;
  options.tombstones.retry_interval = Duration(2'000);
  options.tombstones.sweep_interval = Duration(0);
  return options;
}

// The copy of `key` each primary stores (nullopt: none).
std::vector<std::optional<causal::SiblingSet>> copies(TestCluster& cluster,
                                                      const std::string& key) {
  std::vector<std::optional<causal::SiblingSet>> out;
  for (const NodeId& id : cluster.primaries(key)) {
    auto stored = cluster.storage(id).get(ring::token_of(key), key);
    QKV_ASSERT(stored.is_ok());
    out.push_back(stored.value() ? std::optional(*node::decode_sibling_set(*stored.value()))
                                 : std::nullopt);
  }
  return out;
}

uint64_t reaped(TestCluster& cluster) {
  uint64_t n = 0;
  for (const NodeId& id : cluster.members()) n += cluster.node(id).counters().tombstones_reaped;
  return n;
}

// Advances the clock in 500 ms steps for `d`.
void run_for(TestCluster& cluster, Duration d) {
  for (Duration t{0}; t < d; t += Duration(500)) cluster.advance(Duration(500));
}

TEST(ReaperTest, ATombstoneEveryPrimaryHoldsIsReapedOnceItsGraceHasPassed) {
  TestCluster cluster(reaping());
  ASSERT_TRUE(cluster.put("n1", "k", "v", "", 3).status.is_ok());
  auto read = cluster.get("n1", "k", 3);
  ASSERT_TRUE(cluster.del("n2", "k", body(read).context, 3).status.is_ok());

  run_for(cluster, kGrace - Duration(1'000));
  for (const auto& copy : copies(cluster, "k")) {
    ASSERT_TRUE(copy.has_value()) << "reaped before its grace";
    EXPECT_TRUE(copy->is_deleted());
  }
  run_for(cluster, Duration(2'000));
  for (const auto& copy : copies(cluster, "k")) EXPECT_FALSE(copy.has_value());
  EXPECT_EQ(reaped(cluster), 3u);
  auto gone = cluster.get("n3", "k", 3);
  EXPECT_EQ(gone.status.code(), StatusCode::kNotFound) << gone.status.to_string();
}

TEST(ReaperTest, APrimaryThatMissedTheDeleteHoldsTheReapBackUntilItIsRepaired) {
  TestCluster cluster(reaping());
  ASSERT_TRUE(cluster.put("n1", "k", "old", "", 3).status.is_ok());
  auto read = cluster.get("n1", "k", 3);
  const NodeId missed = cluster.primaries("k").back();  // not the key's first primary
  cluster.set_down(missed, true);
  ASSERT_TRUE(cluster.del("n1", "k", body(read).context, 2).status.is_ok());
  cluster.set_down(missed, false);
  ASSERT_FALSE(copies(cluster, "k").back()->is_deleted()) << missed << " should hold the value";

  // At the grace the check finds `missed` with the old value: nothing is reaped (reaping
  // the others would let anti-entropy or read repair bring "old" back), and it is repaired.
  run_for(cluster, kGrace + Duration(500));
  EXPECT_EQ(reaped(cluster), 0u);
  for (const auto& copy : copies(cluster, "k")) {
    ASSERT_TRUE(copy.has_value());
    EXPECT_TRUE(copy->is_deleted());
  }
  EXPECT_GE(cluster.node(cluster.primaries("k").front()).counters().reaps_deferred, 1u);

  run_for(cluster, Duration(3'000));  // the retry
  EXPECT_EQ(reaped(cluster), 3u);
  EXPECT_EQ(cluster.get("n2", "k", 3).status.code(), StatusCode::kNotFound);
}

TEST(ReaperTest, NothingIsReapedWhileAPrimaryIsDown) {
  TestCluster cluster(reaping());
  ASSERT_TRUE(cluster.put("n1", "k", "v", "", 3).status.is_ok());
  auto read = cluster.get("n1", "k", 3);
  ASSERT_TRUE(cluster.del("n1", "k", body(read).context, 3).status.is_ok());
  cluster.set_down(cluster.primaries("k").back(), true);
  run_for(cluster, kGrace * 2);
  EXPECT_EQ(reaped(cluster), 0u);
  cluster.set_down(cluster.primaries("k").back(), false);
  run_for(cluster, Duration(3'000));
  EXPECT_EQ(reaped(cluster), 3u);
}

TEST(ReaperTest, AContextFromBeforeTheReapDoesNotSupersedeANewWriteOfTheKey) {
  // kv679's tombstone variant: after the reap the key's counters are gone from every
  // replica, but not from clients' contexts. A new write must not reuse a dot one of them
  // covers, or a client writing with that context silently drops it.
  TestCluster cluster(reaping());
  const NodeId coordinator = cluster.primaries("k").front();
  ASSERT_TRUE(cluster.put(coordinator, "k", "a", "", 3).status.is_ok());
  auto read = cluster.get(coordinator, "k", 3);
  auto deleted = cluster.del(coordinator, "k", body(read).context, 3);
  ASSERT_TRUE(deleted.status.is_ok());
  const std::string old_context = std::get<proto::PutResponse>(deleted.body).context;
  run_for(cluster, kGrace + Duration(1'000));
  ASSERT_EQ(reaped(cluster), 3u);

  ASSERT_TRUE(cluster.put(coordinator, "k", "b", "", 3).status.is_ok());  // a new writer
  ASSERT_TRUE(cluster.put(coordinator, "k", "c", old_context, 3).status.is_ok());
  auto both = cluster.get(coordinator, "k", 3);
  ASSERT_TRUE(both.status.is_ok());
  EXPECT_THAT(body(both).values, UnorderedElementsAre("b", "c"))
      << "the old context saw neither write: they are concurrent";
}

TEST(ReaperTest, AKeyWrittenAgainBeforeItsGraceIsKept) {
  TestCluster cluster(reaping());
  ASSERT_TRUE(cluster.put("n1", "k", "a", "", 3).status.is_ok());
  auto read = cluster.get("n1", "k", 3);
  auto deleted = cluster.del("n1", "k", body(read).context, 3);
  ASSERT_TRUE(deleted.status.is_ok());
  run_for(cluster, kGrace / 2);
  ASSERT_TRUE(cluster.put("n2", "k", "again", std::get<proto::PutResponse>(deleted.body).context, 3)
                  .status.is_ok());
  run_for(cluster, kGrace * 2);
  EXPECT_EQ(reaped(cluster), 0u);
  EXPECT_THAT(body(cluster.get("n3", "k", 3)).values, UnorderedElementsAre("again"));
}

TEST(ReaperTest, ReapingOffKeepsTombstones) {
  auto options = reaping();
  options.tombstones.reap = false;
  TestCluster cluster(options);
  ASSERT_TRUE(cluster.put("n1", "k", "a", "", 3).status.is_ok());
  auto read = cluster.get("n1", "k", 3);
  ASSERT_TRUE(cluster.del("n1", "k", body(read).context, 3).status.is_ok());
  run_for(cluster, kGrace * 2);
  EXPECT_EQ(reaped(cluster), 0u);
  for (const auto& copy : copies(cluster, "k")) EXPECT_TRUE(copy.has_value());
}

proto::ClientResponse put_with_ttl(TestCluster& cluster, const NodeId& via, const std::string& key,
                                   const std::string& value, uint32_t ttl_seconds) {
  proto::PutRequest put{key, value, "", 3};
  put.ttl_seconds = ttl_seconds;
  return cluster.request(via, put);
}

TEST(ReaperTest, AValueWithATimeToLiveIsReadUntilItExpiresThenReapedLikeADelete) {
  TestCluster cluster(reaping());
  ASSERT_TRUE(put_with_ttl(cluster, "n1", "session", "token", 5).status.is_ok());
  ASSERT_TRUE(cluster.put("n1", "kept", "v", "", 3).status.is_ok());
  run_for(cluster, Duration(4'000));
  EXPECT_THAT(body(cluster.get("n2", "session", 3)).values, UnorderedElementsAre("token"));
  run_for(cluster, Duration(1'500));
  auto expired = cluster.get("n3", "session", 3);
  EXPECT_EQ(expired.status.code(), StatusCode::kNotFound) << "past its time to live on every node";
  EXPECT_FALSE(body(expired).context.empty()) << "a write after it supersedes the expired value";
  for (const auto& copy : copies(cluster, "session")) ASSERT_TRUE(copy.has_value());

  run_for(cluster, kGrace + Duration(1'000));  // expiry + grace: reaped everywhere
  for (const auto& copy : copies(cluster, "session")) EXPECT_FALSE(copy.has_value());
  EXPECT_EQ(reaped(cluster), 3u);
  EXPECT_THAT(body(cluster.get("n1", "kept", 3)).values, UnorderedElementsAre("v"));
}

TEST(ReaperTest, AWriteWithoutATimeToLiveKeepsAKeyThatHadOne) {
  TestCluster cluster(reaping());
  ASSERT_TRUE(put_with_ttl(cluster, "n1", "k", "short", 2).status.is_ok());
  auto read = cluster.get("n1", "k", 3);
  ASSERT_TRUE(cluster.put("n1", "k", "forever", body(read).context, 3).status.is_ok());
  run_for(cluster, kGrace * 2);
  EXPECT_EQ(reaped(cluster), 0u);
  EXPECT_THAT(body(cluster.get("n2", "k", 3)).values, UnorderedElementsAre("forever"));
}

TEST(TombstoneConfigTest, TheGraceMustOutliveARequest) {
  node::TombstoneConfig config;
  config.grace = Duration(30'000);
  EXPECT_TRUE(config.validate(Duration(20'000)).is_ok());
  Status refused = config.validate(Duration(61'000));
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("tombstones.grace_ms (30000)"));
}

}  // namespace
}  // namespace qkv::testing
