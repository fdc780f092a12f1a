// Claimant: staging, planning, committing, cancelling and completing ring transitions.
#include "node/claimant.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/node/claimant_testing.h"

namespace qkv::node {
namespace {

using ::testing::HasSubstr;
using Kind = RingChange::Kind;

using testing::kN;
using testing::kQ;
using testing::make_ring;
using testing::member;

// n1..n3 own the ring; n4 and n5 are known and own nothing.
struct ClaimantTest : ::testing::Test {
  gossip::RingState ring = make_ring({"n1", "n2", "n3"});
  MemberView members = {{"n1", member("n1")},
                        {"n2", member("n2")},
                        {"n3", member("n3")},
                        {"n4", member("n4", "", gossip::Status::kJoining)},
                        {"n5", member("n5", "", gossip::Status::kJoining)}};
  Claimant claimant{"n1"};

  Status stage(Kind kind, const NodeId& node = "", const NodeId& replacement = "") {
    return claimant.stage({kind, node, replacement}, ring, members);
  }
  RingPlan plan_ok() {
    Result<RingPlan> plan = claimant.plan(ring, members);
    EXPECT_TRUE(plan.is_ok()) << plan.status().to_string();
    return plan.is_ok() ? std::move(plan).value() : RingPlan{};
  }
  gossip::RingState commit_ok(uint64_t id) {
    Result<gossip::RingState> next = claimant.commit(id, ring, members);
    EXPECT_TRUE(next.is_ok()) << next.status().to_string();
    return next.is_ok() ? std::move(next).value() : gossip::RingState{};
  }
  // Marks every receiver of `ring`'s transition as done with it.
  void report_all_done(const gossip::RingState& transition) {
    for (const NodeId& id : transition_progress(transition, members).waiting_on) {
      members[id].transfers_done = transition.version;
    }
  }
};

void expect_error(const Status& s, StatusCode code, const std::string& part) {
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr(part));
}

TEST(Describe, NamesEachKind) {
  EXPECT_EQ(describe({Kind::kJoin, "n4", ""}), "join n4");
  EXPECT_EQ(describe({Kind::kLeave, "n2", ""}), "leave n2");
  EXPECT_EQ(describe({Kind::kReplace, "n2", "n6"}), "replace n2 with n6");
  EXPECT_EQ(describe({Kind::kRebalance, "", ""}), "rebalance");
}

TEST_F(ClaimantTest, StageRefusesUnknownNode) {
  expect_error(stage(Kind::kJoin, "n9"), StatusCode::kInvalidArgument, "'n9'");
  expect_error(stage(Kind::kJoin, "10.9.9.9:7000"), StatusCode::kInvalidArgument,
               "'10.9.9.9:7000'");
  EXPECT_TRUE(claimant.staged().empty());
}

TEST_F(ClaimantTest, StageRefusesRemovedNode) {
  members["n4"].status = gossip::Status::kRemoved;
  expect_error(stage(Kind::kJoin, "n4"), StatusCode::kInvalidArgument, "n4 was removed");
  expect_error(stage(Kind::kReplace, "n2", "n4"), StatusCode::kInvalidArgument, "n4 was removed");
}

TEST_F(ClaimantTest, StageRefusesDoubleJoinAndJoinOfAnOwner) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  expect_error(stage(Kind::kJoin, "n4"), StatusCode::kInvalidArgument, "already staged");
  expect_error(stage(Kind::kJoin, "10.0.0.4:8000"), StatusCode::kInvalidArgument, "already staged");
  expect_error(stage(Kind::kJoin, "n2"), StatusCode::kInvalidArgument, "already owns");
  EXPECT_EQ(claimant.staged().size(), 1u);
}

TEST_F(ClaimantTest, StageRefusesLeaveOfNonOwner) {
  expect_error(stage(Kind::kLeave, "n4"), StatusCode::kInvalidArgument, "n4 owns no partitions");
}

