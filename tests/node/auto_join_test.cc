// Auto-join: a node's own join request (node/auto_join.h) and the claimant's side of it
// (node/claimant.h): automatic joins staged, committed by the claimant after a quiet period
// in one transition, and never together with (or instead of) an operator's changes.
#include "node/auto_join.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "node/claimant.h"
#include "tests/node/claimant_testing.h"

namespace qkv::node {
namespace {

using ::testing::HasSubstr;
using testing::make_ring;
using testing::member;
using Kind = RingChange::Kind;

constexpr Duration kQuiet{10'000};

TimePoint at(int64_t ms) {
  return TimePoint(Duration(ms));
}

// n1..n3 own the ring (claimant n1); n4..n6 have started with seeds and auto_join.
struct AutoJoinClaimantTest : ::testing::Test {
  AutoJoinClaimantTest() {
    claimant.set_liveness([this](const NodeId& id) { return !down.contains(id); });
  }

  Result<bool> ask(const NodeId& id, int64_t ms) {
    return claimant.stage_auto_join(id, ring, members, at(ms));
  }
  AutoCommit tick(int64_t ms) { return claimant.maybe_auto_commit(ring, members, at(ms), kQuiet); }

  gossip::RingState ring = make_ring({"n1", "n2", "n3"});
  MemberView members = {{"n1", member("n1")},
                        {"n2", member("n2")},
                        {"n3", member("n3")},
                        {"n4", member("n4", "", gossip::Status::kJoining)},
                        {"n5", member("n5", "", gossip::Status::kJoining)},
                        {"n6", member("n6", "", gossip::Status::kJoining)}};
  std::set<NodeId> down;
  Claimant claimant{"n1"};
};

TEST_F(AutoJoinClaimantTest, AJoinAskedTwiceIsStagedOnceMarkedAutomatic) {
  ASSERT_TRUE(ask("n4", 0).value());
  EXPECT_FALSE(ask("n4", 100).value()) << "already staged";
  ASSERT_EQ(claimant.staged().size(), 1u);
  EXPECT_TRUE(claimant.staged()[0].automatic);
  EXPECT_EQ(describe(claimant.staged()[0]), "join n4 (auto_join)");
  // An operator's own join of it stays the operator's.
  ASSERT_TRUE(claimant.stage({Kind::kJoin, "n5", ""}, ring, members).is_ok());
  EXPECT_FALSE(ask("n5", 200).value());
  EXPECT_FALSE(claimant.staged()[1].automatic);
}

TEST_F(AutoJoinClaimantTest, AnOwnerOrAnotherNodeThanTheClaimantRefuses) {
  EXPECT_THAT(ask("n2", 0).status().message(), HasSubstr("already owns"));
  Claimant other("n2");
  EXPECT_EQ(other.stage_auto_join("n4", ring, members, at(0)).status().code(),
            StatusCode::kUnavailable);
  EXPECT_FALSE(other.maybe_auto_commit(ring, members, at(60'000), kQuiet).ring.has_value());
}

TEST_F(AutoJoinClaimantTest, JoinsInOneQuietPeriodAreCommittedAsOneTransition) {
  ASSERT_TRUE(ask("n4", 0).value());
  ASSERT_TRUE(ask("n5", 4'000).value());
  ASSERT_TRUE(ask("n6", 8'000).value());
  (void)ask("n4", 9'000);  // asking again does not restart the quiet period
  EXPECT_FALSE(tick(17'999).ring.has_value()) << "quiet since n6 only";
  AutoCommit done = tick(18'000);
  ASSERT_TRUE(done.ring.has_value());
  ASSERT_TRUE(done.plan.has_value());
  EXPECT_TRUE(done.error.is_ok());
  EXPECT_EQ(done.ring->version, 2u);
  EXPECT_EQ(done.plan->changes.size(), 3u);
  std::set<NodeId> next(done.ring->next_owners.begin(), done.ring->next_owners.end());
  EXPECT_EQ(next, (std::set<NodeId>{"n1", "n2", "n3", "n4", "n5", "n6"}));
  EXPECT_TRUE(claimant.staged().empty());
  EXPECT_FALSE(tick(60'000).ring.has_value()) << "nothing left";
}

TEST_F(AutoJoinClaimantTest, AnOperatorsStagedChangeIsNeverCommittedBehindTheirBack) {
  ASSERT_TRUE(ask("n4", 0).value());
  ASSERT_TRUE(claimant.stage({Kind::kLeave, "n2", ""}, ring, members).is_ok());
  EXPECT_FALSE(tick(3'600'000).ring.has_value());
  EXPECT_EQ(claimant.staged().size(), 2u) << "the automatic join waits in the staging";
  // The operator's plan carries both.
  Result<RingPlan> plan = claimant.plan(ring, members);
  ASSERT_TRUE(plan.is_ok());
  EXPECT_EQ(plan->changes.size(), 2u);
  // A join staged by hand is the operator's too.
  ASSERT_TRUE(claimant.cancel(ring).is_ok());
  ASSERT_TRUE(claimant.stage({Kind::kJoin, "n5", ""}, ring, members).is_ok());
  ASSERT_TRUE(ask("n4", 0).value());
  EXPECT_FALSE(tick(3'600'000).ring.has_value());
}

TEST_F(AutoJoinClaimantTest, AJoinerThatWentDownIsUnstagedAndTheRestCommitted) {
  ASSERT_TRUE(ask("n4", 0).value());
  ASSERT_TRUE(ask("n5", 0).value());
  down.insert("n5");
  AutoCommit done = tick(kQuiet.count());
  EXPECT_EQ(done.unstaged, std::vector<NodeId>{"n5"});
  ASSERT_TRUE(done.ring.has_value());
  EXPECT_EQ(std::count(done.ring->next_owners.begin(), done.ring->next_owners.end(), "n5"), 0);
  EXPECT_GT(std::count(done.ring->next_owners.begin(), done.ring->next_owners.end(), "n4"), 0);

  // All of them down: nothing is committed.
  ring = *done.ring;
  ring.owners = ring.next_owners;
  ring.next_owners.clear();
  down.insert("n6");
  ASSERT_TRUE(ask("n6", 20'000).value());
  done = tick(30'000);
  EXPECT_EQ(done.unstaged, std::vector<NodeId>{"n6"});
  EXPECT_FALSE(done.ring.has_value());
  EXPECT_TRUE(claimant.staged().empty());
}

TEST_F(AutoJoinClaimantTest, JoinsAskedDuringATransitionWaitForIt) {
  ASSERT_TRUE(ask("n4", 0).value());
  AutoCommit first = tick(10'000);
  ASSERT_TRUE(first.ring.has_value());
  ring = *first.ring;
  ASSERT_TRUE(ask("n5", 11'000).value());
  EXPECT_FALSE(tick(60'000).ring.has_value()) << "a transition is in progress";
  ring.owners = ring.next_owners;  // the switch
  ring.next_owners.clear();
  ring.version += 1;
  AutoCommit second = tick(60'000);
  ASSERT_TRUE(second.ring.has_value());
  EXPECT_GT(std::count(second.ring->next_owners.begin(), second.ring->next_owners.end(), "n5"), 0);
}

TEST_F(AutoJoinClaimantTest, AJoinerRemovedSinceIsUnstaged) {
  ASSERT_TRUE(ask("n4", 0).value());
  members["n4"].status = gossip::Status::kRemoved;  // it left since
  AutoCommit done = tick(10'000);
  EXPECT_FALSE(done.ring.has_value());
  EXPECT_EQ(done.unstaged, std::vector<NodeId>{"n4"});
  EXPECT_TRUE(claimant.staged().empty());
}

// The joining node's side.
struct AutoJoinRequestTest : ::testing::Test {
  AutoJoinConfig config() {
    AutoJoinConfig c;
    c.enabled = true;
    return c;
  }
  gossip::RingState ring = make_ring({"n1", "n2", "n3"});
};

TEST_F(AutoJoinRequestTest, ANodeOutsideTheRingAsksTheClaimantToStageItsJoin) {
  AutoJoin join(config());
  std::optional<JoinRequest> request = join.due(at(0), "n4", ring, true);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->claimant, "n1");
  EXPECT_TRUE(join.awaits(request->request_id));
  EXPECT_FALSE(join.awaits(request->request_id + 1)) << "the node core's";
  const auto& stage = std::get<proto::RingAdminRequest>(request->request.op);
  EXPECT_EQ(stage.action, proto::RingAction::kStage);
  EXPECT_EQ(stage.kind, proto::RingChangeKind::kJoin);
  EXPECT_EQ(stage.node, "n4");

  EXPECT_FALSE(join.due(at(1'999), "n4", ring, true).has_value()) << "one at a time";
  std::optional<JoinRequest> again = join.due(at(2'000), "n4", ring, true);
  ASSERT_TRUE(again.has_value()) << "asked again until the ring names it";
  EXPECT_NE(again->request_id, request->request_id);
  EXPECT_FALSE(join.awaits(request->request_id)) << "given up on: a late answer is not taken";
}

TEST_F(AutoJoinRequestTest, NoRequestWhenOffInTheRingIneligibleOrWithoutARing) {
  AutoJoin off{AutoJoinConfig{}};
  EXPECT_FALSE(off.due(at(0), "n4", ring, true).has_value());
  AutoJoin join(config());
  EXPECT_FALSE(join.due(at(0), "n2", ring, true).has_value()) << "an owner";
  EXPECT_FALSE(join.due(at(0), "n4", ring, false).has_value()) << "a former member";
  EXPECT_FALSE(join.due(at(0), "n4", gossip::RingState{}, true).has_value()) << "no ring yet";
  gossip::RingState transition = ring;
  transition.next_owners = make_ring({"n1", "n2", "n3", "n4"}).owners;
  EXPECT_FALSE(join.due(at(0), "n4", transition, true).has_value()) << "joining already";
  gossip::RingState own = ring;
  own.claimant = "n4";
  EXPECT_FALSE(join.due(at(0), "n4", own, true).has_value());
}

TEST_F(AutoJoinRequestTest, AnswersAreLoggedOncePerClaimantAndPerError) {
  AutoJoin join(config());
  auto answer = [](uint64_t id, Status status) { return proto::ClientResponse{id, status, {}}; };
  uint64_t id = join.due(at(0), "n4", ring, true)->request_id;
  EXPECT_TRUE(join.on_reply(id + 1, answer(id + 1, Status::ok())).empty()) << "not ours";
  auto events = join.on_reply(id, answer(id, Status::ok()));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event(), "auto_join_requested");
  EXPECT_EQ(events[0].field("claimant"), "n1");
  EXPECT_TRUE(join.on_reply(id, answer(id, Status::ok())).empty()) << "answered already";

  id = join.due(at(2'000), "n4", ring, true)->request_id;
  EXPECT_TRUE(join.on_reply(id, answer(id, Status::ok())).empty()) << "staged there already";
  Status refused = Status::unavailable("the claimant restarted");
  id = join.due(at(4'000), "n4", ring, true)->request_id;
  events = join.on_reply(id, answer(id, refused));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event(), "auto_join_refused");
  EXPECT_EQ(events[0].level(), LogLevel::kWarn);
  id = join.due(at(6'000), "n4", ring, true)->request_id;
  EXPECT_TRUE(join.on_reply(id, answer(id, refused)).empty()) << "the same error again";
}

TEST(AutoJoinConfigTest, TheQuietPeriodMustBePositive) {
  AutoJoinConfig c;
  EXPECT_TRUE(c.validate().is_ok());
  c.quiet = Duration(0);
  EXPECT_THAT(c.validate().message(), HasSubstr("cluster.auto_join_quiet_ms"));
}

}  // namespace
}  // namespace qkv::node
