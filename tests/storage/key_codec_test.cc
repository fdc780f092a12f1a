#include "node/storage/key_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace qkv::storage {
namespace {

using namespace std::string_literals;

TEST(KeyCodec, LayoutIsBigEndianTokenThenKeyBytes) {
  EXPECT_EQ(encode_data_key(0x0102030405060708, "ab"),
            "\x01\x02\x03\x04\x05\x06\x07\x08"
            "ab"s);
  EXPECT_EQ(encode_data_key(0, ""), std::string(8, '\0'));
  EXPECT_EQ(encode_token(UINT64_MAX), std::string(8, '\xff'));
}

TEST(KeyCodec, RoundTripsBinaryKeysAndExtremeTokens) {
  const std::vector<std::pair<ring::Token, std::string>> cases = {
      {0, ""}, {1, "a"}, {UINT64_MAX, "\0\xff\0"s}, {0x8000000000000000, std::string(300, '\0')}};
  for (const auto& [token, key] : cases) {
    const std::string bytes = encode_data_key(token, key);
    auto decoded = decode_data_key(bytes);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->first, token);
    EXPECT_EQ(decoded->second, key);
  }
}

TEST(KeyCodec, EncodedKeysSortBytewiseInTokenThenKeyOrder) {
  // Tokens whose little-endian bytes would sort differently from their values.
  const std::vector<std::pair<ring::Token, std::string>> in_order = {{0, ""},
                                                                     {0, "b"},
                                                                     {1, "a"},
                                                                     {0xff, "a"},
                                                                     {0x100, "a"},
                                                                     {0x0100000000, ""},
                                                                     {0x7fffffffffffffff, "z"},
                                                                     {0x8000000000000000, ""},
                                                                     {0x8000000000000000, "\x01"},
                                                                     {0x8000000000000000, "\xff"},
                                                                     {UINT64_MAX - 1, "a"},
                                                                     {UINT64_MAX, ""},
                                                                     {UINT64_MAX, "a"}};
  std::vector<std::string> encoded;
  for (const auto& [token, key] : in_order) encoded.push_back(encode_data_key(token, key));
  EXPECT_TRUE(std::is_sorted(encoded.begin(), encoded.end()));
  EXPECT_EQ(std::adjacent_find(encoded.begin(), encoded.end()), encoded.end());
}

TEST(KeyCodec, DecodeOfFewerThanEightBytesIsCorruption) {
  for (std::size_t size = 0; size < kTokenBytes; ++size) {
    auto decoded = decode_data_key(std::string(size, '\x01'));
    ASSERT_FALSE(decoded.is_ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  }
  EXPECT_TRUE(decode_data_key(std::string(kTokenBytes, '\x01')).is_ok());
}

TEST(KeyCodec, HintKeyLayoutIsTargetNulThenBigEndianTokenThenKey) {
  EXPECT_EQ(encode_hint_key("n1", 0x0102030405060708, "ab"),
            "n1\0\x01\x02\x03\x04\x05\x06\x07\x08"
            "ab"s);
  EXPECT_EQ(encode_hint_key("n", 0, ""), "n"s + std::string(9, '\0'));
}

TEST(KeyCodec, HintKeysRoundTripAndSortByTargetTokenKey) {
  const std::vector<std::tuple<std::string, ring::Token, std::string>> ordered = {
      {"n1", 0, ""},           {"n1", 0, "\0"s}, {"n1", 1, ""},
      {"n1", UINT64_MAX, "z"}, {"n10", 0, "a"},  {"n2", 0, "a"},
      {"n2", 0, "\xff"},       {"n2-b", 7, "k"}, {std::string(64, 'z'), UINT64_MAX, "\0\xff"s}};
  std::vector<std::string> encoded;
  for (const auto& [target, token, key] : ordered) {
    encoded.push_back(encode_hint_key(target, token, key));
    auto decoded = decode_hint_key(encoded.back());
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->target, target);
    EXPECT_EQ(decoded->token, token);
    EXPECT_EQ(decoded->key, key);
  }
  EXPECT_TRUE(std::is_sorted(encoded.begin(), encoded.end()))
      << "bytewise order must be (target, token, key) order";
}

TEST(KeyCodec, MalformedHintKeysAreCorruption) {
  for (const std::string& bytes : {""s, "n1"s, "\0\0\0\0\0\0\0\0\0"s, "n1\0\x01\x02"s}) {
    auto decoded = decode_hint_key(bytes);
    ASSERT_FALSE(decoded.is_ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  }
}

}  // namespace
}  // namespace qkv::storage
