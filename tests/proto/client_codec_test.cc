// Inputs the fuzz harnesses found (tests/fuzz/regressions): each must be a typed error, and
// what decodes must encode to what decodes the same again.
#include "proto/client_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/fuzz/regression_input.h"

namespace qkv::proto {
namespace {

using ::testing::HasSubstr;

// A Text with a NUL byte decoded, then re-encoded only up to the NUL (a std::string becomes
// Text through c_str()): the round trip changed the request (tests/fuzz, client_request).
TEST(ClientCodecTest, FuzzRegressionNulInRequestTextIsCorruption) {
  auto decoded = decode_client_request(fuzz::regression_frame("client_request", "nul_in_text"));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(decoded.status().message(), HasSubstr("NUL"));
}

TEST(ClientCodecTest, FuzzRegressionNulInResponseTextIsCorruption) {
  auto decoded = decode_client_response(fuzz::regression_frame("client_response", "nul_in_text"));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(decoded.status().message(), HasSubstr("NUL"));
}

TEST(ClientCodecTest, ATextWithANulByteIsCorruptionWhereverItIs) {
  capnp::MallocMessageBuilder builder;
  auto admin = builder.initRoot<wire::ClientRequest>().initRingAdmin();
  admin.setAction(wire::RingAction::STAGE);
  admin.setKind(wire::RingChangeKind::JOIN);
  admin.setNode(capnp::Text::Reader("n4\0x", 4));
  auto decoded = decode_client_request(capnp::messageToFlatArray(builder));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);

  admin.setNode("n4");
  EXPECT_TRUE(decode_client_request(capnp::messageToFlatArray(builder)).is_ok());
}

}  // namespace
}  // namespace qkv::proto
