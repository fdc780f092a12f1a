// Conditional writes (put-if-absent, put/delete-if-unchanged) in the node core: where they
// are coordinated, the pre-read, the check, the refusals (node/coordinator/conditional_write.h).
#include "node/coordinator/conditional_write.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/wire/replica_codec.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

using proto::WriteCondition;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const proto::GetResponse& body(const proto::ClientResponse& r) {
  return std::get<proto::GetResponse>(r.body);
}

proto::PutRequest put_if(const std::string& key, const std::string& value, WriteCondition c,
                         const std::string& context = "", uint32_t ttl_seconds = 0) {
  proto::PutRequest put{key, value, context};
  put.condition = c;
  put.ttl_seconds = ttl_seconds;
  return put;
}

proto::DeleteRequest del_if(const std::string& key, WriteCondition c,
                            const std::string& context = "") {
  proto::DeleteRequest del{key, context};
  del.condition = c;
  return del;
}

TEST(ConditionalWriteTest, PutIfAbsentTakesAMissingKeyAndRefusesALiveOne) {
  TestCluster cluster;
  const NodeId first = cluster.primaries("k")[0];
  auto taken = cluster.request("n2", put_if("k", "v1", WriteCondition::kIfAbsent));
  ASSERT_TRUE(taken.status.is_ok()) << taken.status.to_string();
  ASSERT_TRUE(std::holds_alternative<proto::PutResponse>(taken.body));

  auto refused = cluster.request("n3", put_if("k", "v2", WriteCondition::kIfAbsent));
  EXPECT_EQ(refused.status.code(), StatusCode::kPreconditionFailed);
  EXPECT_EQ(refused.status.message(), "put-if-absent refused: the key has 1 live value");
  EXPECT_THAT(body(cluster.get("n1", "k", 3)).values, UnorderedElementsAre("v1"))
      << "nothing was written";
  EXPECT_EQ(cluster.node(first).counters().conditional_writes, 2u);
  EXPECT_EQ(cluster.node(first).counters().preconditions_failed, 1u);
}

TEST(ConditionalWriteTest, PutIfAbsentTakesADeletedKey) {
  TestCluster cluster;
  ASSERT_TRUE(cluster.put("n1", "k", "old").status.is_ok());
  ASSERT_TRUE(cluster.del("n1", "k", body(cluster.get("n1", "k")).context).status.is_ok());
  auto taken = cluster.request("n2", put_if("k", "new", WriteCondition::kIfAbsent));
  ASSERT_TRUE(taken.status.is_ok()) << taken.status.to_string();
  EXPECT_THAT(body(cluster.get("n3", "k", 3)).values, UnorderedElementsAre("new"));
}

