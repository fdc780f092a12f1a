// Claimant: `node remove` of a lost node (Riak's force-remove, Cassandra's removenode): refused
// for a node that is up unless forced, planned like a leave, and committed with the node
// named in RingState::removed so no receiver pulls from it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "node/claimant.h"
#include "tests/node/claimant_testing.h"

namespace qkv::node {
namespace {

using ::testing::HasSubstr;
using testing::kN;
using testing::kQ;
using testing::make_ring;
using testing::member;
using Kind = RingChange::Kind;

// n1..n4 own the ring; n4 is down (killed, its disk gone) unless a test says otherwise.
struct ClaimantRemoveTest : ::testing::Test {
  ClaimantRemoveTest() {
    claimant.set_liveness([this](const NodeId& id) { return !down.contains(id); });
  }

  Status stage(Kind kind, const NodeId& node, bool force = false) {
    return claimant.stage({kind, node, "", force}, ring, members);
  }
  RingPlan plan_ok() {
    Result<RingPlan> plan = claimant.plan(ring, members);
    EXPECT_TRUE(plan.is_ok()) << plan.status().to_string();
    return plan.is_ok() ? std::move(plan).value() : RingPlan{};
  }

  gossip::RingState ring = make_ring({"n1", "n2", "n3", "n4"});
  MemberView members = {
      {"n1", member("n1")}, {"n2", member("n2")}, {"n3", member("n3")}, {"n4", member("n4")}};
  std::set<NodeId> down = {"n4"};
  Claimant claimant{"n1"};
};

TEST_F(ClaimantRemoveTest, ANodeThatIsUpIsToldToLeaveUnlessForced) {
  Status refused = stage(Kind::kRemove, "n2");
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("remove n2: n2 is up"));
  EXPECT_THAT(refused.message(), HasSubstr("qkvctl node leave n2"));
  EXPECT_TRUE(claimant.staged().empty());

  ASSERT_TRUE(stage(Kind::kRemove, "n2", /*force=*/true).is_ok());
  EXPECT_EQ(describe(claimant.staged().back()), "remove n2 (forced)");
}

TEST_F(ClaimantRemoveTest, OnlyAnOwnerNotStagedAlreadyAndNotTheLastOneIsRemoved) {
  members["n5"] = member("n5", "", gossip::Status::kJoining);
  down.insert("n5");
  EXPECT_THAT(stage(Kind::kRemove, "n5").message(), HasSubstr("n5 owns no partitions"));
  ASSERT_TRUE(stage(Kind::kRemove, "n4").is_ok());
  EXPECT_EQ(describe(claimant.staged().back()), "remove n4");
  EXPECT_THAT(stage(Kind::kRemove, "n4").message(), HasSubstr("already staged"));
  EXPECT_THAT(stage(Kind::kLeave, "n4").message(), HasSubstr("already staged"));

  gossip::RingState single = make_ring({"n1"});
  Claimant alone("n1");
  EXPECT_THAT(alone.stage({Kind::kRemove, "n1", "", true}, single, members).message(),
              HasSubstr("last member"));
}

TEST_F(ClaimantRemoveTest, APlanNeverNamesTheRemovedNodeAsASource) {
  ASSERT_TRUE(stage(Kind::kRemove, "n4").is_ok());
  RingPlan plan = plan_ok();
  EXPECT_EQ(plan.ownership.at("n4").second, 0u);
  ASSERT_FALSE(plan.transfers.empty());
  const ring::Ring now(ring.owners);
  bool from_a_range_of_n4 = false;
  for (const ring::Transfer& t : plan.transfers) {
    EXPECT_NE(t.from, "n4") << t.partition;
    EXPECT_NE(t.to, "n4") << t.partition;
    auto old = now.preference_list(now.first_token(t.partition), kN);
    EXPECT_TRUE(old.is_primary(t.from)) << t.partition << " from " << t.from;
    from_a_range_of_n4 = from_a_range_of_n4 || old.is_primary("n4");
  }
  EXPECT_TRUE(from_a_range_of_n4);
}

TEST_F(ClaimantRemoveTest, CommitNamesTheRemovedAndTheSwitchAndACancelForgetThem) {
  ASSERT_TRUE(stage(Kind::kRemove, "n4").is_ok());
  RingPlan plan = plan_ok();
  Result<gossip::RingState> committed = claimant.commit(plan.id, ring, members);
  ASSERT_TRUE(committed.is_ok()) << committed.status().to_string();
  EXPECT_EQ(committed->removed, std::vector<NodeId>{"n4"});
  EXPECT_EQ(committed->owners, ring.owners);
  EXPECT_EQ(committed->next_owners, plan.next_owners);

  // n4 is no receiver: the others' reports complete the transition.
  for (const NodeId& id : transition_progress(*committed, members).waiting_on) {
    EXPECT_NE(id, "n4");
    members[id].transfers_done = committed->version;
  }
  std::optional<gossip::RingState> done = claimant.maybe_complete(*committed, members);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->removed.empty());
  EXPECT_EQ(std::count(done->owners.begin(), done->owners.end(), "n4"), 0);

  Result<std::optional<gossip::RingState>> cancelled = claimant.cancel(*committed);
  ASSERT_TRUE(cancelled.is_ok());
  ASSERT_TRUE(cancelled->has_value());
  EXPECT_TRUE((*cancelled)->removed.empty());
  EXPECT_EQ((*cancelled)->owners, ring.owners);
}

TEST_F(ClaimantRemoveTest, ANodeBackUpBeforeThePlanNoLongerFits) {
  ASSERT_TRUE(stage(Kind::kRemove, "n4").is_ok());
  down.clear();  // n4 restarted with its data: it should leave instead
  Status refused = claimant.plan(ring, members).status();
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("no longer fits: remove n4: n4 is up"));
}

TEST_F(ClaimantRemoveTest, ARemoveWithAJoinMovesTheLostNodesShareToTheNewcomer) {
  members["n5"] = member("n5", "", gossip::Status::kJoining);
  ASSERT_TRUE(stage(Kind::kRemove, "n4").is_ok());
  ASSERT_TRUE(claimant.stage({Kind::kJoin, "n5", ""}, ring, members).is_ok());
  RingPlan plan = plan_ok();
  EXPECT_EQ(plan.ownership.at("n4").second, 0u);
  EXPECT_EQ(plan.ownership.at("n5").second, kQ / 4);
  Result<gossip::RingState> committed = claimant.commit(plan.id, ring, members);
  ASSERT_TRUE(committed.is_ok());
  EXPECT_EQ(committed->removed, std::vector<NodeId>{"n4"});
}

}  // namespace
}  // namespace qkv::node