TEST_F(ClaimantTest, StageRefusesLeavingTheLastNode) {
  ASSERT_TRUE(stage(Kind::kLeave, "n2").is_ok());
  expect_error(stage(Kind::kLeave, "n2"), StatusCode::kInvalidArgument, "already staged");
  ASSERT_TRUE(stage(Kind::kLeave, "n3").is_ok());
  expect_error(stage(Kind::kLeave, "n1"), StatusCode::kInvalidArgument, "last member");

  gossip::RingState single = make_ring({"n1"});
  Claimant alone("n1");
  expect_error(alone.stage({Kind::kLeave, "n1", ""}, single, members), StatusCode::kInvalidArgument,
               "last member");
}

TEST_F(ClaimantTest, StageRefusesReplaceWithMember) {
  expect_error(stage(Kind::kReplace, "n2", "n3"), StatusCode::kInvalidArgument,
               "n3 already owns partitions");
  expect_error(stage(Kind::kReplace, "n4", "n5"), StatusCode::kInvalidArgument,
               "n4 owns no partitions");
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  expect_error(stage(Kind::kReplace, "n2", "n4"), StatusCode::kInvalidArgument, "already staged");
}

TEST_F(ClaimantTest, NonClaimantRefusesNamingTheClaimant) {
  Claimant other("n2");
  const std::string hint = "the claimant, n1";
  expect_error(other.stage({Kind::kJoin, "n4", ""}, ring, members), StatusCode::kUnavailable, hint);
  expect_error(other.plan(ring, members).status(), StatusCode::kUnavailable, hint);
  expect_error(other.commit(1, ring, members).status(), StatusCode::kUnavailable, hint);
  expect_error(other.cancel(ring).status(), StatusCode::kUnavailable, hint);
  EXPECT_FALSE(other.maybe_complete(ring, members).has_value());
}

TEST_F(ClaimantTest, NoRingYetRefused) {
  gossip::RingState none;
  expect_error(claimant.stage({Kind::kRebalance, "", ""}, none, members), StatusCode::kUnavailable,
               "no ring yet");
}

TEST_F(ClaimantTest, JoinByAddressResolvesToTheId) {
  ASSERT_TRUE(stage(Kind::kJoin, "10.0.0.4:7000").is_ok());  // peer address
  ASSERT_TRUE(stage(Kind::kJoin, "10.0.0.5:8000").is_ok());  // client address
  ASSERT_EQ(claimant.staged().size(), 2u);
  EXPECT_EQ(claimant.staged()[0], (RingChange{Kind::kJoin, "n4", ""}));
  EXPECT_EQ(claimant.staged()[1], (RingChange{Kind::kJoin, "n5", ""}));
}

TEST_F(ClaimantTest, RebalanceStagedTwiceKeepsOne) {
  ASSERT_TRUE(stage(Kind::kRebalance).is_ok());
  ASSERT_TRUE(stage(Kind::kRebalance).is_ok());
  EXPECT_EQ(claimant.staged().size(), 1u);
}

TEST_F(ClaimantTest, PlanRefusesNothingStaged) {
  expect_error(claimant.plan(ring, members).status(), StatusCode::kInvalidArgument,
               "nothing staged");
}

TEST_F(ClaimantTest, PlanForJoinOfAFourthNode) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  RingPlan plan = plan_ok();
  EXPECT_NE(plan.id, 0u);
  EXPECT_EQ(plan.from_version, 1u);
  EXPECT_EQ(plan.changes, claimant.staged());
  ASSERT_EQ(plan.next_owners.size(), kQ);
  EXPECT_EQ(plan_ok().id, plan.id);  // deterministic

  uint32_t moved = 0;
  for (uint32_t p = 0; p < kQ; ++p) moved += ring.owners[p] != plan.next_owners[p];
  EXPECT_GE(moved, kQ / 4 - 2);
  EXPECT_LE(moved, kQ / 4 + 4);
  EXPECT_EQ(plan.quality.moved, moved);

  // Ownership: n1..n3 own 22/21/21 before; everyone owns 16 after.
  ASSERT_EQ(plan.ownership.size(), 4u);
  uint32_t before = 0;
  for (const auto& [id, counts] : plan.ownership) {
    before += counts.first;
    EXPECT_EQ(counts.second, kQ / 4) << id;
  }
  EXPECT_EQ(before, kQ);
  EXPECT_EQ(plan.ownership.at("n4").first, 0u);

  // Every transfer goes to a new primary of its partition.
  ring::Ring next(plan.next_owners);
  ring::Ring now(ring.owners);
  ASSERT_FALSE(plan.transfers.empty());
  for (const ring::Transfer& t : plan.transfers) {
    EXPECT_TRUE(next.preference_list(next.first_token(t.partition), kN).is_primary(t.to));
    EXPECT_FALSE(now.preference_list(now.first_token(t.partition), kN).is_primary(t.to));
  }
}

