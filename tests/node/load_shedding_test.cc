// Load shedding in the node core: client requests past client_requests_in_flight_max are
// refused at once with overloaded; what counts is what a client still waits for.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/node.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;

TEST(NodeTest, ClientRequestsPastTheInFlightLimitAreRefusedAtOnceWithOverloaded) {
  TestCluster::Options options;
  options.limits.client_requests_in_flight_max = 2;
  TestCluster cluster(options);
  // The other replicas are silent: R=2 gets through n1 wait for their deadline.
  cluster.set_blackholed("n2", true);
  cluster.set_blackholed("n3", true);
  uint64_t a = cluster.send("n1", proto::GetRequest{"a", 2});
  uint64_t b = cluster.send("n1", proto::GetRequest{"b", 2});
  EXPECT_FALSE(cluster.response(a) || cluster.response(b)) << "both wait";
  auto refused = cluster.response(cluster.send("n1", proto::GetRequest{"c", 2}));
  ASSERT_TRUE(refused) << "answered at once, not after a timeout";
  EXPECT_EQ(refused->status.code(), StatusCode::kOverloaded);
  EXPECT_THAT(refused->status.message(), HasSubstr("client_requests_in_flight_max is 2"));
  EXPECT_EQ(cluster.node("n1").counters().overloaded, 1u);
  // Operators still get the status of an overloaded node; other nodes serve as usual.
  EXPECT_TRUE(cluster.request("n1", proto::StatusRequest{}).status.is_ok());
  // Once the two waiting gets end (their deadline), n1 takes requests again.
  cluster.set_blackholed("n2", false);
  cluster.set_blackholed("n3", false);
  cluster.advance(Duration(1100));
  EXPECT_EQ(cluster.node("n1").in_flight(), 0u);
  EXPECT_TRUE(cluster.put("n1", "c", "v").status.is_ok());
}

TEST(NodeTest, PutsStagedForOneGroupCommitCountAgainstTheInFlightLimit) {
  // qkvd stages every put read in one I/O turn before committing them together; those
  // are not tracked yet, but they are taken: a flood in one read must not pass the limit.
  TestCluster::Options options;
  options.limits.client_requests_in_flight_max = 2;
  TestCluster cluster(options);
  cluster.node("n1").begin_batch();
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(cluster.send("n1", proto::PutRequest{fmt::format("k{}", i), "v", "", 1}));
  }
  int refused = 0;
  for (uint64_t id : ids) {
    auto response = cluster.response(id);
    if (response && response->status.code() == StatusCode::kOverloaded) ++refused;
  }
  EXPECT_EQ(refused, 3) << "two taken, the rest refused at once";
  cluster.node("n1").commit_batch();
  cluster.deliver();
}

TEST(NodeTest, AnAnsweredWriteNoLongerCountsAgainstTheInFlightLimit) {
  // A put round lives on after its answer until every replica acked (late stand-ins); that
  // is background work, not a client waiting, so it must not shed the next client.
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3"};  // no fallback: the silent replica holds the round
  options.limits.client_requests_in_flight_max = 1;
  TestCluster cluster(options);
  const std::string key = "k";
  const NodeId coordinator = cluster.primaries(key)[0];
  cluster.set_blackholed(cluster.primaries(key)[2], true);
  ASSERT_TRUE(cluster.put(coordinator, key, "v1", "", 2).status.is_ok());
  EXPECT_EQ(cluster.node(coordinator).in_flight(), 1u) << "the round waits for the third ack";
  auto next = cluster.put(coordinator, "other-key", "v", "", 1);
  EXPECT_NE(next.status.code(), StatusCode::kOverloaded) << next.status.to_string();
}

TEST(NodeTest, AnAnsweredGetWaitingToRepairNoLongerCountsAgainstTheInFlightLimit) {
  TestCluster::Options options;
  options.limits.client_requests_in_flight_max = 1;
  TestCluster cluster(options);
  const std::string key = "k";
  const NodeId coordinator = cluster.primaries(key)[0];
  ASSERT_TRUE(cluster.put(coordinator, key, "v", "", 3).status.is_ok());
  cluster.set_blackholed(cluster.primaries(key)[2], true);
  ASSERT_TRUE(cluster.get(coordinator, key, 2).status.is_ok());
  EXPECT_EQ(cluster.node(coordinator).in_flight(), 1u) << "the round waits for read repair";
  auto next = cluster.get(coordinator, "other-key", 1);
  EXPECT_NE(next.status.code(), StatusCode::kOverloaded) << next.status.to_string();
}

}  // namespace
}  // namespace qkv::testing
