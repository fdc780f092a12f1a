// GetRound with a quorum's fanout (Cassandra's reads): max(R, PR) primaries asked at first,
// the others spares, asked before any fallback when a node asked fails or is silent at the
// stand-in alarm; read repair compares only the primaries asked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/coordinator/get_round.h"
#include "tests/coordinator/get_round_testing.h"

namespace qkv::coordinator {
namespace {

using ::testing::ElementsAre;
using Digest = GetRound::Digest;

using testing::digest_of;
using testing::kFallbacks;
using testing::kPrimaries;
using testing::written;

GetRound quorum_round(uint32_t r, uint32_t pr, NodeId data_from = "b") {
  return GetRound(kPrimaries, r, pr, kFallbacks, std::move(data_from), Fanout::kQuorum);
}

TEST(ReadFanoutTest, RPrimariesAreAskedTheStateSenderFirstAndTheRoundEndsWithoutTheSpare) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round = quorum_round(2, 0);
  EXPECT_EQ(round.start(), (std::vector<ReadFrom>{{"b", {}, false}, {"a", {}, true}}))
      << "b sends its state, a its digest; c is not asked";
  round.on_reply("b", Status::ok(), v);
  round.on_digest("a", digest_of(v));
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_TRUE(round.complete()) << "nothing more will come: c was never asked";
  EXPECT_TRUE(round.stale_replicas().empty()) << "c is not known to be stale";
  EXPECT_THAT(round.answered(), ElementsAre(ReadFrom{"b", {}, false}, ReadFrom{"a", {}, true}));
  EXPECT_TRUE(round.on_reply("c", Status::ok(), std::nullopt).empty());
  EXPECT_EQ(round.replies(), 2u) << "an answer from a node not asked is ignored";
}

TEST(ReadFanoutTest, AFailedNodeIsReplacedByTheSparePrimaryBeforeAnyFallback) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round = quorum_round(2, 0);
  round.start();
  EXPECT_EQ(round.on_reply("a", Status::unavailable("a is down"), std::nullopt),
            (std::vector<ReadFrom>{{"c", {}, true}}))
      << "the spare is a primary: asked as one, for its digest";
  round.on_reply("b", Status::ok(), v);
  EXPECT_EQ(round.outcome(), Outcome::kPending);
  round.on_digest("c", digest_of(v));
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_EQ(round.primary_replies(), 2u);
  EXPECT_EQ(round.spare_reads(), 1u);

  GetRound spare_fails = quorum_round(2, 0);
  spare_fails.start();
  spare_fails.on_reply("a", Status::unavailable("a is down"), std::nullopt);
  EXPECT_EQ(spare_fails.on_reply("c", Status::unavailable("c is down"), std::nullopt),
            (std::vector<ReadFrom>{{"d", "c", false}}))
      << "no spare left: a fallback, asked for its state and hints";
}

TEST(ReadFanoutTest, ASilentNodeAtTheAlarmGetsTheSpareAndTheSpareIsNotReplacedWithIt) {
  const causal::SiblingSet v = written("a", "v");
  GetRound round = quorum_round(2, 0);
  round.start();
  round.on_reply("b", Status::ok(), v);
  EXPECT_EQ(round.on_sloppy_alarm(), (std::vector<ReadFrom>{{"c", {}, true}}))
      << "Cassandra's speculative retry: only a is silent, c was just asked";
  round.on_digest("c", digest_of(v));
  EXPECT_EQ(round.outcome(), Outcome::kSucceeded);
  EXPECT_FALSE(round.complete()) << "a may still answer, for read repair";
  round.on_digest("a", causal::StateSummary().digest());
  EXPECT_TRUE(round.complete());
  EXPECT_EQ(round.stale_replicas(), (std::vector<NodeId>{"a"}));
}

TEST(ReadFanoutTest, PrAboveRAsksPrPrimariesAndWithoutDigestsTheFirstInOrder) {
  GetRound pr_three = quorum_round(2, 3);
  EXPECT_EQ(pr_three.start().size(), 3u) << "max(r, pr) primaries";

  GetRound no_digests(kPrimaries, 1, 0, kFallbacks, {}, Fanout::kQuorum);
  EXPECT_EQ(no_digests.start(), (std::vector<ReadFrom>{{"a", {}, false}}));
  EXPECT_EQ(no_digests.on_reply("a", Status::io_error("disk"), std::nullopt),
            (std::vector<ReadFrom>{{"b", {}, false}}));
}

TEST(ReadFanoutTest, WithEveryPrimaryAskedTheSpareListIsEmptyAndAFailureTakesAFallback) {
  GetRound all(kPrimaries, 2, 0, kFallbacks, "b", Fanout::kAll);
  EXPECT_EQ(all.start().size(), 3u);
  EXPECT_EQ(all.on_reply("a", Status::unavailable("a is down"), std::nullopt),
            (std::vector<ReadFrom>{{"d", "a", false}}));
}

}  // namespace
}  // namespace qkv::coordinator
