// StateSummary: the cases a write path without a read must get right. Random histories
// compare it with SiblingSet on every step (history_property_test.cc); these name the
// cases one by one.
#include "causal/state_summary.h"

#include <utility>

#include <gtest/gtest.h>

#include "tests/causal/causal_testing.h"

namespace qkv::causal {
namespace {

using testing::actor;
using testing::dot;

const Actor kA = actor("a");
const Actor kB = actor("b");

SiblingSet write(const SiblingSet& state, const Actor& by, const char* value,
                 const VersionVector& context) {
  return state.update(context, by, std::string(value));
}

TEST(StateSummaryTest, ANewerStateFromTheCoordinatorIsJoinedWithoutTheStoredValues) {
  SiblingSet v1 = write(SiblingSet{}, kA, "one", {});
  SiblingSet v2 = write(v1, kA, "two", v1.version_vector());
  StateSummary::Join j = StateSummary::of(v1).join(v2);
  ASSERT_EQ(j.kind, StateSummary::Join::Kind::joined);
  EXPECT_EQ(j.state, v2);
}

TEST(StateSummaryTest, AnIncomingStateIsMovedIntoTheJoinAndLeftWholeOtherwise) {
  SiblingSet v1 = write(SiblingSet{}, kA, "one", {});
  SiblingSet v2 = write(v1, kA, "two", v1.version_vector());
  SiblingSet incoming = v2;
  StateSummary::Join j = StateSummary::of(v1).join(std::move(incoming));
  ASSERT_EQ(j.kind, StateSummary::Join::Kind::joined);
  EXPECT_EQ(j.state, v2);

  // A stored sibling the incoming state has not seen: the caller reads the stored state
  // and joins the incoming one with it, so it must still be whole.
  SiblingSet from_b = write(SiblingSet{}, kB, "b", {});
  SiblingSet from_a = v1;
  EXPECT_EQ(StateSummary::of(from_b).join(std::move(from_a)).kind,
            StateSummary::Join::Kind::need_state);
  EXPECT_EQ(from_a, v1);  // NOLINT(bugprone-use-after-move): left whole by contract
  SiblingSet again = v2;
  EXPECT_EQ(StateSummary::of(v2).join(std::move(again)).kind, StateSummary::Join::Kind::unchanged);
  EXPECT_EQ(again, v2);  // NOLINT(bugprone-use-after-move)
}

TEST(StateSummaryTest, TheSameStateAgainOrAnOlderOneChangesNothing) {
  SiblingSet v1 = write(SiblingSet{}, kA, "one", {});
  SiblingSet v2 = write(v1, kA, "two", v1.version_vector());
  EXPECT_EQ(StateSummary::of(v2).join(v2).kind, StateSummary::Join::Kind::unchanged);
  // v2's sibling survives and v1 adds nothing: nothing to write, and no read needed.
  EXPECT_EQ(StateSummary::of(v2).join(v1).kind, StateSummary::Join::Kind::unchanged);
}

TEST(StateSummaryTest, AnUpdateIsStampedAndATimestampOneSideLacksNeedsTheState) {
  SiblingSet v1 = SiblingSet{}.update({}, kA, "one", 0, 7'000);
  EXPECT_EQ(StateSummary::of(v1).update(v1.version_vector(), kB, "two", 0, 8'000),
            v1.update(v1.version_vector(), kB, "two", 0, 8'000));
  Sibling lost = v1.siblings()[0];
  lost.timestamp_ms = 0;  // the same dot through a node older than timestamps
  SiblingSet old(v1.version_vector(), {lost});
  EXPECT_EQ(StateSummary::of(old).join(v1).kind, StateSummary::Join::Kind::need_state);
  EXPECT_EQ(StateSummary::of(v1).join(old).kind, StateSummary::Join::Kind::need_state);
}

TEST(StateSummaryTest, AStoredSiblingTheIncomingStateHasNotSeenNeedsTheStoredState) {
  SiblingSet from_a = write(SiblingSet{}, kA, "a", {});
  SiblingSet from_b = write(SiblingSet{}, kB, "b", {});
  // Concurrent writes: the join keeps both values, and the stored one is not in the summary.
  EXPECT_EQ(StateSummary::of(from_a).join(from_b).kind, StateSummary::Join::Kind::need_state);
}

TEST(StateSummaryTest, OneDotWithTwoContentsNeedsTheStoredState) {
  // A reused actor (what incarnations prevent): join picks by content, which needs it.
  SiblingSet x = write(SiblingSet{}, kA, "x", {});
  SiblingSet y = write(SiblingSet{}, kA, "y", {});
  ASSERT_EQ(x.siblings()[0].dot, y.siblings()[0].dot);
  EXPECT_EQ(StateSummary::of(x).join(y).kind, StateSummary::Join::Kind::need_state);
  // The same dot as a tombstone differs too.
  SiblingSet gone = SiblingSet{}.update({}, kA, std::nullopt);
  EXPECT_EQ(StateSummary::of(x).join(gone).kind, StateSummary::Join::Kind::need_state);
}

TEST(StateSummaryTest, AnUpdateWhoseContextCoversEverySiblingNeedsNoStoredValue) {
  SiblingSet from_a = write(SiblingSet{}, kA, "a", {});
  SiblingSet both = SiblingSet::join(from_a, write(SiblingSet{}, kB, "b", {}));
  const StateSummary summary = StateSummary::of(both);
  ASSERT_TRUE(summary.covered_by(both.version_vector()));
  EXPECT_EQ(summary.update(both.version_vector(), kA, std::string("merged")),
            both.update(both.version_vector(), kA, std::string("merged")));
  EXPECT_EQ(summary.update(both.version_vector(), kB, std::nullopt),
            both.update(both.version_vector(), kB, std::nullopt));
  // A context that saw only a's write keeps b's value: the update needs it.
  EXPECT_FALSE(summary.covered_by(from_a.version_vector()));
  EXPECT_FALSE(summary.covered_by(VersionVector{}));
  // A key never written: any context covers it.
  EXPECT_EQ(StateSummary{}.update({}, kA, std::string("first")),
            SiblingSet{}.update({}, kA, std::string("first")));
}

TEST(StateSummaryTest, ItHoldsNoValues) {
  SiblingSet big = write(SiblingSet{}, kA, "", {});
  big = big.update(big.version_vector(), kA, std::string(100000, 'v'));
  EXPECT_LT(StateSummary::of(big).heap_bytes(), 1000u);
  EXPECT_EQ(StateSummary::of(big).siblings().size(), 1u);
  EXPECT_EQ(StateSummary::of(big).version_vector(), big.version_vector());
  EXPECT_EQ(dot("a", 2), StateSummary::of(big).siblings()[0].dot);
}

TEST(StateSummaryTest, DigestsAgreeExactlyWhenTheStatesDo) {
  SiblingSet v1 = write(SiblingSet{}, kA, "one", {});
  SiblingSet v2 = write(v1, kA, "two", v1.version_vector());
  SiblingSet concurrent = write(v1, kB, "two", {});  // a blind write beside "one"
  auto digest = [](const SiblingSet& s) { return StateSummary::of(s).digest(); };
  // The same state reached by different routes.
  EXPECT_EQ(digest(SiblingSet::join(v1, v2)), digest(v2));
  EXPECT_EQ(digest(SiblingSet::join(concurrent, v1)), digest(SiblingSet::join(v1, concurrent)));
  // Anything a reader would see differently: a newer write, a sibling more, a tombstone, a
  // value or an expiry that differs under the same dot (a reused actor).
  EXPECT_NE(digest(v1), digest(v2));
  EXPECT_NE(digest(v2), digest(SiblingSet::join(v2, concurrent)));
  EXPECT_NE(digest(v2), digest(v1.update(v1.version_vector(), kA, std::nullopt)));
  EXPECT_NE(digest(v2), digest(v1.update(v1.version_vector(), kA, std::string("tw0"))));
  EXPECT_NE(digest(v2), digest(v1.update(v1.version_vector(), kA, std::string("two"), 5000)));
  // A key never written has one digest, whichever way it is summarized, and it is no
  // written state's.
  EXPECT_EQ(StateSummary{}.digest(), digest(SiblingSet{}));
  EXPECT_NE(StateSummary{}.digest(), digest(v1));
}

}  // namespace
}  // namespace qkv::causal