TEST_F(ClaimantTest, PlanRevalidatesStagedChanges) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  members["n4"].status = gossip::Status::kRemoved;
  expect_error(claimant.plan(ring, members).status(), StatusCode::kInvalidArgument,
               "no longer fits: join n4: n4 was removed");
}

TEST_F(ClaimantTest, CommitWithTheRightIdStartsTheTransition) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  RingPlan plan = plan_ok();
  gossip::RingState next = commit_ok(plan.id);
  EXPECT_EQ(next.version, 2u);
  EXPECT_EQ(next.n, kN);
  EXPECT_EQ(next.owners, ring.owners);
  EXPECT_EQ(next.next_owners, plan.next_owners);
  EXPECT_EQ(next.claimant, "n1");
  EXPECT_TRUE(claimant.staged().empty());
}

TEST_F(ClaimantTest, AClaimantIssuesPastEveryRingVersionAMemberReports) {
  // A claimant whose disk was wiped issued ring version 2 to a joiner that cannot spread it
  // (rings are taken only from members of the receiver's ring): issuing 2 again would make
  // two tables of one version. It issues 3, which supersedes the lost 2 everywhere.
  members["n4"].ring_version = 2;
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  RingPlan plan = plan_ok();
  EXPECT_EQ(commit_ok(plan.id).version, 3u);
}

TEST_F(ClaimantTest, CommitWithAStaleIdIsRefusedAndTheStagingStays) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  const uint64_t seen = plan_ok().id;
  ASSERT_TRUE(stage(Kind::kJoin, "n5").is_ok());  // another operator stages more
  expect_error(claimant.commit(seen, ring, members).status(), StatusCode::kInvalidArgument,
               "the plan changed since you looked at it");
  EXPECT_EQ(claimant.staged().size(), 2u);

  // A plan made from an older ring version is stale too, even with the same changes.
  const uint64_t seen2 = plan_ok().id;
  gossip::RingState newer = ring;
  newer.version = 5;
  expect_error(claimant.commit(seen2, newer, members).status(), StatusCode::kInvalidArgument,
               "run plan again");
  EXPECT_EQ(claimant.staged().size(), 2u);
}

TEST_F(ClaimantTest, SecondCommitIsRefusedNamingTheCommittedVersion) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  const uint64_t id = plan_ok().id;
  gossip::RingState next = commit_ok(id);
  // The same command again, against the ring the claimant now has and against the old one.
  expect_error(claimant.commit(id, next, members).status(), StatusCode::kInvalidArgument,
               "the plan was already committed as ring version 2");
  expect_error(claimant.commit(id, ring, members).status(), StatusCode::kInvalidArgument,
               "the plan was already committed as ring version 2");
  // Another operator's commit of a plan they saw earlier.
  expect_error(claimant.commit(id + 1, next, members).status(), StatusCode::kInvalidArgument,
               "nothing staged: the last plan was already committed as ring version 2");
}