TEST(ConditionalWriteTest, PutIfAbsentTakesAKeyWhoseValueExpired) {
  TestCluster::Options options;
  options.wall_clock = true;
  TestCluster cluster(options);
  ASSERT_TRUE(cluster.request("n1", put_if("k", "lease-1", WriteCondition::kIfAbsent, "", 2))
                  .status.is_ok());
  EXPECT_EQ(cluster.request("n2", put_if("k", "lease-2", WriteCondition::kIfAbsent)).status.code(),
            StatusCode::kPreconditionFailed)
      << "the lease still runs";
  cluster.advance(Duration(2'100));
  auto taken = cluster.request("n2", put_if("k", "lease-2", WriteCondition::kIfAbsent));
  ASSERT_TRUE(taken.status.is_ok()) << taken.status.to_string();
  EXPECT_THAT(body(cluster.get("n3", "k", 3)).values, UnorderedElementsAre("lease-2"));
}

TEST(ConditionalWriteTest, IfUnchangedPassesWithACoveringContextAndFailsAfterAnotherWrite) {
  TestCluster cluster;
  ASSERT_TRUE(cluster.put("n1", "k", "v1").status.is_ok());
  const std::string read = body(cluster.get("n2", "k")).context;
  auto first = cluster.request("n3", put_if("k", "v2", WriteCondition::kIfUnchanged, read));
  ASSERT_TRUE(first.status.is_ok()) << first.status.to_string();

  // A second writer with the same (now stale) context: v2 is a sibling it did not see.
  auto second = cluster.request("n2", put_if("k", "v3", WriteCondition::kIfUnchanged, read));
  EXPECT_EQ(second.status.code(), StatusCode::kPreconditionFailed);
  EXPECT_THAT(second.status.message(),
              HasSubstr("put-if-unchanged refused: 1 sibling the context does not cover"));
  EXPECT_THAT(body(cluster.get("n1", "k", 3)).values, UnorderedElementsAre("v2"));

  // Deletes too; and with the context of v2 the delete goes through.
  EXPECT_EQ(cluster.request("n1", del_if("k", WriteCondition::kIfUnchanged, read)).status.code(),
            StatusCode::kPreconditionFailed);
  const std::string latest = std::get<proto::PutResponse>(first.body).context;
  ASSERT_TRUE(
      cluster.request("n1", del_if("k", WriteCondition::kIfUnchanged, latest)).status.is_ok());
  EXPECT_EQ(cluster.get("n2", "k", 3).status.code(), StatusCode::kNotFound);
}

TEST(ConditionalWriteTest, IfUnchangedWithoutAContextOnlyCreates) {
  TestCluster cluster;
  ASSERT_TRUE(cluster.request("n1", put_if("k", "v1", WriteCondition::kIfUnchanged)).status.is_ok())
      << "no state at all: nothing to cover";
  auto refused = cluster.request("n2", put_if("k", "v2", WriteCondition::kIfUnchanged));
  EXPECT_EQ(refused.status.code(), StatusCode::kPreconditionFailed);
  // A tombstone is a change as well: the context must cover it.
  const std::string ctx = body(cluster.get("n1", "k")).context;
  ASSERT_TRUE(cluster.del("n1", "k", ctx).status.is_ok());
  EXPECT_EQ(
      cluster.request("n3", put_if("k", "v3", WriteCondition::kIfUnchanged, ctx)).status.code(),
      StatusCode::kPreconditionFailed);
}

TEST(ConditionalWriteTest, DeleteIfAbsentIsInvalid) {
  TestCluster cluster;
  auto refused = cluster.request("n1", del_if("k", WriteCondition::kIfAbsent));
  EXPECT_EQ(refused.status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status.message(), HasSubstr("if-absent applies to puts only"));
}

TEST(ConditionalWriteTest, AnyNodeSendsItToTheFirstPrimaryThatIsUp) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4", "n5"};
  TestCluster cluster(options);
  const std::vector<NodeId> primaries = cluster.primaries("k");
  // Another primary and a node that is no replica both forward it to the first primary.
  for (const NodeId& via : {primaries[2], cluster.fallbacks("k")[0]}) {
    const std::string ctx = body(cluster.get(primaries[0], "k")).context;
    auto put = cluster.request(via, put_if("k", "v-" + via, WriteCondition::kIfUnchanged, ctx));
    ASSERT_TRUE(put.status.is_ok()) << via << ": " << put.status.to_string();
    EXPECT_EQ(cluster.node(via).counters().forwarded, 1u) << via;
    EXPECT_EQ(cluster.node(via).counters().conditional_writes, 0u) << via;
  }
  EXPECT_EQ(cluster.node(primaries[0]).counters().conditional_writes, 2u);

  // The first primary down (as every node's failure detector holds): the second one.
  auto first_down = [&](const NodeId& p) { return p != primaries[0]; };
  for (const NodeId& id : options.members) cluster.node(id).set_liveness(first_down);
  cluster.set_down(primaries[0], true);
  const std::string ctx = body(cluster.get(primaries[2], "k")).context;
  auto put = cluster.request(primaries[2], put_if("k", "v", WriteCondition::kIfUnchanged, ctx));
  ASSERT_TRUE(put.status.is_ok()) << put.status.to_string();
  EXPECT_EQ(cluster.node(primaries[1]).counters().conditional_writes, 1u);

  // No primary up: unavailable, naming them.
  for (const NodeId& id : options.members) {
    cluster.node(id).set_liveness([&](const NodeId& p) {
      return std::find(primaries.begin(), primaries.end(), p) == primaries.end();
    });
  }
  auto none =
      cluster.request(cluster.fallbacks("k")[0], put_if("k", "x", WriteCondition::kIfAbsent));
  EXPECT_EQ(none.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(none.status.message(), HasSubstr("no primary of the key is up"));
  EXPECT_THAT(none.status.message(), HasSubstr(primaries[0]));
}

TEST(ConditionalWriteTest, ThePreReadSeesAWriteTheCoordinatorMissedWhileDown) {
  TestCluster::Options options;
  options.hinted_handoff = false;  // only the pre-read can bring the write to it
  TestCluster cluster(options);
  const std::vector<NodeId> primaries = cluster.primaries("k");
  cluster.set_down(primaries[0], true);
  ASSERT_TRUE(cluster.put(primaries[1], "k", "while-down", "", 2).status.is_ok());
  cluster.set_down(primaries[0], false);
  ASSERT_FALSE(cluster.storage(primaries[0]).get(ring::token_of("k"), "k").value().has_value());

  auto refused = cluster.request(primaries[0], put_if("k", "mine", WriteCondition::kIfAbsent));
  EXPECT_EQ(refused.status.code(), StatusCode::kPreconditionFailed) << refused.status.to_string();
  auto stored = cluster.storage(primaries[0]).get(ring::token_of("k"), "k");
  ASSERT_TRUE(stored.value().has_value()) << "the pre-read joined it into the coordinator's copy";
  EXPECT_THAT(node::decode_sibling_set(*stored.value())->values(),
              UnorderedElementsAre("while-down"));
}

TEST(ConditionalWriteTest, ThePreReadNeedsReadQuorum) {
  TestCluster cluster;
  const std::vector<NodeId> primaries = cluster.primaries("k");
  cluster.set_down(primaries[1], true);
  cluster.set_down(primaries[2], true);
  auto put = cluster.request(primaries[0], put_if("k", "v", WriteCondition::kIfAbsent));
  EXPECT_EQ(put.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(put.status.message(),
              HasSubstr("conditional write needs a read quorum: answered by " + primaries[0]));
  EXPECT_EQ(cluster.storage(primaries[0]).get(ring::token_of("k"), "k").value(), std::nullopt);
}

TEST(ConditionalWriteTest, TwoAtOneCoordinatorInOneBatchNeverBothPass) {
  // Both pre-reads are decided while the first write is staged and not yet committed (a
  // group-commit batch): the second check must see it.
  TestCluster cluster;
  const NodeId first = cluster.primaries("k")[0];
  node::Node& coordinator = cluster.node(first);
  coordinator.begin_batch();
  for (uint64_t id : {9001u, 9002u}) {
    coordinator.on_client_request(
        7, proto::ClientRequest{id, 0, put_if("k", std::to_string(id), WriteCondition::kIfAbsent)},
        cluster.now());
  }
  cluster.deliver();
  coordinator.commit_batch();
  cluster.deliver();
  auto a = cluster.response(9001), b = cluster.response(9002);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->status.is_ok()) << a->status.to_string();
  EXPECT_EQ(b->status.code(), StatusCode::kPreconditionFailed) << b->status.to_string();
  EXPECT_THAT(body(cluster.get("n2", "k", 3)).values, UnorderedElementsAre("9001"));
}

}  // namespace
}  // namespace qkv::testing
