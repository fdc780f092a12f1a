// GetRound's digest reads: one primary asked for its state, the others for digests; a
// digest counts when it tells its node's state exactly, and a mismatch costs a read of that
// node's state — before the answer when R needs it, after it when read repair does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/coordinator/get_round.h"
#include "tests/coordinator/get_round_testing.h"

namespace qkv::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Digest = GetRound::Digest;

using testing::digest_of;
using testing::kFallbacks;
using testing::kPrimaries;
using testing::written;

const Digest kNothing = causal::StateSummary().digest();

TEST(DigestReadTest, OnePrimaryIsAskedForItsStateAndTheOthersForDigests) {
  GetRound round(kPrimaries, 2, 0, kFallbacks, "b");
  EXPECT_EQ(round.start(),
            (std::vector<ReadFrom>{{"a", {}, true}, {"b", {}, false}, {"c", {}, true}}));
  EXPECT_EQ(round.on_reply("b", Status::unavailable("b is down"), std::nullopt),
            (std::vector<ReadFrom>{{"d", "b", false}}))
      << "a stand-in is always asked for its state: it holds the hints";
}

TEST(DigestReadTest, ADigestEqualToTheStateReceivedCountsAsThatState) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round(kPrimaries, 2, 0, kFallbacks, "a");
  EXPECT_TRUE(round.on_reply("a", Status::ok(), v).empty());
  EXPECT_TRUE(round.on_digest("b", digest_of(v)).empty()) << "a match costs no read";
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_EQ(round.merged(), v);
  EXPECT_THAT(round.answered(), ElementsAre(ReadFrom{"a", {}, false}, ReadFrom{"b", {}, true}));
  EXPECT_EQ(round.replies(), 2u);
  EXPECT_EQ(round.primary_replies(), 2u);
  EXPECT_EQ(round.digest_mismatches(), 0u);
}

TEST(DigestReadTest, AMismatchedDigestIsReadAgainForItsStateBeforeItCounts) {
  const causal::SiblingSet old_state = written("a", "old");
  const causal::SiblingSet newer = old_state.update(old_state.version_vector(), {"b", 1}, "new");
  GetRound round(kPrimaries, 2, 0, kFallbacks, "a");
  round.on_reply("a", Status::ok(), old_state);
  EXPECT_EQ(round.on_digest("b", digest_of(newer)), (std::vector<ReadFrom>{{"b", {}, false}}));
  EXPECT_EQ(round.outcome(), Outcome::kPending) << "b's state is not known yet";
  EXPECT_EQ(round.replies(), 1u);
  EXPECT_TRUE(round.on_reply("b", Status::ok(), newer).empty());
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_EQ(round.merged(), newer) << "the newer state a digest revealed is the answer";
  EXPECT_EQ(round.digest_mismatches(), 1u);
}

TEST(DigestReadTest, ADigestBeforeTheStateWaitsForItInsteadOfAReadOfItsOwn) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round(kPrimaries, 2, 0, kFallbacks, "a");
  EXPECT_TRUE(round.on_digest("c", digest_of(v)).empty()) << "a's state is coming";
  EXPECT_EQ(round.outcome(), Outcome::kPending);
  EXPECT_TRUE(round.on_reply("a", Status::ok(), v).empty());
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_EQ(round.digest_mismatches(), 0u);
}

TEST(DigestReadTest, TwoDigestsOfNothingAnswerNotFoundWithoutTheState) {
  GetRound round(kPrimaries, 2, 0, kFallbacks, "a");
  round.on_digest("b", kNothing);
  round.on_digest("c", kNothing);
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_FALSE(round.found_anywhere());
  EXPECT_FALSE(round.complete()) << "a has not answered";
}

TEST(DigestReadTest, WhenTheStateCannotComeADigestsNodeIsAskedForIt) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round(kPrimaries, 2, 0, {}, "a");  // no fallback to stand in
  round.on_digest("b", digest_of(v));
  round.on_digest("c", digest_of(v));
  EXPECT_EQ(round.on_reply("a", Status::unavailable("a is down"), std::nullopt),
            (std::vector<ReadFrom>{{"b", {}, false}}))
      << "one read for the two nodes with the same digest";
  EXPECT_EQ(round.outcome(), Outcome::kPending);
  round.on_reply("b", Status::ok(), v);
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded) << "c's digest is now known: b's state";
  EXPECT_EQ(round.merged(), v);
  EXPECT_TRUE(round.complete());
}

