// Per-sibling metadata: the coordinator's timestamp is set once, stored and replicated with
// the sibling, and answered by gets beside the values (proto::GetResponse::siblings).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/wire/replica_codec.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::ElementsAre;

const proto::GetResponse& body(const proto::ClientResponse& r) {
  return std::get<proto::GetResponse>(r.body);
}

int64_t unix_ms(const TestCluster& cluster) {
  return cluster.now().time_since_epoch().count();  // the nodes' wall clock (wall_clock)
}

TestCluster::Options with_wall_clock() {
  TestCluster::Options options;
  options.wall_clock = true;
  return options;
}

TEST(SiblingMetadataTest, EveryReplicaStoresTheCoordinatorsTimestampAndGetsAnswerIt) {
  TestCluster cluster(with_wall_clock());
  cluster.advance(Duration(1234));
  const int64_t written = unix_ms(cluster);
  const NodeId coordinator = cluster.primaries("k")[0];
  ASSERT_TRUE(cluster.put(coordinator, "k", "v").status.is_ok());
  cluster.advance(Duration(500));  // later replies and reads do not move it

  for (const NodeId& id : cluster.primaries("k")) {
    auto stored = cluster.storage(id).get(ring::token_of("k"), "k");
    ASSERT_TRUE(stored.value().has_value()) << id;
    auto state = node::decode_sibling_set(*stored.value());
    ASSERT_EQ(state->siblings().size(), 1u);
    EXPECT_EQ(state->siblings()[0].timestamp_ms, written) << id;
  }
  auto got = cluster.get("n3", "k", 3);
  ASSERT_TRUE(got.status.is_ok());
  EXPECT_THAT(body(got).siblings, ElementsAre(proto::SiblingInfo{false, written, coordinator, 0}));
}

TEST(SiblingMetadataTest, SiblingsDescribeTheValuesInOrderThenTheConcurrentTombstones) {
  TestCluster cluster(with_wall_clock());
  const std::vector<NodeId> primaries = cluster.primaries("k");
  // Three blind writes through three coordinators: two values and a delete, all concurrent.
  ASSERT_TRUE(
      cluster.request(primaries[0], proto::PutRequest{"k", "a", "", 0, false, 60}).status.is_ok());
  const int64_t a_at = unix_ms(cluster);
  cluster.advance(Duration(100));
  ASSERT_TRUE(cluster.del(primaries[1], "k", "").status.is_ok());
  const int64_t del_at = unix_ms(cluster);
  cluster.advance(Duration(100));
  ASSERT_TRUE(cluster.put(primaries[2], "k", "b").status.is_ok());
  const int64_t b_at = unix_ms(cluster);

  auto got = cluster.get(primaries[0], "k", 3);
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  const proto::GetResponse& answer = body(got);
  ASSERT_EQ(answer.values.size(), 2u);
  ASSERT_EQ(answer.siblings.size(), 3u);
  for (std::size_t i = 0; i < 2; ++i) {
    const proto::SiblingInfo& info = answer.siblings[i];
    EXPECT_FALSE(info.tombstone);
    if (answer.values[i] == "a") {
      EXPECT_EQ(info, (proto::SiblingInfo{false, a_at, primaries[0], a_at + 60'000}));
    } else {
      EXPECT_EQ(answer.values[i], "b");
      EXPECT_EQ(info, (proto::SiblingInfo{false, b_at, primaries[2], 0}));
    }
  }
  EXPECT_EQ(answer.siblings[2], (proto::SiblingInfo{true, del_at, primaries[1], 0}));

  // A local get answers the same metadata.
  auto local = cluster.request(primaries[1], proto::GetRequest{"k", 0, true});
  EXPECT_EQ(body(local).siblings, answer.siblings);
}

TEST(SiblingMetadataTest, TheStoredFormCarriesTheTimestampAndAStateWithoutOneReadsZero) {
  causal::SiblingSet stamped = causal::SiblingSet().update({}, {"n1", 7}, "v", 0, 1'700'000);
  auto decoded = node::decode_sibling_set(node::encode_sibling_set(stamped));
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(decoded.value(), stamped);
  EXPECT_EQ(decoded->siblings()[0].timestamp_ms, 1'700'000);
  // What a node older than the field stored: no timestampMs at all.
  causal::SiblingSet old = causal::SiblingSet().update({}, {"n1", 7}, "v");
  EXPECT_EQ(node::decode_sibling_set(node::encode_sibling_set(old))->siblings()[0].timestamp_ms, 0);
}

}  // namespace
}  // namespace qkv::testing
