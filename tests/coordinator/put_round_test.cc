// PutRound: the sloppy-quorum decisions of one write, as actions (stand-ins, hints, the
// answer), fed by hand.
#include "node/coordinator/put_round.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qkv::coordinator {
namespace {

using ::testing::HasSubstr;

// "send b", "send f1 for b", "hint b", "answer ok" / "answer unavailable: ...".
std::vector<std::string> describe(const std::vector<PutAction>& actions) {
  std::vector<std::string> out;
  for (const auto& a : actions) {
    if (const auto* send = std::get_if<SendWrite>(&a)) {
      out.push_back("send " + send->to + (send->hint_for.empty() ? "" : " for " + send->hint_for));
    } else if (const auto* hint = std::get_if<KeepHint>(&a)) {
      out.push_back("hint " + hint->primary);
    } else {
      const Status& s = std::get<Answer>(a).status;
      out.push_back(s.is_ok() ? "answer ok" : "answer failed");
    }
  }
  return out;
}

using V = std::vector<std::string>;
const Status kDown = Status::unavailable("down");

// Coordinator a, primaries a b c, fallbacks f1 f2.
PutRound round_of(uint32_t w, bool sloppy = true) {
  return PutRound("a", {"a", "b", "c"}, w, {"f1", "f2"}, sloppy);
}

TEST(PutRoundTest, StartAcksItselfAndSendsToTheOtherReplicas) {
  PutRound round = round_of(2);
  EXPECT_EQ(describe(round.start()), (V{"send b", "send c"}));
  EXPECT_EQ(round.quorum().acks(), 1u);
  EXPECT_EQ(describe(round.on_reply("b", Status::ok())), (V{"answer ok"}));
  EXPECT_FALSE(round.done()) << "answered, but c has not replied: late failures get stand-ins";
  EXPECT_TRUE(describe(round.on_reply("c", Status::ok())).empty());
  EXPECT_TRUE(round.done());
}

TEST(PutRoundTest, WOfOneIsAnsweredAtStart) {
  PutRound round = round_of(1);
  EXPECT_EQ(describe(round.start()), (V{"send b", "send c", "answer ok"}));
}

TEST(PutRoundTest, AFailedPrimaryGetsTheNextFallbackAndItsAckCounts) {
  PutRound round = round_of(3);
  round.start();
  EXPECT_EQ(describe(round.on_reply("b", kDown)), (V{"send f1 for b"}));
  EXPECT_EQ(round.standing_in().at("f1"), "b");
  EXPECT_TRUE(describe(round.on_reply("c", Status::ok())).empty());
  EXPECT_EQ(describe(round.on_reply("f1", Status::ok())), (V{"answer ok"}));
  EXPECT_TRUE(round.done());
}

TEST(PutRoundTest, AFailedStandInIsReplacedThenTheCoordinatorKeepsTheHint) {
  PutRound round = round_of(2);
  round.start();
  EXPECT_EQ(describe(round.on_reply("b", kDown)), (V{"send f1 for b"}));
  EXPECT_EQ(describe(round.on_reply("f1", kDown)), (V{"send f2 for b"}));
  EXPECT_EQ(describe(round.on_reply("f2", kDown)), (V{"hint b"}));
  // A repeated failure keeps no second hint.
  EXPECT_TRUE(describe(round.on_reply("b", kDown)).empty());
  EXPECT_EQ(describe(round.on_reply("c", Status::ok())), (V{"answer ok"}));
}

TEST(PutRoundTest, APrimariesOnlyWriteHasNoStandInsButThePrimaryGetsAHint) {
  PutRound round = round_of(3, /*sloppy=*/false);
  round.start();
  EXPECT_EQ(describe(round.on_reply("b", kDown)), (V{"hint b"}));
  std::vector<PutAction> last = round.on_reply("c", Status::ok());
  ASSERT_EQ(describe(last), (V{"answer failed"}));
  EXPECT_THAT(std::get<Answer>(last[0]).status.message(),
              HasSubstr("2 of 3 replicas acknowledged"));
}

TEST(PutRoundTest, TheSloppyAlarmStandsInForSilentReplicasOneAtATimeInOrder) {
  PutRound round = round_of(3);
  round.start();
  EXPECT_EQ(describe(round.on_sloppy_alarm()), (V{"send f1 for b"}));
  // The stand-in for b could not be sent: b takes the next fallback before c takes one.
  EXPECT_EQ(describe(round.on_reply("f1", kDown)), (V{"send f2 for b"}));
  EXPECT_EQ(describe(round.more()), (V{"hint c"})) << "no fallback left for c";
  EXPECT_TRUE(round.more().empty());
  // A second alarm does not stand in again for b (covered by f2); c has its hint.
  EXPECT_TRUE(describe(round.on_sloppy_alarm()).empty());
}

TEST(PutRoundTest, TheDeadlineKeepsHintsForPrimariesNoAckedStandInCovers) {
  PutRound round = round_of(3);
  round.start();
  round.on_reply("b", kDown);  // f1 stands in for b
  round.on_reply("f1", Status::ok());
  // c is silent, and nobody stands in for it: it gets a hint; b is covered by f1's ack.
  std::vector<PutAction> actions = round.on_timeout();
  EXPECT_EQ(describe(actions), (V{"hint c", "answer failed"}));
  EXPECT_THAT(std::get<Answer>(actions[1]).status.message(), HasSubstr("timed out"));
  EXPECT_TRUE(round.done());
}

TEST(PutRoundTest, ASilentStandInAtTheDeadlineLeavesAHintForItsPrimary) {
  PutRound round = round_of(2);
  round.start();
  round.on_reply("c", Status::ok());  // answered: a and c
  round.on_reply("b", kDown);         // f1 stands in for b, and stays silent
  EXPECT_EQ(describe(round.on_timeout()), (V{"hint b"}));
  EXPECT_TRUE(round.done());
}

TEST(PutRoundTest, ASilentReplicaCoveredByAnAckedStandInEndsTheRoundBeforeTheDeadline) {
  PutRound round = round_of(2);
  round.start();
  EXPECT_EQ(describe(round.on_reply("c", Status::ok())), (V{"answer ok"}));
  EXPECT_FALSE(round.done()) << "b has not answered and nothing covers it";
  EXPECT_EQ(describe(round.on_sloppy_alarm()), (V{"send f1 for b"}));
  EXPECT_FALSE(round.done()) << "f1 has not acked yet";
  EXPECT_TRUE(round.on_reply("f1", Status::ok()).empty());
  // b's copy is on f1 as a hint: b's own answer would change nothing, and the round must
  // not stay in flight until the deadline (every write would, while b is silent).
  EXPECT_TRUE(round.done());
}

TEST(PutRoundTest, ASilentReplicaTheCoordinatorKeepsAHintForEndsTheRound) {
  PutRound round("a", {"a", "b", "c"}, 2, {}, /*sloppy=*/true);  // no fallback
  round.start();
  round.on_reply("c", Status::ok());
  EXPECT_EQ(describe(round.on_sloppy_alarm()), (V{"hint b"}));
  EXPECT_TRUE(round.done());
}

TEST(PutRoundTest, ASuspectsOwnAckAndASilentStandInEndTheRound) {
  PutRound round = round_of(3);
  round.start();
  round.stand_in_beside({"b"});  // f1 for b
  round.on_reply("c", Status::ok());
  EXPECT_EQ(describe(round.on_reply("b", Status::ok())), (V{"answer ok"}));
  EXPECT_TRUE(round.done()) << "f1 stands in for b, which acked itself";
}

TEST(PutRoundTest, TheCoordinatorNeverHintsForItself) {
  // A coordinator that is not a replica (a forwarded write in a ring change): its own
  // failure report, if any, makes no hint.
  PutRound round("x", {"a", "b"}, 1, {}, /*sloppy=*/true);
  EXPECT_EQ(describe(round.start()), (V{"send a", "send b"}));
  PutRound self_round("a", {"a", "b"}, 2, {}, true);
  self_round.start();
  EXPECT_TRUE(describe(self_round.on_reply("a", kDown)).empty());
}

TEST(PutRoundTest, ASuspectReplicaGetsAStandInBesideItAndItsOwnAckStillCounts) {
  PutRound round = round_of(3);
  EXPECT_EQ(describe(round.start()), (V{"send b", "send c"}));
  EXPECT_EQ(describe(round.stand_in_beside({"b"})), (V{"send f1 for b"}));
  EXPECT_TRUE(round.more().empty());
  EXPECT_TRUE(round.on_reply("c", Status::ok()).empty());
  // b was only slow: its ack counts, and with c and a that is W=3.
  EXPECT_EQ(describe(round.on_reply("b", Status::ok())), (V{"answer ok"}));
}

TEST(PutRoundTest, ASuspectWithNoFallbackLeftIsLeftToAnswerWithoutAHint) {
  PutRound round("a", {"a", "b", "c"}, 2, {}, true);
  round.start();
  EXPECT_TRUE(round.stand_in_beside({"b"}).empty()) << "b was sent the write: no hint";
  EXPECT_EQ(describe(round.on_reply("b", Status::ok())), (V{"answer ok"}));
}

TEST(PutRoundTest, APrimariesOnlyWriteTakesNoStandInBesideASuspect) {
  PutRound round = round_of(2, /*sloppy=*/false);
  round.start();
  EXPECT_TRUE(round.stand_in_beside({"b"}).empty());
}

}  // namespace
}  // namespace qkv::coordinator
