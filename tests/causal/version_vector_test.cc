#include "causal/version_vector.h"

#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "tests/causal/causal_testing.h"

namespace qkv::causal {
namespace {

using testing::actor;
using testing::dot;
using testing::vv_well_formed;
using Entry = VersionVector::Entry;

TEST(VersionVectorTest, ConstructorSortsDropsZerosAndKeepsMaxOfDuplicates) {
  VersionVector vv({{actor("n2"), 2},
                    {actor("n1"), 0},
                    {actor("n3"), 1},
                    {actor("n2"), 5},
                    {actor("n1", 1), 4},
                    {actor("n3"), 0}});
  std::vector<Entry> want = {{actor("n1", 1), 4}, {actor("n2"), 5}, {actor("n3"), 1}};
  EXPECT_EQ(vv.entries(), want);
  EXPECT_TRUE(vv_well_formed(vv));
  // Equal contents give equal vectors, whatever the order they were built in.
  VersionVector raised;
  raised.raise(actor("n3"), 1);
  raised.raise(actor("n2"), 5);
  raised.raise(actor("n1", 1), 4);
  EXPECT_EQ(vv, raised);
}

TEST(VersionVectorTest, GetIsZeroForUnknownActorsAndRaiseNeverLowers) {
  VersionVector vv;
  EXPECT_EQ(vv.get(actor("n1")), 0u);
  vv.raise(actor("n1"), 0);
  EXPECT_TRUE(vv.empty()) << "a zero counter must not create an entry";
  vv.raise(actor("n1"), 3);
  vv.raise(actor("n1"), 2);
  EXPECT_EQ(vv.get(actor("n1")), 3u);
  EXPECT_EQ(vv.size(), 1u);
}

TEST(VersionVectorTest, CoversDotsUpToTheActorsCounter) {
  VersionVector vv({{actor("n1"), 3}});
  EXPECT_TRUE(vv.covers(dot("n1", 1)));
  EXPECT_TRUE(vv.covers(dot("n1", 3)));
  EXPECT_FALSE(vv.covers(dot("n1", 4)));
  EXPECT_FALSE(vv.covers(dot("n2", 1)));
}

TEST(VersionVectorTest, IncarnationsOfOneNodeAreDistinctActors) {
  VersionVector vv({{actor("n1", 0), 7}});
  EXPECT_FALSE(vv.covers(dot("n1", 1, /*incarnation=*/1)));
  EXPECT_EQ(vv.get(actor("n1", 1)), 0u);
}

TEST(VersionVectorTest, DescendsAndConcurrent) {
  VersionVector empty;
  VersionVector a({{actor("n1"), 2}, {actor("n2"), 1}});
  VersionVector b({{actor("n1"), 1}});
  VersionVector c({{actor("n1"), 1}, {actor("n3"), 1}});
  EXPECT_TRUE(a.descends(b));
  EXPECT_FALSE(b.descends(a));
  EXPECT_TRUE(a.descends(empty));
  EXPECT_FALSE(empty.descends(b));
  EXPECT_TRUE(a.concurrent(c)) << "c has seen n3, a has seen more of n1";
  EXPECT_FALSE(a.concurrent(b));
  EXPECT_FALSE(a.concurrent(a));
}

TEST(VersionVectorTest, MergeIsPointwiseMax) {
  VersionVector a({{actor("n1"), 2}, {actor("n2"), 1}});
  VersionVector b({{actor("n1"), 1}, {actor("n3"), 4}});
  VersionVector want({{actor("n1"), 2}, {actor("n2"), 1}, {actor("n3"), 4}});
  EXPECT_EQ(VersionVector::merge(a, b), want);
}

// Vectors over four actors (two nodes, two incarnations) with small counters, so that
// equal, ordered and concurrent pairs all occur often.
VersionVector random_vv(std::mt19937_64& rng) {
  static const Actor kActors[] = {actor("n1"), actor("n1", 1), actor("n2"), actor("n3")};
  std::vector<Entry> entries;
  for (const Actor& a : kActors) {
    entries.push_back({a, std::uniform_int_distribution<uint64_t>(0, 2)(rng)});
  }
  return VersionVector(std::move(entries));
}

TEST(VersionVectorTest, MergeIsALatticeJoinAndDescendsAPartialOrder) {
  const uint64_t seed = 0xC0FFEE;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 4000; ++i) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " iteration " << i);
    VersionVector a = random_vv(rng), b = random_vv(rng), c = random_vv(rng);
    VersionVector ab = VersionVector::merge(a, b);
    ASSERT_TRUE(vv_well_formed(ab));
    ASSERT_EQ(ab, VersionVector::merge(b, a));
    ASSERT_EQ(VersionVector::merge(ab, c), VersionVector::merge(a, VersionVector::merge(b, c)));
    ASSERT_EQ(VersionVector::merge(a, a), a);
    // The merge is the least upper bound.
    ASSERT_TRUE(ab.descends(a) && ab.descends(b));
    if (c.descends(a) && c.descends(b)) {
      ASSERT_TRUE(c.descends(ab));
    }
    ASSERT_EQ(a.descends(b), ab == a);
    // descends: reflexive, antisymmetric, transitive; covers agrees with it.
    ASSERT_TRUE(a.descends(a));
    if (a.descends(b) && b.descends(a)) {
      ASSERT_EQ(a, b);
    }
    if (a.descends(b) && b.descends(c)) {
      ASSERT_TRUE(a.descends(c));
    }
    bool covers_all = true;
    for (const Entry& e : b.entries()) covers_all = covers_all && a.covers(Dot{e.actor, e.counter});
    ASSERT_EQ(a.descends(b), covers_all);
    ASSERT_EQ(a.concurrent(b), !a.descends(b) && !b.descends(a));
  }
}

}  // namespace
}  // namespace qkv::causal
