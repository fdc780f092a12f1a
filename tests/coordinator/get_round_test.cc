// GetRound's sloppy reads: fallbacks standing in for failed primaries, PR, and which nodes
// read repair and the answer name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/coordinator/get_round.h"
#include "tests/coordinator/get_round_testing.h"

namespace qkv::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing::kFallbacks;
using testing::kPrimaries;
using testing::written;

TEST(GetRoundFallbackTest, AFailedPrimaryIsReplacedByTheNextFallbackInOrder) {
  GetRound round(kPrimaries, 2, 0, kFallbacks);
  EXPECT_EQ(round.start(), (std::vector<ReadFrom>{{"a", {}}, {"b", {}}, {"c", {}}}))
      << "every primary is asked first";
  EXPECT_EQ(round.on_reply("c", Status::unavailable("c is down"), std::nullopt),
            (std::vector<ReadFrom>{{"d", "c"}}));
  EXPECT_EQ(round.on_reply("d", Status::unavailable("d is unreachable"), std::nullopt),
            (std::vector<ReadFrom>{{"e", "c"}}))
      << "a failed fallback hands its primary to the next one";
  EXPECT_TRUE(round.on_reply("b", Status::io_error("disk"), std::nullopt).empty())
      << "no fallback left";
  EXPECT_EQ(round.outcome(), Outcome::kPending);
}

TEST(GetRoundFallbackTest, RTwoWithTwoPrimariesDownSucceedsWithTheFallbacksHints) {
  GetRound round(kPrimaries, 2, 0, kFallbacks);
  const causal::SiblingSet hinted = written("a", "v");
  round.on_reply("a", Status::ok(), std::nullopt);  // the coordinator missed the write
  round.on_reply("b", Status::unavailable("b is down"), std::nullopt);
  round.on_reply("c", Status::unavailable("c is down"), std::nullopt);
  EXPECT_EQ(round.outcome(), Outcome::kPending);
  round.on_reply("d", Status::ok(), hinted);
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_EQ(round.merged(), hinted);
  EXPECT_EQ(round.primary_replies(), 1u);
  EXPECT_FALSE(round.complete()) << "e stands in for c and has not answered";
}

TEST(GetRoundFallbackTest, PrUnmetFailsOnceThePrimariesAreDoneNamingPr) {
  GetRound round(kPrimaries, 2, 2, kFallbacks);
  round.on_reply("a", Status::ok(), written("a", "v"));
  EXPECT_EQ(round.on_reply("b", Status::unavailable("b is down"), std::nullopt),
            (std::vector<ReadFrom>{{"d", "b"}}));
  round.on_reply("d", Status::ok(), written("a", "v"));
  EXPECT_EQ(round.outcome(), Outcome::kPending) << "R is met, PR is not";
  EXPECT_TRUE(round.on_reply("c", Status::unavailable("c is down"), std::nullopt).empty())
      << "PR is lost: a stand-in could not help";
  EXPECT_EQ(round.outcome(), Outcome::kFailed);
  EXPECT_EQ(round.result().code(), StatusCode::kUnavailable);
  EXPECT_THAT(round.result().message(),
              HasSubstr("primary quorum not met: 1 of 3 primaries answered, PR=2 required"));
  EXPECT_THAT(round.result().message(), HasSubstr("b is down"));
}

TEST(GetRoundFallbackTest, PrCountsPrimariesOnly) {
  GetRound round(kPrimaries, 1, 2, kFallbacks);
  round.on_reply("c", Status::unavailable("c is down"), std::nullopt);
  round.on_reply("d", Status::ok(), std::nullopt);
  round.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_EQ(round.outcome(), Outcome::kPending) << "R=1 is met twice over, but by one primary";
  round.on_reply("b", Status::ok(), std::nullopt);
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);

  GetRound timed_out(kPrimaries, 1, 2, kFallbacks);
  timed_out.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_EQ(timed_out.on_timeout(), Outcome::kFailed);
  EXPECT_THAT(timed_out.result().message(), HasSubstr("PR=2 required"));
  EXPECT_THAT(timed_out.result().message(), HasSubstr("timed out"));
}

TEST(GetRoundFallbackTest, ReadRepairTargetsStalePrimariesNeverAFallback) {
  GetRound round(kPrimaries, 3, 0, kFallbacks);
  const causal::SiblingSet v = written("a", "v");
  round.on_reply("a", Status::ok(), v);
  round.on_reply("b", Status::ok(), std::nullopt);
  round.on_reply("c", Status::io_error("disk"), std::nullopt);
  round.on_reply("d", Status::ok(), std::nullopt);  // a stale fallback
  ASSERT_TRUE(round.complete());
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_EQ(round.stale_replicas(), (std::vector<NodeId>{"b"}));
}

TEST(GetRoundFallbackTest, TheAnswerNamesWhoAnsweredInTheOrderAsked) {
  GetRound round(kPrimaries, 2, 0, kFallbacks);
  round.on_reply("b", Status::unavailable("b is down"), std::nullopt);
  round.on_reply("d", Status::ok(), std::nullopt);
  round.on_reply("c", Status::ok(), std::nullopt);
  round.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_THAT(round.answered(),
              ElementsAre(ReadFrom{"a", {}}, ReadFrom{"c", {}}, ReadFrom{"d", "b"}));
}

TEST(GetRoundFallbackTest, NoStandInOnceDecidedAndExactCountsWhenFallbacksRunOut) {
  GetRound decided(kPrimaries, 1, 0, kFallbacks);
  decided.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_TRUE(decided.on_reply("b", Status::unavailable("down"), std::nullopt).empty());

  GetRound short_of_r(kPrimaries, 3, 0, {"d"});
  short_of_r.on_reply("a", Status::ok(), std::nullopt);
  short_of_r.on_reply("b", Status::unavailable("b is down"), std::nullopt);
  short_of_r.on_reply("c", Status::unavailable("c is down"), std::nullopt);
  short_of_r.on_reply("d", Status::ok(), std::nullopt);
  EXPECT_EQ(short_of_r.outcome(), Outcome::kFailed);
  EXPECT_THAT(short_of_r.result().message(),
              HasSubstr("2 of 3 replicas answered (1 of them fallbacks), R=3 required"));
}

TEST(GetRoundFallbackTest, PrimariesSilentAtTheSloppyAlarmGetStandInsOnce) {
  GetRound round(kPrimaries, 2, 0, kFallbacks);
  round.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_EQ(round.on_sloppy_alarm(), (std::vector<ReadFrom>{{"d", "b"}, {"e", "c"}}));
  EXPECT_TRUE(round.on_sloppy_alarm().empty()) << "replaced already";
  round.on_reply("e", Status::ok(), written("a", "v"));
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  round.on_reply("b", Status::ok(), std::nullopt);  // late, still recorded for repair
  EXPECT_EQ(round.stale_replicas(), (std::vector<NodeId>{"a", "b"}));

  GetRound met(kPrimaries, 1, 0, kFallbacks);
  met.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_TRUE(met.on_sloppy_alarm().empty()) << "R is met: no more reads";
}

TEST(GetRoundFallbackTest, UnaskedAndRepeatedSendersAreIgnored) {
  GetRound round(kPrimaries, 2, 0, kFallbacks);
  round.on_reply("d", Status::ok(), written("d", "x"));  // not asked: no primary failed
  round.on_reply("a", Status::ok(), std::nullopt);
  round.on_reply("a", Status::ok(), std::nullopt);
  EXPECT_EQ(round.replies(), 1u);
  EXPECT_FALSE(round.found_anywhere());
}

}  // namespace
}  // namespace qkv::coordinator
