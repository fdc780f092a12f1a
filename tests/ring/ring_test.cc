// Ring: partition arithmetic on the 64-bit token space and the owner-table accessors.
#include "ring/ring.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace qkv::ring {
namespace {

constexpr Token kTokenMax = std::numeric_limits<Token>::max();

Ring ring_of_size(uint32_t q) {
  return Ring(std::vector<NodeId>(q, "n1"));
}

TEST(RingTest, SinglePartitionCoversTheWholeTokenSpace) {
  Ring ring = ring_of_size(1);
  EXPECT_EQ(ring.partition_count(), 1u);
  EXPECT_EQ(ring.partition_of(0), 0u);
  EXPECT_EQ(ring.partition_of(kTokenMax / 2), 0u);
  EXPECT_EQ(ring.partition_of(kTokenMax), 0u);
  EXPECT_EQ(ring.first_token(0), 0u);
  EXPECT_EQ(ring.last_token(0), kTokenMax);
}

TEST(RingTest, PartitionEdgesAtDefaultSize) {
  Ring ring = ring_of_size(256);
  EXPECT_EQ(ring.partition_of(0), 0u);
  EXPECT_EQ(ring.partition_of((Token{1} << 56) - 1), 0u);
  EXPECT_EQ(ring.partition_of(Token{1} << 56), 1u);
  EXPECT_EQ(ring.partition_of(kTokenMax), 255u);
  EXPECT_EQ(ring.first_token(1), Token{1} << 56);
  EXPECT_EQ(ring.last_token(0), (Token{1} << 56) - 1);
  EXPECT_EQ(ring.first_token(255), Token{255} << 56);
  EXPECT_EQ(ring.last_token(255), kTokenMax);
}

TEST(RingTest, PartitionEdgesAtMaximumSize) {
  Ring ring = ring_of_size(kPartitionCountMax);
  EXPECT_EQ(ring.partition_count(), 65536u);
  EXPECT_EQ(ring.partition_of(0), 0u);
  EXPECT_EQ(ring.partition_of(kTokenMax), 65535u);
  EXPECT_EQ(ring.partition_of(Token{0x0001'0000'0000'0000}), 1u);
  EXPECT_EQ(ring.partition_of(Token{0x0000'ffff'ffff'ffff}), 0u);
  EXPECT_EQ(ring.first_token(65535), Token{0xffff'0000'0000'0000});
  EXPECT_EQ(ring.last_token(0), Token{0x0000'ffff'ffff'ffff});
}

// For every size, partitions tile the token space: contiguous, in order, no gaps, and
// partition_of maps each partition's edges back to it.
TEST(RingTest, PartitionsTileTheTokenSpace) {
  for (uint32_t q = 1; q <= kPartitionCountMax; q *= 2) {
    Ring ring = ring_of_size(q);
    ASSERT_EQ(ring.first_token(0), 0u) << "q=" << q;
    ASSERT_EQ(ring.last_token(q - 1), kTokenMax) << "q=" << q;
    const Token width = q == 1 ? 0 : Token{1} << (64 - std::countr_zero(q));
    for (uint32_t p = 0; p < q; ++p) {
      ASSERT_EQ(ring.partition_of(ring.first_token(p)), p) << "q=" << q << " p=" << p;
      ASSERT_EQ(ring.partition_of(ring.last_token(p)), p) << "q=" << q << " p=" << p;
      if (p + 1 < q) {
        ASSERT_EQ(ring.last_token(p) + 1, ring.first_token(p + 1)) << "q=" << q << " p=" << p;
        ASSERT_EQ(ring.first_token(p + 1) - ring.first_token(p), width) << "q=" << q;
      }
    }
  }
}

TEST(RingTest, AccessorsAgreeWithTheOwnerTable) {
  const std::vector<NodeId> owners = {"c", "a", "c", "b", "a", "c", "c", "a"};
  Ring ring(owners);
  EXPECT_EQ(ring.owners(), owners);
  for (uint32_t p = 0; p < owners.size(); ++p) EXPECT_EQ(ring.owner(p), owners[p]);
  EXPECT_EQ(ring.members(), (std::vector<NodeId>{"a", "b", "c"}));
  EXPECT_EQ(ring.partitions_per_node(), (std::map<NodeId, uint32_t>{{"a", 3}, {"b", 1}, {"c", 4}}));
  EXPECT_EQ(ring.partitions_of("a"), (std::vector<uint32_t>{1, 4, 7}));
  EXPECT_EQ(ring.partitions_of("b"), (std::vector<uint32_t>{3}));
  EXPECT_EQ(ring.partitions_of("c"), (std::vector<uint32_t>{0, 2, 5, 6}));
  EXPECT_TRUE(ring.partitions_of("d").empty());
}

TEST(RingTest, EqualityComparesOwnerTables) {
  EXPECT_EQ(Ring({"a", "b"}), Ring({"a", "b"}));
  EXPECT_NE(Ring({"a", "b"}), Ring({"b", "a"}));
  EXPECT_NE(Ring({"a", "a"}), Ring({"a", "a", "a", "a"}));
}

TEST(RingDeathTest, OwnerTableMustBeAPowerOfTwo) {
  EXPECT_DEATH(Ring(std::vector<NodeId>(3, "a")), "has_single_bit");
  EXPECT_DEATH(Ring(std::vector<NodeId>{}), "empty");
  EXPECT_DEATH(Ring(std::vector<NodeId>{"a", ""}), "empty");
}

}  // namespace
}  // namespace qkv::ring
