// Sloppy reads (Dynamo §4.6) against an in-memory cluster: gets read the first N healthy
// nodes, fallbacks answer with their hints, pr, read repair on primaries only, and the
// replicas an answer names.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/node.h"
#include "node/wire/replica_codec.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const proto::GetResponse& body(const proto::ClientResponse& r) {
  return std::get<proto::GetResponse>(r.body);
}

// The values `node` stores for `key` in its data store (not its hints); empty if none.
std::vector<std::string> stored(TestCluster& cluster, const NodeId& node, const std::string& key) {
  auto bytes = cluster.storage(node).get(ring::token_of(key), key);
  EXPECT_TRUE(bytes.is_ok());
  if (!bytes.is_ok() || !bytes.value()) return {};
  return node::decode_sibling_set(*bytes.value())->values();
}

std::size_t hints_held(TestCluster& cluster, const NodeId& node) {
  std::size_t count = 0;
  EXPECT_TRUE(cluster.storage(node)
                  .scan_hints([&](const NodeId&, ring::Token, std::string_view, std::string_view) {
                    ++count;
                    return true;
                  })
                  .is_ok());
  return count;
}

class FallbackReadTest : public ::testing::Test {
 protected:
  FallbackReadTest() : cluster_(five_nodes()) {}
  static TestCluster::Options five_nodes() {
    TestCluster::Options options;
    options.members = {"n1", "n2", "n3", "n4", "n5"};
    return options;
  }

  // Writes "v" through p[1] while p[0] and p[2] are down (the fallbacks f[0] and f[1] keep
  // it as hints for them), then p[1] goes down and p[0] comes back, empty: of the key's
  // primaries only p[0] is up, and it does not hold the write.
  void write_while_primaries_are_down() {
    cluster_.set_down(p_[0], true);
    cluster_.set_down(p_[2], true);
    ASSERT_TRUE(cluster_.put(p_[1], key_, "v", "", 2).status.is_ok());
    ASSERT_EQ(hints_held(cluster_, f_[0]), 1u);
    ASSERT_EQ(hints_held(cluster_, f_[1]), 1u);
    cluster_.set_down(p_[1], true);
    cluster_.set_down(p_[0], false);
    ASSERT_TRUE(stored(cluster_, p_[0], key_).empty());
  }

  TestCluster cluster_;
  const std::string key_ = "k";
  const std::vector<NodeId> p_ = cluster_.primaries(key_);
  const std::vector<NodeId> f_ = cluster_.fallbacks(key_);
};

TEST_F(FallbackReadTest, RTwoWithTwoPrimariesDownReadsTheHintedValueFromFallbacks) {
  write_while_primaries_are_down();
  auto got = cluster_.get(p_[0], key_, 2);
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  EXPECT_THAT(body(got).values, ElementsAre("v")) << "the write lives only in the hints";
  EXPECT_EQ(cluster_.node(p_[0]).counters().fallback_reads, 2u) << "one per primary down";
}

TEST_F(FallbackReadTest, TheAnswerNamesTheReplicasAndWhetherEachIsAFallback) {
  write_while_primaries_are_down();
  auto got = cluster_.get(p_[0], key_, 2);
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  EXPECT_THAT(body(got).replicas,
              ElementsAre(proto::ReplicaAnswer{p_[0], false}, proto::ReplicaAnswer{f_[0], true}));

  // All up, through a node that forwards: the primaries that answered, none a fallback.
  cluster_.set_down(p_[1], false);
  cluster_.set_down(p_[2], false);
  auto forwarded = cluster_.get(f_[0], key_, 3);
  ASSERT_TRUE(forwarded.status.is_ok()) << forwarded.status.to_string();
  std::vector<proto::ReplicaAnswer> primaries;
  for (const NodeId& p : p_) primaries.push_back({p, false});
  EXPECT_EQ(body(forwarded).replicas, primaries);

  auto local = cluster_.request(f_[0], proto::GetRequest{key_, 0, true});
  EXPECT_THAT(body(local).replicas, ElementsAre(proto::ReplicaAnswer{f_[0], true}))
      << "a local get names the node itself, not a primary of the key";
}

