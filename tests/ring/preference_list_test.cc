// Preference lists (Dynamo §4.3): who stores a key, in what order.
#include "ring/preference_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "ring/ring.h"
#include "tests/common/test_seed.h"

namespace qkv::ring {
namespace {

std::vector<NodeId> make_members(uint32_t m) {
  std::vector<NodeId> members;
  for (uint32_t i = 0; i < m; ++i) members.push_back(NodeId("n").append(std::to_string(i)));
  return members;
}

std::string random_key(std::mt19937_64& rng) {
  std::string key(1 + rng() % 40, '\0');
  for (char& c : key) c = static_cast<char>(rng());
  return key;
}

// Reference walk straight from the definition: every partition from the key's one,
// clockwise, each owner taken the first time it is met.
std::vector<NodeId> walk_order(const Ring& ring, uint32_t start) {
  std::vector<NodeId> order;
  for (uint32_t i = 0; i < ring.partition_count(); ++i) {
    const NodeId& owner = ring.owner((start + i) % ring.partition_count());
    if (std::find(order.begin(), order.end(), owner) == order.end()) order.push_back(owner);
  }
  return order;
}

TEST(PreferenceListTest, EveryKeyGetsDistinctPrimariesThenEveryOtherMember) {
  const uint64_t seed = qkv::testing::test_seed();
  std::mt19937_64 rng(seed);
  for (uint32_t q : {1u, 8u, 256u, 4096u}) {
    for (uint32_t m : {1u, 2u, 3u, 5u, 8u, 17u}) {
      for (uint32_t n = 1; n <= 5; ++n) {
        Ring ring = Ring::claim(make_members(m), q, n).value();
        const std::vector<NodeId> members = ring.members();
        const size_t want = std::min<size_t>(n, members.size());
        for (int i = 0; i < 200; ++i) {
          const std::string key = random_key(rng);
          const std::string where = "seed=" + std::to_string(seed) + " q=" + std::to_string(q) +
                                    " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                    " key#" + std::to_string(i);
          const PreferenceList list = ring.preference_list(token_of(key), n);
          ASSERT_EQ(list.partition, ring.partition_of(token_of(key))) << where;
          ASSERT_EQ(list.primaries.size(), want) << where;
          ASSERT_EQ(list.primaries.front(), ring.owner(list.partition)) << where;
          // Primaries then fallbacks: every member exactly once, in ring-walk order.
          std::vector<NodeId> all = list.primaries;
          all.insert(all.end(), list.fallbacks.begin(), list.fallbacks.end());
          ASSERT_EQ(all, walk_order(ring, list.partition)) << where;
          std::vector<NodeId> sorted = all;
          std::sort(sorted.begin(), sorted.end());
          ASSERT_EQ(sorted, members) << where;
        }
      }
    }
  }
}

// With a spaced claim no partition is skipped: a key's primaries are exactly the owners of
// its partition and the n - 1 after it (what handoff and anti-entropy assume).
TEST(PreferenceListTest, SpacedRingNeedsNoSkipping) {
  Ring ring = Ring::claim(make_members(5), 256, 3).value();
  for (uint32_t p = 0; p < 256; ++p) {
    const PreferenceList list = ring.preference_list(ring.first_token(p), 3);
    ASSERT_EQ(list.primaries, (std::vector<NodeId>{ring.owner(p), ring.owner((p + 1) % 256),
                                                   ring.owner((p + 2) % 256)}))
        << "p=" << p;
  }
}

TEST(PreferenceListTest, SkipsRepeatedOwnersAndWrapsAround) {
  Ring ring({"a", "a", "b", "a", "c", "b", "a", "a"});
  PreferenceList from0 = ring.preference_list(ring.first_token(0), 2);
  EXPECT_EQ(from0.partition, 0u);
  EXPECT_EQ(from0.primaries, (std::vector<NodeId>{"a", "b"}));
  EXPECT_EQ(from0.fallbacks, (std::vector<NodeId>{"c"}));
  // From partition 5 the walk wraps: b(5), a(6), a(7), a(0), a(1), b(2), a(3), c(4).
  PreferenceList from5 = ring.preference_list(ring.last_token(5), 3);
  EXPECT_EQ(from5.partition, 5u);
  EXPECT_EQ(from5.primaries, (std::vector<NodeId>{"b", "a", "c"}));
  EXPECT_TRUE(from5.fallbacks.empty());
}

TEST(PreferenceListTest, FewerMembersThanReplicas) {
  Ring ring = Ring::claim({"x", "y"}, 16, 3).value();
  PreferenceList list = ring.preference_list(0, 3);
  EXPECT_EQ(list.primaries, (std::vector<NodeId>{"x", "y"}));
  EXPECT_TRUE(list.fallbacks.empty());
}

TEST(PreferenceListTest, ZeroReplicasMakesEveryoneAFallback) {
  Ring ring({"a", "b", "c", "d"});
  PreferenceList list = ring.preference_list(ring.first_token(2), 0);
  EXPECT_TRUE(list.primaries.empty());
  EXPECT_EQ(list.fallbacks, (std::vector<NodeId>{"c", "d", "a", "b"}));
}

TEST(PreferenceListTest, PrimaryLookup) {
  PreferenceList list{.partition = 7, .primaries = {"b", "c", "a"}, .fallbacks = {"d"}};
  EXPECT_TRUE(list.is_primary("a"));
  EXPECT_TRUE(list.is_primary("b"));
  EXPECT_FALSE(list.is_primary("d"));  // a fallback is not a primary
  EXPECT_FALSE(list.is_primary("z"));
  EXPECT_EQ(list.primary_index("b"), 0);
  EXPECT_EQ(list.primary_index("c"), 1);
  EXPECT_EQ(list.primary_index("a"), 2);
  EXPECT_EQ(list.primary_index("d"), -1);
  EXPECT_EQ(PreferenceList{}.primary_index("a"), -1);
}

}  // namespace
}  // namespace qkv::ring
