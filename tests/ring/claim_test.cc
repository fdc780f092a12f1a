// Ring::claim: a deterministic, balanced, spaced assignment of partitions to members.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ring/ring.h"
#include "tests/common/test_seed.h"

namespace qkv::ring {
namespace {

std::vector<NodeId> make_members(uint32_t m) {
  std::vector<NodeId> members;
  for (uint32_t i = 0; i < m; ++i) members.push_back("node-" + std::to_string(i));
  return members;
}

Ring claim_ok(const std::vector<NodeId>& members, uint32_t q, uint32_t n) {
  Result<Ring> ring = Ring::claim(members, q, n);
  QKV_ASSERT(ring.is_ok());
  return std::move(ring).value();
}

// The spacing rule this test holds claim to: no node owns two distinct partitions at cyclic
// distance < n. A node owning k partitions needs k gaps of at least n around a ring of q, so
// it is possible only if q <= m (each node owns at most one) or ceil(q/m) * n <= q; the
// construction in ring.cc reaches it in every such case.
bool spacing_feasible(uint64_t q, uint64_t m, uint64_t n) {
  return q <= m || (q + m - 1) / m * n <= q;
}

// Smallest cyclic distance between two distinct partitions with the same owner, or
// UINT32_MAX when no node owns two.
uint32_t min_same_owner_distance(const Ring& ring) {
  const uint32_t q = ring.partition_count();
  uint32_t best = std::numeric_limits<uint32_t>::max();
  for (const auto& [node, count] : ring.partitions_per_node()) {
    std::vector<uint32_t> ps = ring.partitions_of(node);
    if (ps.size() < 2) continue;
    for (size_t i = 0; i < ps.size(); ++i) {
      uint32_t gap = i + 1 < ps.size() ? ps[i + 1] - ps[i] : q - ps[i] + ps[0];
      best = std::min(best, gap);
    }
  }
  return best;
}

// Window form of the property: owners of any n consecutive partitions are distinct.
bool windows_distinct(const Ring& ring, uint32_t n) {
  const uint32_t q = ring.partition_count();
  const uint32_t window = std::min(n, q);
  for (uint32_t p = 0; p < q; ++p) {
    for (uint32_t d = 1; d < window; ++d) {
      if (ring.owner(p) == ring.owner((p + d) % q)) return false;
    }
  }
  return true;
}

TEST(ClaimTest, BalancedForThreeAndFiveNodes) {
  Ring three = claim_ok({"n1", "n2", "n3"}, 256, 3);
  EXPECT_EQ(three.partitions_per_node(),
            (std::map<NodeId, uint32_t>{{"n1", 86}, {"n2", 85}, {"n3", 85}}));
  Ring five = claim_ok({"n1", "n2", "n3", "n4", "n5"}, 256, 3);
  EXPECT_EQ(
      five.partitions_per_node(),
      (std::map<NodeId, uint32_t>{{"n1", 52}, {"n2", 51}, {"n3", 51}, {"n4", 51}, {"n5", 51}}));
}

// Balance and spacing over the whole grid: q in {1, ..., 1024}, m in 1..64, n in 1..5.
TEST(ClaimTest, BalancedAndSpacedWhereverSpacingIsPossible) {
  int feasible_cases = 0;
  for (uint32_t q = 1; q <= 1024; q *= 2) {
    for (uint32_t m = 1; m <= 64; ++m) {
      const std::vector<NodeId> members = make_members(m);
      for (uint32_t n = 1; n <= 5; ++n) {
        const std::string where =
            "q=" + std::to_string(q) + " m=" + std::to_string(m) + " n=" + std::to_string(n);
        Ring ring = claim_ok(members, q, n);
        ASSERT_EQ(ring.partition_count(), q) << where;
        // Balance: each member owns floor(q/m) or ceil(q/m); members owning 0 are absent.
        auto counts = ring.partitions_per_node();
        ASSERT_EQ(counts.size(), std::min(q, m)) << where;
        for (const auto& [node, count] : counts) {
          ASSERT_TRUE(count == q / m || count == (q + m - 1) / m) << where << " " << node;
        }
        // Spacing exactly when the arithmetic allows it (it cannot hold otherwise).
        const bool feasible = spacing_feasible(q, m, n);
        feasible_cases += feasible;
        ASSERT_EQ(windows_distinct(ring, n), feasible) << where;
        ASSERT_EQ(min_same_owner_distance(ring) >= n, feasible) << where;
        if (q > m) {
          // Best spacing any balanced ring can have: a node with k = ceil(q/m) partitions
          // has a gap <= floor(q/k).
          const uint32_t k = (q + m - 1) / m;
          ASSERT_EQ(min_same_owner_distance(ring), q / k) << where;
        }
      }
    }
  }
  EXPECT_GT(feasible_cases, 3000);  // of 3520: the property is tested, not vacuous
}

TEST(ClaimTest, SpacedWhenMembersOutnumberReplicasOrDivideTheRing) {
  // The common cases a deployment hits: m > n with room, or q % m == 0 with m >= n.
  for (uint32_t m : {4u, 5u, 6u, 7u, 8u, 16u, 64u}) {
    Ring ring = claim_ok(make_members(m), 256, 3);
    EXPECT_TRUE(windows_distinct(ring, 3)) << "m=" << m;
  }
  EXPECT_TRUE(windows_distinct(claim_ok(make_members(4), 256, 4), 4));
  EXPECT_TRUE(windows_distinct(claim_ok(make_members(2), 256, 2), 2));
}

TEST(ClaimTest, SpacingCannotHoldWhenANodeNeedsMoreRoomThanTheRingHas) {
  // m == n with q % m != 0: every n-window would be a permutation, forcing period n.
  EXPECT_FALSE(spacing_feasible(256, 3, 3));
  EXPECT_FALSE(windows_distinct(claim_ok(make_members(3), 256, 3), 3));
  // m > n yet infeasible: 8 partitions over 6 nodes gives two nodes 2 partitions each, which
  // would need 2 gaps of 5 on a ring of 8.
  EXPECT_FALSE(spacing_feasible(8, 6, 5));
  EXPECT_FALSE(windows_distinct(claim_ok(make_members(6), 8, 5), 5));
}

TEST(ClaimTest, SameRingForAnyMemberOrder) {
  const uint64_t seed = qkv::testing::test_seed();
  std::mt19937_64 rng(seed);
  for (uint32_t m : {2u, 3u, 5u, 7u, 13u, 64u}) {
    std::vector<NodeId> members = make_members(m);
    const Ring expected = claim_ok(members, 256, 3);
    EXPECT_EQ(claim_ok(members, 256, 3), expected) << "m=" << m;  // two calls agree
    for (int trial = 0; trial < 20; ++trial) {
      std::shuffle(members.begin(), members.end(), rng);
      ASSERT_EQ(claim_ok(members, 256, 3), expected) << "seed=" << seed << " m=" << m;
    }
  }
}

TEST(ClaimTest, LayoutIsPinned) {
  // Nodes on different releases must compute the same ring: a change here moves data.
  // Five members, q=8: the first three (sorted) own two partitions, the last two own one.
  Ring ring = claim_ok({"e", "c", "a", "d", "b"}, 8, 3);
  EXPECT_EQ(ring.owners(), (std::vector<NodeId>{"a", "b", "c", "d", "a", "b", "c", "e"}));
  // Six members, q=16: a-d own three, e and f two; rounds of 6, 5 and 5 partitions.
  Ring six = claim_ok({"f", "b", "e", "a", "d", "c"}, 16, 3);
  EXPECT_EQ(six.owners(), (std::vector<NodeId>{"a", "b", "c", "d", "e", "f", "a", "b", "c", "d",
                                               "e", "a", "b", "c", "d", "f"}));
}

TEST(ClaimTest, MoreMembersThanPartitions) {
  // Only the first q members in sorted order own a partition; the rest are not in the ring.
  Ring ring = claim_ok({"d", "b", "c", "a", "e"}, 4, 3);
  EXPECT_EQ(ring.owners(), (std::vector<NodeId>{"a", "b", "c", "d"}));
  EXPECT_EQ(claim_ok({"z", "y"}, 1, 1).owners(), (std::vector<NodeId>{"y"}));
}

TEST(ClaimTest, MaximumPartitionCountClaimsQuickly) {
  const auto start = std::chrono::steady_clock::now();
  Ring ring = claim_ok(make_members(64), kPartitionCountMax, 3);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  EXPECT_EQ(ring.partition_count(), kPartitionCountMax);
  for (const auto& [node, count] : ring.partitions_per_node()) EXPECT_EQ(count, 1024u) << node;
  EXPECT_TRUE(windows_distinct(ring, 3));
  // Uneven split at the maximum size: 65536 over 5 members is 13108 + 4 * 13107, so the
  // best spacing is floor(65536 / 13108) = 4: enough for n = 3 or 4, not for n = 5.
  Ring uneven = claim_ok(make_members(5), kPartitionCountMax, 3);
  EXPECT_TRUE(windows_distinct(uneven, 4));
  EXPECT_EQ(min_same_owner_distance(uneven), 4u);
}

void expect_invalid(const std::vector<NodeId>& members, uint32_t q, uint32_t n,
                    const std::string& message_part) {
  Result<Ring> ring = Ring::claim(members, q, n);
  ASSERT_FALSE(ring.is_ok()) << message_part;
  EXPECT_EQ(ring.status().code(), StatusCode::kInvalidArgument) << ring.status().to_string();
  EXPECT_NE(ring.status().message().find(message_part), std::string::npos)
      << ring.status().to_string();
}

TEST(ClaimTest, RejectsBadArguments) {
  expect_invalid({}, 256, 3, "member set is empty");
  expect_invalid({"a", "b", "a"}, 256, 3, "member 'a' is listed twice");
  expect_invalid({"a", "b c"}, 256, 3, "node id 'b c'");
  expect_invalid({"a", ""}, 256, 3, "node id is empty");
  expect_invalid({"a"}, 0, 3, "q is 0; it must be a power of two in [1, 65536]");
  expect_invalid({"a"}, 100, 3, "q is 100; it must be a power of two");
  expect_invalid({"a"}, 1u << 17, 3, "q is 131072");
  expect_invalid({"a"}, 256, 0, "replication factor n is 0");
}

}  // namespace
}  // namespace qkv::ring
