// WriteQuorum and GetRound: the quorum decisions, fed by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/coordinator/get_round.h"
#include "node/coordinator/write_quorum.h"

namespace qkv::coordinator {
namespace {

using ::testing::HasSubstr;

const std::vector<NodeId> kReplicas = {"a", "b", "c"};

TEST(WriteQuorumTest, SucceedsAtWAcks) {
  WriteQuorum round(kReplicas, 2);
  EXPECT_EQ(round.on_reply("a", Status::ok()), Outcome::kPending);
  EXPECT_EQ(round.on_reply("b", Status::ok()), Outcome::kSucceeded);
  EXPECT_TRUE(round.result().is_ok());
}

TEST(WriteQuorumTest, FailsOnceEveryReplicaAnsweredWithoutW) {
  WriteQuorum round(kReplicas, 2);
  EXPECT_EQ(round.on_reply("b", Status::io_error("disk full")), Outcome::kPending);
  EXPECT_EQ(round.on_reply("c", Status::unavailable("gone")), Outcome::kPending)
      << "W is impossible now, but a waits to be counted";
  EXPECT_EQ(round.on_reply("a", Status::ok()), Outcome::kFailed);
  EXPECT_EQ(round.result().code(), StatusCode::kUnavailable);
  EXPECT_THAT(round.result().message(), HasSubstr("1 of 3 replicas acknowledged, W=2 required"));
  EXPECT_THAT(round.result().message(), HasSubstr("disk full"));
  EXPECT_THAT(round.result().message(), HasSubstr("not rolled back"));
}

TEST(WriteQuorumTest, DuplicateAndUnknownAcksDoNotCount) {
  WriteQuorum round(kReplicas, 2);
  round.on_reply("a", Status::ok());
  EXPECT_EQ(round.on_reply("a", Status::ok()), Outcome::kPending);
  EXPECT_EQ(round.on_reply("stranger", Status::ok()), Outcome::kPending);
  EXPECT_EQ(round.acks(), 1u);
}

TEST(WriteQuorumTest, TimeoutFailsWithCountsUnlessTheQuorumWasMet) {
  WriteQuorum short_round(kReplicas, 3);
  short_round.on_reply("a", Status::ok());
  short_round.on_reply("b", Status::ok());
  EXPECT_EQ(short_round.on_timeout(), Outcome::kFailed);
  EXPECT_THAT(short_round.result().message(), HasSubstr("2 of 3 replicas acknowledged, W=3"));
  EXPECT_THAT(short_round.result().message(), HasSubstr("timed out"));

  WriteQuorum met(kReplicas, 1);
  met.on_reply("c", Status::ok());
  EXPECT_EQ(met.on_timeout(), Outcome::kSucceeded);
}

TEST(WriteQuorumTest, WaitingListsTheSilentReplicas) {
  WriteQuorum round(kReplicas, 3);
  round.on_reply("b", Status::ok());
  EXPECT_EQ(round.waiting(), (std::vector<NodeId>{"a", "c"}));
}

// Feeds one answer and returns the round's outcome after it.
Outcome reply(GetRound& round, const NodeId& from, const Status& status,
              std::optional<causal::SiblingSet> state) {
  round.on_reply(from, status, std::move(state));
  return round.outcome();
}

TEST(GetRoundTest, MergesTheRepliesIntoSiblings) {
  GetRound round(kReplicas, 2);
  causal::SiblingSet x = causal::SiblingSet().update({}, {"a", 1}, std::string("x"));
  causal::SiblingSet y = causal::SiblingSet().update({}, {"b", 1}, std::string("y"));
  EXPECT_EQ(reply(round, "a", Status::ok(), x), Outcome::kPending);
  EXPECT_EQ(reply(round, "b", Status::ok(), y), Outcome::kSucceeded);
  EXPECT_EQ(round.merged().values(), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(round.found_anywhere());
}

TEST(GetRoundTest, NotFoundRepliesCountTowardsR) {
  GetRound round(kReplicas, 2);
  round.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_EQ(reply(round, "c", Status::ok(), std::nullopt), Outcome::kSucceeded);
  EXPECT_FALSE(round.found_anywhere());
  EXPECT_TRUE(round.merged().is_deleted());
}

TEST(GetRoundTest, ErrorsWithoutRFailOnceEveryReplicaAnswered) {
  GetRound round(kReplicas, 3);
  round.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_EQ(reply(round, "b", Status::io_error("bad disk"), std::nullopt), Outcome::kPending);
  EXPECT_EQ(reply(round, "c", Status::ok(), std::nullopt), Outcome::kFailed);
  EXPECT_THAT(round.result().message(), HasSubstr("2 of 3 replicas answered, R=3 required"));
}

TEST(GetRoundTest, KeepsRecordingAfterSuccessAndNamesTheStaleReplicas) {
  GetRound round(kReplicas, 2);
  causal::SiblingSet x = causal::SiblingSet().update({}, {"a", 1}, std::string("x"));
  round.on_reply("a", Status::ok(), x);
  EXPECT_EQ(reply(round, "b", Status::ok(), x), Outcome::kSucceeded);
  EXPECT_FALSE(round.complete()) << "c has not answered";
  EXPECT_EQ(reply(round, "c", Status::ok(), std::nullopt), Outcome::kSucceeded);
  EXPECT_TRUE(round.complete());
  EXPECT_EQ(round.stale_replicas(), (std::vector<NodeId>{"c"}));
}

TEST(GetRoundTest, AReplicaWithAnOlderStateIsStale) {
  GetRound round(kReplicas, 3);
  causal::SiblingSet v1 = causal::SiblingSet().update({}, {"a", 1}, std::string("v1"));
  causal::SiblingSet v2 = v1.update(v1.version_vector(), {"a", 1}, std::string("v2"));
  round.on_reply("a", Status::ok(), v2);
  round.on_reply("b", Status::ok(), v1);
  round.on_reply("c", Status::ok(), v2);
  EXPECT_EQ(round.stale_replicas(), (std::vector<NodeId>{"b"}));
  EXPECT_EQ(round.merged(), v2);
}

TEST(GetRoundTest, NothingToRepairWhenNoReplicaHoldsTheKey) {
  GetRound round(kReplicas, 1);
  round.on_reply("a", Status::ok(), std::nullopt);
  round.on_timeout();
  EXPECT_TRUE(round.complete());
  EXPECT_TRUE(round.stale_replicas().empty());
}

TEST(QuorumTest, ResolvesDefaultsAndRejectsOutOfRange) {
  EXPECT_EQ(resolve_quorum("w", 0, 2, 3).value(), 2u);
  EXPECT_EQ(resolve_quorum("w", 3, 2, 3).value(), 3u);
  EXPECT_THAT(resolve_quorum("r", 4, 2, 3).status().message(), HasSubstr("r=4 exceeds n=3"));
}

}  // namespace
}  // namespace qkv::coordinator
