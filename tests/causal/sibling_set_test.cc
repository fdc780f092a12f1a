#include "causal/sibling_set.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/causal/causal_testing.h"

namespace qkv::causal {
namespace {

using testing::actor;
using testing::dot;
using testing::well_formed;
using Values = std::vector<std::string>;

const Actor kN1 = actor("n1");
const Actor kN2 = actor("n2");

SiblingSet put(const SiblingSet& at, const SiblingSet& read, const Actor& coordinator,
               std::optional<std::string> value) {
  return at.update(read.version_vector(), coordinator, std::move(value));
}

TEST(SiblingSetTest, NeverWrittenKeyIsDeletedAndEmpty) {
  SiblingSet none;
  EXPECT_TRUE(none.is_deleted());
  EXPECT_TRUE(none.values().empty());
  EXPECT_TRUE(none.version_vector().empty());
}

TEST(SiblingSetTest, AnExpiredValueIsNotReadAndTheStateDiesWithItsLastValue) {
  SiblingSet a = SiblingSet().update({}, kN1, "a", 1'000);
  SiblingSet both = SiblingSet::join(a, SiblingSet().update({}, kN2, "b", 2'000));
  EXPECT_EQ(both.values_at(999), (Values{"a", "b"}));
  EXPECT_EQ(both.values_at(1'000), (Values{"b"})) << "expires_ms is the first unseen instant";
  EXPECT_EQ(both.values_at(2'000), Values{});
  EXPECT_EQ(both.values(), (Values{"a", "b"})) << "values() ignores time: the stored siblings";
  EXPECT_EQ(both.dead_from(), 2'000);
  EXPECT_EQ(SiblingSet().update({}, kN1, std::nullopt).dead_from(), 0) << "a tombstone";
  EXPECT_EQ(SiblingSet::join(a, SiblingSet().update({}, kN2, "forever")).dead_from(), std::nullopt);
  EXPECT_EQ(SiblingSet().dead_from(), std::nullopt) << "never written: nothing to reap";
}

TEST(SiblingSetTest, UpdateStampsTheNewSiblingAndJoinKeepsAKnownTimestamp) {
  SiblingSet a = SiblingSet().update({}, kN1, "a", 0, 5'000);
  SiblingSet deleted = a.update(a.version_vector(), kN2, std::nullopt, 0, 6'000);
  ASSERT_EQ(deleted.siblings().size(), 1u);
  EXPECT_EQ(deleted.siblings()[0].timestamp_ms, 6'000) << "tombstones are stamped too";
  EXPECT_EQ(a.siblings()[0].timestamp_ms, 5'000);

  // The same dot without its timestamp (a copy through a node older than the field): join
  // keeps the known one, whichever side it is on.
  Sibling lost = a.siblings()[0];
  lost.timestamp_ms = 0;
  SiblingSet old(a.version_vector(), {lost});
  EXPECT_EQ(SiblingSet::join(a, old), a);
  EXPECT_EQ(SiblingSet::join(old, a), a);
  EXPECT_FALSE(old.descends(a));
  EXPECT_TRUE(a.descends(old));
}

TEST(SiblingSetTest, ConstructorSortsSiblingsAndValuesFollowDotOrder) {
  VersionVector vv({{kN1, 2}, {kN2, 1}});
  SiblingSet s(vv, {Sibling{dot("n2", 1), false, "b"}, Sibling{dot("n1", 2), true, ""},
                    Sibling{dot("n1", 1), false, "a"}});
  ASSERT_TRUE(well_formed(s));
  EXPECT_EQ(s.values(), (Values{"a", "b"})) << "tombstones are not values";
  EXPECT_FALSE(s.is_deleted());
}

TEST(SiblingSetDeathTest, ConstructorRejectsUncoveredOrDuplicateDots) {
  Sibling a{dot("n1", 1), false, "a"};
  EXPECT_DEATH(SiblingSet(VersionVector{}, {a}), "covers");
  EXPECT_DEATH(SiblingSet(VersionVector({{kN1, 1}}), {a, a}), "dot");
}

// Dynamo (DeCandia et al., SOSP 2007) §4.4, Figure 3.
TEST(SiblingSetTest, DynamoFigure3ShoppingCart) {
  const Actor sx = actor("Sx"), sy = actor("Sy"), sz = actor("Sz");
  SiblingSet d1 = SiblingSet{}.update(VersionVector{}, sx, "D1");
  EXPECT_EQ(d1.version_vector(), VersionVector({{sx, 1}}));
  SiblingSet d2 = put(d1, d1, sx, "D2");
  EXPECT_EQ(d2.version_vector(), VersionVector({{sx, 2}}));
  EXPECT_EQ(d2.values(), Values{"D2"}) << "D2 overwrote D1";

  // D2 reaches Sy and Sz; two clients read it and write through each.
  SiblingSet d3 = put(SiblingSet::join({}, d2), d2, sy, "D3");
  SiblingSet d4 = put(SiblingSet::join({}, d2), d2, sz, "D4");
  EXPECT_EQ(d3.version_vector(), VersionVector({{sx, 2}, {sy, 1}}));
  EXPECT_EQ(d4.version_vector(), VersionVector({{sx, 2}, {sz, 1}}));
  EXPECT_TRUE(d3.version_vector().concurrent(d4.version_vector()));

  // A read reaching both returns both versions; the client reconciles through Sx.
  SiblingSet read = SiblingSet::join(d3, d4);
  EXPECT_EQ(read.values(), (Values{"D3", "D4"}));
  SiblingSet d5 = put(d2, read, sx, "D5");
  EXPECT_EQ(d5.version_vector(), VersionVector({{sx, 3}, {sy, 1}, {sz, 1}}));
  EXPECT_EQ(d5.values(), Values{"D5"});
  // Wherever D5 is joined, it replaces both D3 and D4.
  EXPECT_EQ(SiblingSet::join(d3, d5), d5);
  EXPECT_EQ(SiblingSet::join(d4, d5), d5);
  EXPECT_EQ(SiblingSet::join(read, d5), d5);
}

TEST(SiblingSetTest, TwoPutsWithTheSameStaleContextGiveTwoSiblings) {
  SiblingSet base = SiblingSet{}.update(VersionVector{}, kN1, "v0");
  // Both writes through one coordinator.
  SiblingSet one = put(base, base, kN1, "a");
  SiblingSet both = put(one, base, kN1, "b");
  EXPECT_EQ(both.values(), (Values{"a", "b"}));
  // Or through two coordinators, met again by a join.
  SiblingSet via_n2 = put(SiblingSet::join({}, base), base, kN2, "b");
  SiblingSet joined = SiblingSet::join(one, via_n2);
  EXPECT_EQ(joined.values(), (Values{"a", "b"}));
  // A put with the merged context collapses them.
  EXPECT_EQ(put(both, both, kN1, "c").values(), Values{"c"});
  SiblingSet collapsed = put(via_n2, joined, kN2, "c");
  EXPECT_EQ(collapsed.values(), Values{"c"});
  EXPECT_EQ(SiblingSet::join(joined, collapsed), collapsed);
}

TEST(SiblingSetTest, PutWithEmptyContextKeepsTheOldValueAsSibling) {
  SiblingSet old = SiblingSet{}.update(VersionVector{}, kN1, "old");
  SiblingSet blind = old.update(VersionVector{}, kN1, "new");
  EXPECT_EQ(blind.values(), (Values{"old", "new"}));
}

TEST(SiblingSetTest, DeleteWritesATombstoneThatALaterPutReplaces) {
  SiblingSet v = SiblingSet{}.update(VersionVector{}, kN1, "v");
  SiblingSet deleted = put(v, v, kN1, std::nullopt);
  EXPECT_TRUE(deleted.is_deleted());
  EXPECT_TRUE(deleted.values().empty());
  ASSERT_EQ(deleted.siblings().size(), 1u);
  EXPECT_TRUE(deleted.siblings()[0].tombstone);
  EXPECT_TRUE(SiblingSet::join(v, deleted).is_deleted()) << "a stale replica learns the delete";

  SiblingSet again = put(deleted, deleted, kN1, "w");
  EXPECT_FALSE(again.is_deleted());
  EXPECT_EQ(again.values(), Values{"w"});
  EXPECT_EQ(again.siblings().size(), 1u) << "the tombstone was superseded";
}

TEST(SiblingSetTest, DeleteConcurrentWithAPutKeepsThePutsValue) {
  SiblingSet v = SiblingSet{}.update(VersionVector{}, kN1, "v");
  SiblingSet updated = put(v, v, kN1, "x");
  SiblingSet deleted = put(SiblingSet::join({}, v), v, kN2, std::nullopt);
  SiblingSet joined = SiblingSet::join(updated, deleted);
  EXPECT_FALSE(joined.is_deleted());
  EXPECT_EQ(joined.values(), Values{"x"});
  EXPECT_EQ(joined.siblings().size(), 2u) << "the tombstone stays as a sibling";
}

TEST(SiblingSetTest, NewIncarnationNeverReusesADot) {
  const Actor before = actor("n1", 0), after = actor("n1", 1);
  SiblingSet at_n1 = SiblingSet{}.update(VersionVector{}, before, "a");
  SiblingSet at_n2 = SiblingSet::join({}, at_n1);
  // n1's disk is wiped: it restarts as incarnation 1 with no data and takes a blind write.
  SiblingSet wiped = SiblingSet{}.update(VersionVector{}, after, "b");
  EXPECT_NE(wiped.siblings().at(0).dot, at_n1.siblings().at(0).dot);
  EXPECT_EQ(SiblingSet::join(at_n2, wiped).values(), (Values{"a", "b"})) << "both writes kept";
  // A client that read n2 writes through the new incarnation: "a" is superseded, not lost.
  SiblingSet next = put(wiped, at_n2, after, "c");
  EXPECT_EQ(SiblingSet::join(at_n2, next).values(), (Values{"b", "c"}));
}

TEST(SiblingSetTest, ContextAheadOfTheCoordinatorNeverMakesItReuseASeenDot) {
  SiblingSet at_n1 = SiblingSet{}.update(VersionVector{}, kN1, "a");
  at_n1 = put(at_n1, at_n1, kN1, "b");
  VersionVector foreign({{kN1, 5}});  // e.g. a context read from another key
  SiblingSet next = at_n1.update(foreign, kN1, "c");
  ASSERT_EQ(next.siblings().size(), 1u);
  EXPECT_FALSE(foreign.covers(next.siblings()[0].dot));
  EXPECT_TRUE(well_formed(next));
}

TEST(SiblingSetTest, DescendsMeansJoinAddsNothing) {
  SiblingSet d1 = SiblingSet{}.update(VersionVector{}, kN1, "a");
  SiblingSet d2 = put(d1, d1, kN1, "b");
  SiblingSet other = SiblingSet{}.update(VersionVector{}, kN2, "c");
  EXPECT_TRUE(d2.descends(d1));
  EXPECT_FALSE(d1.descends(d2));
  EXPECT_FALSE(d2.descends(other));
  EXPECT_TRUE(SiblingSet::join(d2, other).descends(other));
  // Same vector, but `superseded` has seen "a" go: joining it would drop our sibling.
  SiblingSet superseded(VersionVector({{kN1, 1}}), {});
  EXPECT_FALSE(d1.descends(superseded));
  EXPECT_TRUE(superseded.descends(d1));
}

TEST(SiblingSetTest, ReusedDotJoinsDeterministically) {
  VersionVector vv({{kN1, 1}});
  SiblingSet x(vv, {Sibling{dot("n1", 1), false, "a"}});
  SiblingSet y(vv, {Sibling{dot("n1", 1), false, "b"}});
  SiblingSet xy = SiblingSet::join(x, y);
  EXPECT_EQ(xy, SiblingSet::join(y, x));
  EXPECT_EQ(xy.siblings().size(), 1u);
  EXPECT_EQ(x.descends(y), xy == x);
  EXPECT_EQ(y.descends(x), xy == y);
}

TEST(SiblingSetTest, VersionVectorSizeIsBoundedByCoordinators) {
  // n1 and n2 coordinate every write; n3 only stores. Contexts come from any replica.
  const Actor coordinators[] = {kN1, kN2};
  SiblingSet replicas[3];
  for (int i = 0; i < 200; ++i) {
    int c = i % 2;
    const SiblingSet& read = replicas[(i * 7) % 3];
    std::string value = "v";
    value += std::to_string(i);
    SiblingSet next = put(replicas[c], read, coordinators[c], value);
    replicas[c] = next;
    replicas[2] = SiblingSet::join(replicas[2], next);
    if (i % 5 == 0) replicas[1 - c] = SiblingSet::join(replicas[1 - c], replicas[2]);
    for (const SiblingSet& r : replicas) ASSERT_LE(r.version_vector().size(), 2u);
  }
  EXPECT_EQ(replicas[2].version_vector().get(actor("n3")), 0u);
}

}  // namespace
}  // namespace qkv::causal