TEST_F(ClaimantTest, CommitWhileATransitionIsInProgressIsRefused) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  ring = commit_ok(plan_ok().id);
  ASSERT_TRUE(stage(Kind::kJoin, "n5").is_ok());  // staging is allowed meanwhile
  const std::string wait = "a transition is in progress (ring version 2)";
  expect_error(claimant.plan(ring, members).status(), StatusCode::kUnavailable, wait);
  expect_error(claimant.commit(1, ring, members).status(), StatusCode::kUnavailable, wait);
  EXPECT_EQ(claimant.staged().size(), 1u);
}

TEST_F(ClaimantTest, MaybeCompleteWaitsForEveryReceiver) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  ASSERT_TRUE(stage(Kind::kJoin, "n5").is_ok());  // two receivers at least
  RingPlan plan = plan_ok();
  ring = commit_ok(plan.id);
  EXPECT_FALSE(claimant.maybe_complete(ring, members).has_value());

  std::set<NodeId> receivers;
  for (const ring::Transfer& t : plan.transfers) receivers.insert(t.to);
  TransitionProgress progress = transition_progress(ring, members);
  EXPECT_EQ(progress.transfers_total, plan.transfers.size());
  EXPECT_EQ(progress.transfers_done, 0u);
  EXPECT_EQ(std::set<NodeId>(progress.waiting_on.begin(), progress.waiting_on.end()), receivers);
  ASSERT_GE(receivers.size(), 2u);

  // A report for an older ring version does not count.
  for (const NodeId& id : receivers) members[id].transfers_done = ring.version - 1;
  EXPECT_FALSE(claimant.maybe_complete(ring, members).has_value());

  // Every receiver but the last reports: still waiting.
  const NodeId last = *receivers.rbegin();
  for (const NodeId& id : receivers) {
    if (id != last) members[id].transfers_done = ring.version;
  }
  EXPECT_FALSE(claimant.maybe_complete(ring, members).has_value());
  progress = transition_progress(ring, members);
  EXPECT_EQ(progress.waiting_on, std::vector<NodeId>{last});
  EXPECT_GT(progress.transfers_done, 0u);
  EXPECT_LT(progress.transfers_done, progress.transfers_total);
  EXPECT_FALSE(Claimant("n2").maybe_complete(ring, members).has_value());  // not the claimant

  members[last].transfers_done = ring.version;
  std::optional<gossip::RingState> done = claimant.maybe_complete(ring, members);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->version, 3u);
  EXPECT_EQ(done->owners, plan.next_owners);
  EXPECT_TRUE(done->next_owners.empty());
  EXPECT_EQ(done->claimant, "n1");
  EXPECT_FALSE(claimant.maybe_complete(*done, members).has_value());  // nothing in progress
  EXPECT_EQ(transition_progress(*done, members).transfers_total, 0u);
}

TEST_F(ClaimantTest, LeaveOfTheClaimantHandsTheClaimToTheSmallestRemainingOwner) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  ASSERT_TRUE(stage(Kind::kLeave, "n1").is_ok());
  RingPlan plan = plan_ok();
  EXPECT_EQ(plan.ownership.at("n1").second, 0u);
  ring = commit_ok(plan.id);
  EXPECT_EQ(ring.claimant, "n1");  // n1 drives the transition to its end
  report_all_done(ring);
  std::optional<gossip::RingState> done = claimant.maybe_complete(ring, members);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->claimant, "n2");
  EXPECT_EQ(std::count(done->owners.begin(), done->owners.end(), "n1"), 0);
}

TEST_F(ClaimantTest, ReplaceMovesExactlyTheOldNodesPartitions) {
  ASSERT_TRUE(stage(Kind::kReplace, "n2", "10.0.0.4:7000").is_ok());
  EXPECT_EQ(claimant.staged()[0], (RingChange{Kind::kReplace, "n2", "n4"}));
  RingPlan plan = plan_ok();
  for (uint32_t p = 0; p < kQ; ++p) {
    EXPECT_EQ(plan.next_owners[p], ring.owners[p] == "n2" ? "n4" : ring.owners[p]) << p;
  }
  EXPECT_EQ(plan.ownership.at("n4").second, plan.ownership.at("n2").first);
  ASSERT_FALSE(plan.transfers.empty());
  for (const ring::Transfer& t : plan.transfers) EXPECT_EQ(t.to, "n4") << t.partition;
}

