// token_of is XXH3_64bits with seed 0, pinned: tokens order the storage keys on disk and
// place keys on the ring, so a change would strand every stored key.
#include "ring/token.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qkv::ring {
namespace {

// Bytes 0, 1, 2, ... (mod 256) of length `len`.
std::string counting_bytes(size_t len) {
  std::string s(len, '\0');
  for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>(static_cast<unsigned char>(i));
  return s;
}

TEST(TokenTest, MatchesPublishedXxh3Vectors) {
  // XXH3_64bits(seed 0) of counting_bytes(len), from the reference implementation's output
  // (apache/hbase hbase-common/src/test/resources/xxh3/xxh3_vectors.csv). The lengths cover
  // every XXH3 code path: 0, 1-3, 4-8, 9-16, 17-128, 129-240, and the long loop (> 1024).
  const std::vector<std::pair<size_t, Token>> vectors = {
      {0, 0x2d06800538d394c2},   {1, 0xc44bdff4074eecdb},    {3, 0x5f4299fc161c9cbb},
      {8, 0x3a1c2d7c85af88f8},   {16, 0x8355e3a6f61770db},   {17, 0x9ef341a99de37328},
      {128, 0x85c6174c7ff4c46b}, {129, 0xec7642b431ba3e5a},  {240, 0x375a384d957fe865},
      {241, 0x02e8cd95421c6d02}, {2048, 0xdd420471ff96bd00}, {2049, 0x62dff343e7dbac9b},
  };
  for (const auto& [len, expected] : vectors) {
    EXPECT_EQ(token_of(counting_bytes(len)), expected) << "length " << len;
  }
}

TEST(TokenTest, MatchesXxh3OfTextKeys) {
  // ASCII keys, values as pinned by other XXH3 implementations' test suites (seed 0).
  EXPECT_EQ(token_of(""), 0x2d06800538d394c2u);
  EXPECT_EQ(token_of("a"), 0xe6c632b61e964e1fu);
  EXPECT_EQ(token_of("abc"), 0x78af5f94892f3950u);
  EXPECT_EQ(token_of("hello world"), 0xd447b1ea40e6988bu);
}

TEST(TokenTest, DependsOnlyOnTheKeyBytes) {
  std::string owned = "user:42";
  std::string buffer = "xxuser:42yy";
  std::string_view view(buffer.data() + 2, 7);
  EXPECT_EQ(token_of(owned), token_of(view));
  EXPECT_EQ(token_of(owned), token_of(owned));
  // Every byte counts, including NUL and the last one.
  EXPECT_NE(token_of(std::string_view("k\0a", 3)), token_of(std::string_view("k\0b", 3)));
  EXPECT_NE(token_of("k"), token_of(std::string_view("k\0", 2)));
}

}  // namespace
}  // namespace qkv::ring