TEST(DigestReadTest, AFailedReadOfAMismatchIsTriedAtAnotherNodeWithTheSameDigest) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round(kPrimaries, 3, 0, {}, "a");
  round.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_EQ(round.on_digest("b", digest_of(v)), (std::vector<ReadFrom>{{"b", {}, false}}));
  EXPECT_TRUE(round.on_digest("c", digest_of(v)).empty()) << "b's state is being read";
  EXPECT_EQ(round.on_reply("b", Status::unavailable("b is unreachable"), std::nullopt),
            (std::vector<ReadFrom>{{"c", {}, false}}));
  round.on_reply("c", Status::ok(), v);
  EXPECT_TRUE(round.complete());
  EXPECT_EQ(round.outcome(), Outcome::kFailed) << "R=3 and b failed";
  EXPECT_THAT(round.result().message(), HasSubstr("2 of 3 replicas answered, R=3 required"));
  EXPECT_EQ(round.digest_mismatches(), 2u);
}

TEST(DigestReadTest, ALateMismatchIsReadForRepairAfterTheAnswer) {
  const causal::SiblingSet v = written("a", "v");
  const causal::SiblingSet concurrent = written("c", "w");
  GetRound round(kPrimaries, 2, 0, kFallbacks, "a");
  round.on_reply("a", Status::ok(), v);
  round.on_digest("b", digest_of(v));
  ASSERT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_EQ(round.on_digest("c", digest_of(concurrent)), (std::vector<ReadFrom>{{"c", {}, false}}));
  EXPECT_FALSE(round.complete()) << "read repair waits for c's state";
  round.on_reply("c", Status::ok(), concurrent);
  ASSERT_TRUE(round.complete());
  EXPECT_EQ(round.merged(), causal::SiblingSet::join(v, concurrent));
  EXPECT_EQ(round.stale_replicas(), (std::vector<NodeId>{"a", "b", "c"}))
      << "b is stale by its digest, a and c by their states";
}

TEST(DigestReadTest, AStaleDigestOfAKnownStateIsRepairedWithoutAReadOfIt) {
  const causal::SiblingSet v1 = written("a", "v1");
  const causal::SiblingSet v2 = v1.update(v1.version_vector(), {"a", 1}, "v2");
  GetRound round(kPrimaries, 3, 0, kFallbacks, "a");
  round.on_reply("a", Status::ok(), v2);
  round.on_digest("b", digest_of(v2));
  EXPECT_EQ(round.on_digest("c", kNothing), std::vector<ReadFrom>{}) << "nothing is known";
  ASSERT_TRUE(round.complete());
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_EQ(round.stale_replicas(), (std::vector<NodeId>{"c"}));
}

TEST(DigestReadTest, ANodeAskedForADigestMayAnswerWithItsState) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round(kPrimaries, 2, 0, kFallbacks, "a");  // b is older than digest reads
  round.on_reply("b", Status::ok(), v);
  round.on_reply("a", Status::ok(), v);
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_EQ(round.merged(), v);
}

TEST(DigestReadTest, DigestsFromNodesNotAskedForOneAndRepeatsAreIgnored) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round(kPrimaries, 2, 0, kFallbacks, "a");
  round.on_digest("a", kNothing);  // asked for its state
  round.on_digest("d", kNothing);  // not asked
  round.on_digest("b", kNothing);
  round.on_digest("b", digest_of(v));
  EXPECT_EQ(round.replies(), 1u);
  EXPECT_EQ(round.outcome(), Outcome::kPending);
  round.on_reply("b", Status::unavailable("b is unreachable"), std::nullopt);
  EXPECT_EQ(round.replies(), 1u) << "an error after b answered is no failure of b";
  round.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
}

TEST(DigestReadTest, PrCountsDigestsOfPrimaries) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round(kPrimaries, 1, 2, kFallbacks, "a");
  round.on_reply("a", Status::ok(), v);
  EXPECT_EQ(round.outcome(), Outcome::kPending) << "R=1 is met, PR=2 is not";
  round.on_digest("c", digest_of(v));
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
}

}  // namespace
}  // namespace qkv::coordinator
