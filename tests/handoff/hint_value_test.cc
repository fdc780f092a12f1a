#include "node/handoff/hint_value.h"

#include <gtest/gtest.h>

#include <string>

#include "node/wire/replica_codec.h"
#include "tests/fuzz/regression_input.h"

namespace qkv::handoff {
namespace {

using namespace std::string_literals;

causal::SiblingSet one_write(const std::string& value) {
  return causal::SiblingSet{}.update({}, causal::Actor{"n1", 3}, value);
}

TEST(HintValue, LayoutIsBigEndianCreationTimeThenEncodedState) {
  const causal::SiblingSet state = one_write("v");
  const std::string value = encode_hint_value(0x0102030405060708, state);
  EXPECT_EQ(value.substr(0, kHintHeaderBytes), "\x01\x02\x03\x04\x05\x06\x07\x08"s);
  EXPECT_EQ(value.substr(kHintHeaderBytes), node::encode_sibling_set(state));
}

TEST(HintValue, RoundTripsIncludingNegativeTimes) {
  for (int64_t created : {int64_t{0}, int64_t{1'700'000'000'000}, int64_t{-5}, INT64_MIN}) {
    const std::string value = encode_hint_value(created, one_write("x"));
    auto decoded = decode_hint_value(value);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->created_unix_ms, created);
    EXPECT_EQ(decoded->state, one_write("x"));
    EXPECT_EQ(*decode_hint_created(value), created);
  }
}

TEST(HintValue, ShortOrUndecodableValuesAreCorruption) {
  EXPECT_EQ(decode_hint_created("1234567").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(decode_hint_value("").status().code(), StatusCode::kCorruption);
  const std::string garbage = std::string(8, '\0') + "not a sibling set";
  EXPECT_TRUE(decode_hint_created(garbage).is_ok());
  EXPECT_EQ(decode_hint_value(garbage).status().code(), StatusCode::kCorruption);
}

// Found by tests/fuzz (hint_value): an actor's Text held a NUL byte; it decoded, and
// re-encoded only up to the NUL. A typed error now.
TEST(HintValue, FuzzRegressionNulInAnActorIsCorruption) {
  auto decoded = decode_hint_value(fuzz::regression_input("hint_value", "nul_in_actor"));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  EXPECT_NE(decoded.status().message().find("NUL"), std::string::npos);
}

}  // namespace
}  // namespace qkv::handoff
