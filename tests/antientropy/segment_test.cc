// Merkle tree segments partition a partition's token range exactly: a token in no leaf, or
// in two, would leave a key unrepaired or compared against the wrong leaf.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "antientropy/merkle_tree.h"
#include "ring/ring.h"
#include "ring/token.h"

namespace qkv::antientropy {
namespace {

using ring::Token;

constexpr Token kTokenMax = std::numeric_limits<Token>::max();

// Partition p of a ring of `partitions`, as the ring defines it.
std::pair<Token, Token> partition_range(uint32_t p, uint32_t partitions) {
  ring::Ring ring(std::vector<NodeId>(partitions, "n1"));
  return {ring.first_token(p), ring.last_token(p)};
}

// Every token of [first, last] in exactly one leaf: the leaves are contiguous, start at
// first, end at last, and segment_of maps each leaf's ends (and the token before) right.
::testing::AssertionResult partitions_exactly(const MerkleTree& tree) {
  const uint64_t width_minus_one = tree.last() - tree.first();
  // Near-equal leaves: sizes (minus one, to stay in 64 bits) floor or ceil of width/segments.
  const unsigned __int128 width = static_cast<unsigned __int128>(width_minus_one) + 1;
  const unsigned __int128 size_min = width / tree.segments();
  Token expected_first = tree.first();
  for (uint32_t s = 0; s < tree.segments(); ++s) {
    const auto [first, last] = tree.segment_range(s);
    if (first != expected_first) {
      return ::testing::AssertionFailure()
             << "segment " << s << " starts at " << first << ", not right after the previous one";
    }
    if (last < first) return ::testing::AssertionFailure() << "segment " << s << " is empty";
    const unsigned __int128 size = static_cast<unsigned __int128>(last - first) + 1;
    if (size != size_min && size != size_min + 1) {
      return ::testing::AssertionFailure() << "segment " << s << " size is uneven";
    }
    if (tree.segment_of(first) != s || tree.segment_of(last) != s) {
      return ::testing::AssertionFailure()
             << "segment " << s << " [" << first << ", " << last << "] maps to "
             << tree.segment_of(first) << " and " << tree.segment_of(last);
    }
    if (s > 0 && tree.segment_of(first - 1) != s - 1) {
      return ::testing::AssertionFailure() << "token before segment " << s;
    }
    if (s + 1 == tree.segments()) {
      if (last != tree.last()) return ::testing::AssertionFailure() << "last segment ends early";
    } else {
      expected_first = last + 1;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(SegmentTest, FullRingEdgesAndBoundaries) {
  MerkleTree tree(0, kTokenMax, 1024);
  EXPECT_EQ(tree.depth(), 10u);
  EXPECT_EQ(tree.segment_of(0), 0u);
  EXPECT_EQ(tree.segment_of(kTokenMax), 1023u);
  EXPECT_EQ(tree.segment_of((Token{1} << 54) - 1), 0u);
  EXPECT_EQ(tree.segment_of(Token{1} << 54), 1u);
  EXPECT_EQ(tree.segment_of(Token{1} << 63), 512u);
  EXPECT_EQ(tree.segment_range(0), (std::pair<Token, Token>{0, (Token{1} << 54) - 1}));
  EXPECT_EQ(tree.segment_range(1), (std::pair<Token, Token>{Token{1} << 54, (Token{2} << 54) - 1}));
  EXPECT_EQ(tree.segment_range(1023), (std::pair<Token, Token>{Token{1023} << 54, kTokenMax}));
  EXPECT_TRUE(partitions_exactly(tree));
}

TEST(SegmentTest, FullRingOneSegmentAndMaxSegments) {
  MerkleTree one(0, kTokenMax, 1);
  EXPECT_EQ(one.depth(), 0u);
  EXPECT_EQ(one.segment_of(0), 0u);
  EXPECT_EQ(one.segment_of(kTokenMax), 0u);
  EXPECT_EQ(one.segment_range(0), (std::pair<Token, Token>{0, kTokenMax}));
  MerkleTree most(0, kTokenMax, MerkleTree::kSegmentsMax);
  EXPECT_EQ(most.segment_of(kTokenMax), MerkleTree::kSegmentsMax - 1);
  EXPECT_TRUE(partitions_exactly(most));
}

TEST(SegmentTest, PartitionRange) {
  const auto [first, last] = partition_range(5, 64);
  ASSERT_EQ(first, Token{5} << 58);
  ASSERT_EQ(last, (Token{6} << 58) - 1);
  MerkleTree tree(first, last, 1024);
  EXPECT_EQ(tree.segment_of(first), 0u);
  EXPECT_EQ(tree.segment_of(last), 1023u);
  EXPECT_EQ(tree.segment_of(first + (Token{1} << 48) - 1), 0u);
  EXPECT_EQ(tree.segment_of(first + (Token{1} << 48)), 1u);
  EXPECT_EQ(tree.segment_range(1023).second, last);
  EXPECT_TRUE(partitions_exactly(tree));
  // The last partition ends at the top of the ring.
  const auto [top_first, top_last] = partition_range(63, 64);
  MerkleTree top(top_first, top_last, 1024);
  EXPECT_EQ(top.segment_of(kTokenMax), 1023u);
  EXPECT_TRUE(partitions_exactly(top));
}

TEST(SegmentTest, SmallRangeEightAndOneSegments) {
  MerkleTree eight(10, 17, 8);
  for (uint32_t s = 0; s < 8; ++s) {
    EXPECT_EQ(eight.segment_of(10 + s), s);
    EXPECT_EQ(eight.segment_range(s), (std::pair<Token, Token>{10 + s, 10 + s}));
  }
  EXPECT_TRUE(partitions_exactly(eight));
  MerkleTree one(10, 17, 1);
  EXPECT_EQ(one.segment_of(10), 0u);
  EXPECT_EQ(one.segment_of(17), 0u);
  EXPECT_EQ(one.segment_range(0), (std::pair<Token, Token>{10, 17}));
}

TEST(SegmentTest, UnevenRangesSpreadTheRemainder) {
  MerkleTree tree(0, 9, 4);  // 10 tokens in 4 leaves: 3, 2, 3, 2
  EXPECT_EQ(tree.segment_range(0), (std::pair<Token, Token>{0, 2}));
  EXPECT_EQ(tree.segment_range(1), (std::pair<Token, Token>{3, 4}));
  EXPECT_EQ(tree.segment_range(2), (std::pair<Token, Token>{5, 7}));
  EXPECT_EQ(tree.segment_range(3), (std::pair<Token, Token>{8, 9}));
  EXPECT_TRUE(partitions_exactly(MerkleTree(3, kTokenMax - 5, 1024)));
  EXPECT_TRUE(partitions_exactly(MerkleTree(1, kTokenMax, 1024)));
  EXPECT_TRUE(partitions_exactly(MerkleTree(0, kTokenMax - 1, 1024)));
  EXPECT_TRUE(partitions_exactly(MerkleTree(kTokenMax - 1023, kTokenMax, 1024)));
  // Exhaustively on small ranges: segment_of agrees with segment_range token by token.
  for (Token first : {Token{0}, Token{7}, kTokenMax - 100}) {
    for (uint32_t segments : {1u, 2u, 4u, 8u, 16u}) {
      for (Token width = segments; width <= 60; ++width) {
        MerkleTree t(first, first + width - 1, segments);
        ASSERT_TRUE(partitions_exactly(t)) << first << " +" << width << " / " << segments;
        for (Token x = 0; x < width; ++x) {
          const auto [lo, hi] = t.segment_range(t.segment_of(first + x));
          ASSERT_TRUE(lo <= first + x && first + x <= hi);
        }
      }
    }
  }
}

}  // namespace
}  // namespace qkv::antientropy