TEST_F(ClaimantTest, CancelClearsTheStaging) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  Result<std::optional<gossip::RingState>> cancelled = claimant.cancel(ring);
  ASSERT_TRUE(cancelled.is_ok()) << cancelled.status().to_string();
  EXPECT_FALSE(cancelled->has_value());
  EXPECT_TRUE(claimant.staged().empty());
  expect_error(claimant.cancel(ring).status(), StatusCode::kInvalidArgument, "nothing to cancel");
}

TEST_F(ClaimantTest, CancelAbortsATransition) {
  ASSERT_TRUE(stage(Kind::kJoin, "n4").is_ok());
  gossip::RingState transition = commit_ok(plan_ok().id);
  Result<std::optional<gossip::RingState>> cancelled = claimant.cancel(transition);
  ASSERT_TRUE(cancelled.is_ok()) << cancelled.status().to_string();
  ASSERT_TRUE(cancelled->has_value());
  const gossip::RingState& aborted = **cancelled;
  EXPECT_EQ(aborted.version, 3u);
  EXPECT_EQ(aborted.owners, ring.owners);
  EXPECT_TRUE(aborted.next_owners.empty());
  EXPECT_EQ(aborted.claimant, "n1");
  // Reports for the aborted transition complete nothing.
  report_all_done(transition);
  EXPECT_FALSE(claimant.maybe_complete(aborted, members).has_value());
}

TEST_F(ClaimantTest, CommitOfAPlanThatMovesNothingIsComplete) {
  // The claim of four nodes (Q=64, n=3) is balanced and spaced: a rebalance has nothing to do.
  ring = make_ring({"n1", "n2", "n3", "n4"});
  ASSERT_TRUE(stage(Kind::kRebalance).is_ok());
  RingPlan plan = plan_ok();
  ASSERT_EQ(plan.next_owners, ring.owners);
  EXPECT_TRUE(plan.transfers.empty());
  gossip::RingState next = commit_ok(plan.id);
  EXPECT_EQ(next.version, 2u);
  EXPECT_EQ(next.owners, ring.owners);
  EXPECT_TRUE(next.next_owners.empty());
}

// Zones: 4 zones of 2 nodes each (n=3, Q=64) can be spread so that every key's primaries sit
// in 3 distinct zones. (With exactly n zones that is impossible unless n divides Q, which a
// power of two Q never is for n=3: ring/claim.h.)
TEST_F(ClaimantTest, ZonedJoinsGiveNextOwnersWithoutZoneViolations) {
  const std::map<NodeId, std::string> zones = {{"n1", "a"}, {"n2", "b"}, {"n3", "c"}, {"n4", "d"},
                                               {"n5", "a"}, {"n6", "b"}, {"n7", "c"}, {"n8", "d"}};
  for (const auto& [id, zone] : zones) {
    members[id] =
        member(id, zone,
               ring::Ring(ring.owners).partitions_of(id).empty() ? gossip::Status::kJoining
                                                                 : gossip::Status::kNormal);
  }
  for (const char* id : {"n4", "n5", "n6", "n7", "n8"}) ASSERT_TRUE(stage(Kind::kJoin, id).is_ok());
  RingPlan plan = plan_ok();
  EXPECT_EQ(plan.quality.zone_violations, 0u);
  EXPECT_EQ(plan.quality.spacing_violations, 0u);
  // The same, checked directly: every key's n primaries are in n distinct zones.
  ring::Ring next(plan.next_owners);
  for (uint32_t p = 0; p < kQ; ++p) {
    std::set<std::string> seen;
    for (const NodeId& id : next.preference_list(next.first_token(p), kN).primaries) {
      seen.insert(members.at(id).zone);
    }
    EXPECT_EQ(seen.size(), kN) << "partition " << p;
  }
}

}  // namespace
}  // namespace qkv::node