TEST_F(FallbackReadTest, PrTwoWithTwoPrimariesDownFailsNamingPr) {
  write_while_primaries_are_down();
  auto got = cluster_.request(p_[0], proto::GetRequest{key_, 2, false, 2});
  EXPECT_EQ(got.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(got.status.message(),
              HasSubstr("primary quorum not met: 1 of 3 primaries answered, PR=2 required"));

  auto too_many = cluster_.request(p_[0], proto::GetRequest{key_, 2, false, 4});
  EXPECT_EQ(too_many.status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(too_many.status.message(), HasSubstr("pr=4 exceeds n=3"));

  cluster_.set_down(p_[1], false);
  auto met = cluster_.request(p_[0], proto::GetRequest{key_, 2, false, 2});
  ASSERT_TRUE(met.status.is_ok()) << met.status.to_string();
  EXPECT_THAT(body(met).values, ElementsAre("v"));
}

TEST_F(FallbackReadTest, ReadRepairFixesStalePrimariesButNeverWritesIntoAFallback) {
  write_while_primaries_are_down();
  ASSERT_TRUE(cluster_.get(p_[0], key_, 2).status.is_ok());
  cluster_.deliver();
  EXPECT_THAT(stored(cluster_, p_[0], key_), ElementsAre("v"))
      << "the primary that missed the write is repaired with what the hints held";
  EXPECT_EQ(cluster_.node(p_[0]).counters().read_repairs, 1u);
  for (const NodeId& f : {f_[0], f_[1]}) {
    EXPECT_TRUE(stored(cluster_, f, key_).empty()) << f << ": a fallback's store is not repaired";
    EXPECT_EQ(hints_held(cluster_, f), 1u) << f << ": its hint waits for handoff";
  }

  // A fallback that answers with nothing (stale) is not repaired either.
  const std::string other = "other";
  const std::vector<NodeId> p = cluster_.primaries(other);
  const std::vector<NodeId> f = cluster_.fallbacks(other);
  for (const NodeId& node : cluster_.members()) cluster_.set_down(node, false);
  ASSERT_TRUE(cluster_.put(p[0], other, "w", "", 3).status.is_ok());
  cluster_.set_down(p[1], true);
  cluster_.set_down(p[2], true);
  ASSERT_TRUE(cluster_.get(p[0], other, 3).status.is_ok());
  cluster_.deliver();
  EXPECT_EQ(cluster_.node(p[0]).counters().read_repairs, 0u);
  EXPECT_TRUE(stored(cluster_, f[0], other).empty());
  EXPECT_TRUE(stored(cluster_, f[1], other).empty());
}

TEST_F(FallbackReadTest, APrimaryWhoseLinkBreaksDuringTheReadIsReplacedByAFallback) {
  ASSERT_TRUE(cluster_.put(p_[0], key_, "v", "", 3).status.is_ok());
  cluster_.set_blackholed(p_[1], true);
  cluster_.set_blackholed(p_[2], true);
  uint64_t id = cluster_.send(p_[0], proto::GetRequest{key_, 2});
  EXPECT_FALSE(cluster_.response(id).has_value()) << "two primaries silent: R=2 waits";
  cluster_.node(p_[0]).on_peer_unreachable(p_[1], cluster_.now());
  cluster_.deliver();
  auto got = cluster_.response(id);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->status.is_ok()) << got->status.to_string();
  EXPECT_THAT(body(*got).replicas,
              ElementsAre(proto::ReplicaAnswer{p_[0], false}, proto::ReplicaAnswer{f_[0], true}));
}

TEST_F(FallbackReadTest, SilentPrimariesNeverHeardFromGetStandInsAtHalfTheDeadline) {
  ASSERT_TRUE(cluster_.put(p_[0], key_, "v", "", 3).status.is_ok());
  cluster_.set_blackholed(p_[1], true);
  cluster_.set_blackholed(p_[2], true);
  const TimePoint sent = cluster_.now();
  auto got = cluster_.get(p_[0], key_, 2);  // request_timeout 1000 ms: the alarm at 500 ms
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  EXPECT_LT(cluster_.now() - sent, Duration(1000)) << "answered before the deadline";
  EXPECT_GE(cluster_.now() - sent, Duration(500)) << "not before the sloppy alarm";
  EXPECT_THAT(body(got).values, ElementsAre("v"));
  EXPECT_THAT(body(got).replicas,
              ElementsAre(proto::ReplicaAnswer{p_[0], false}, proto::ReplicaAnswer{f_[0], true}));
}

TEST_F(FallbackReadTest, ASilentPrimaryGetsAStandInAfterTwiceItsRecentReadLatency) {
  ASSERT_TRUE(cluster_.put(p_[0], key_, "v", "", 3).status.is_ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(cluster_.get(p_[0], key_, 3).status.is_ok());
  cluster_.set_blackholed(p_[1], true);
  cluster_.set_blackholed(p_[2], true);
  const TimePoint sent = cluster_.now();
  auto got = cluster_.get(p_[0], key_, 2);
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  // Reads answered in 0 ms here: twice that is under the floor, stand_in_alarm_min (50 ms).
  EXPECT_GE(cluster_.now() - sent, Duration(50));
  EXPECT_LT(cluster_.now() - sent, Duration(100)) << "not half the deadline (500 ms)";
  EXPECT_THAT(body(got).values, ElementsAre("v"));
}

TEST_F(FallbackReadTest, APrimaryTheDetectorHoldsDownIsNotAskedAndUpFallbacksStandIn) {
  ASSERT_TRUE(cluster_.put(p_[0], key_, "v", "", 3).status.is_ok());
  const NodeId down = p_[2];
  const NodeId fallback_down = f_[0];
  cluster_.node(p_[0]).set_liveness(
      [down, fallback_down](const NodeId& id) { return id != down && id != fallback_down; });
  auto got = cluster_.get(p_[0], key_, 3);
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  EXPECT_EQ(cluster_.node(down).counters().replica_reads, 0u) << "held down: not asked";
  EXPECT_EQ(cluster_.node(fallback_down).counters().replica_reads, 0u)
      << "a fallback held down is no stand-in";
  EXPECT_EQ(body(got).replicas.back(), (proto::ReplicaAnswer{f_[1], true}));
}

// A quorum's fanout (node/coordinator/get_round.h): R of the key's primaries are asked, a
// spare primary stands in for one that fails before any fallback does, and the request's
// fanout overrides the node's.
class QuorumFanoutReadTest : public ::testing::Test {
 protected:
  static TestCluster::Options quorum_fanout() {
    TestCluster::Options options;
    options.read_fanout = coordinator::Fanout::kQuorum;
    return options;
  }
  // Replica reads the key's other primaries served (digests included).
  uint64_t reads_at_the_others() {
    return cluster_.node(p_[1]).counters().replica_reads +
           cluster_.node(p_[2]).counters().replica_reads;
  }
  proto::ClientResponse get(proto::ReadFanout fanout) {
    return cluster_.request(p_[0], proto::GetRequest{key_, 2, false, 0, fanout});
  }

  TestCluster cluster_{quorum_fanout()};
  const std::string key_ = "k";
  const std::vector<NodeId> p_ = cluster_.primaries(key_);
};

TEST_F(QuorumFanoutReadTest, AGetAsksRPrimariesAndTheRequestsFanoutOverridesTheNodes) {
  ASSERT_TRUE(cluster_.put(p_[0], key_, "v", "", 3).status.is_ok());
  uint64_t before = reads_at_the_others();
  auto got = get(proto::ReadFanout::kDefault);
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  EXPECT_THAT(body(got).values, ElementsAre("v"));
  EXPECT_EQ(reads_at_the_others() - before, 1u) << "the node's read_fanout: R=2, itself and one";
  EXPECT_EQ(cluster_.node(p_[0]).counters().spare_reads, 0u);

  before = reads_at_the_others();
  ASSERT_TRUE(get(proto::ReadFanout::kAll).status.is_ok());
  EXPECT_EQ(reads_at_the_others() - before, 2u) << "the request asks every primary";
}

TEST_F(QuorumFanoutReadTest, APrimaryDownIsReplacedByTheSparePrimaryNotAFallback) {
  ASSERT_TRUE(cluster_.put(p_[0], key_, "v", "", 3).status.is_ok());
  cluster_.set_down(p_[1], true);
  auto got = get(proto::ReadFanout::kQuorum);
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  EXPECT_THAT(body(got).values, ElementsAre("v"));
  EXPECT_THAT(body(got).replicas,
              ElementsAre(proto::ReplicaAnswer{p_[0], false}, proto::ReplicaAnswer{p_[2], false}));
  EXPECT_EQ(cluster_.node(p_[0]).counters().fallback_reads, 0u);
  EXPECT_EQ(cluster_.node(p_[0]).counters().spare_reads, 1u);
}

TEST_F(QuorumFanoutReadTest, ASuspectSpareIsNotAskedBeforeTheAlarm) {
  ASSERT_TRUE(cluster_.put(p_[0], key_, "v", "", 3).status.is_ok());
  // p[1] is asked and silent; p[2], the spare, is suspect. Only a suspect node asked takes
  // stand-ins at once: this read waits for the alarm, then asks the spare.
  cluster_.node(p_[0]).set_suspicion([&](const NodeId& id) { return id == p_[2]; });
  cluster_.set_blackholed(p_[1], true);
  const uint64_t spare_reads_before = cluster_.node(p_[2]).counters().replica_reads;
  const uint64_t id = cluster_.send(p_[0], proto::GetRequest{key_, 2, false, 0});
  cluster_.advance(Duration(10));  // a tick: an alarm due at once would fire
  EXPECT_FALSE(cluster_.response(id)) << "nothing asked the spare yet";
  EXPECT_EQ(cluster_.node(p_[2]).counters().replica_reads, spare_reads_before);
  cluster_.advance(Duration(600));
  auto answer = cluster_.response(id);
  ASSERT_TRUE(answer) << "the alarm asked the spare";
  EXPECT_TRUE(answer->status.is_ok()) << answer->status.to_string();
  EXPECT_EQ(cluster_.node(p_[2]).counters().replica_reads, spare_reads_before + 1);
}

}  // namespace
}  // namespace qkv::testing
