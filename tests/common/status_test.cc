#include "common/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/limits.h"
#include "common/node_id.h"

namespace qkv {
namespace {

using ::testing::HasSubstr;

TEST(StatusTest, NamedFactoriesCarryCodeAndMessage) {
  EXPECT_TRUE(Status::ok().is_ok());
  Status s = Status::unavailable("2 of 3");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.to_string(), "unavailable: 2 of 3");
}

TEST(StatusTest, ResultHoldsAValueOrAnError) {
  Result<int> good = 5;
  EXPECT_EQ(*good, 5);
  Result<int> bad = Status::not_found("x");
  EXPECT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
}

TEST(LimitsTest, ErrorsNameTheLimit) {
  Limits limits;
  EXPECT_TRUE(limits.check_key(65536).is_ok());
  EXPECT_THAT(limits.check_key(65537).message(), HasSubstr("key_bytes_max is 65536"));
  EXPECT_THAT(limits.check_key(0).message(), HasSubstr("empty"));
  EXPECT_THAT(limits.check_value(16777217).message(), HasSubstr("value_bytes_max is 16777216"));
  EXPECT_TRUE(limits.validate().is_ok());
  limits.frame_bytes_max = 1000;
  EXPECT_THAT(limits.validate().message(), HasSubstr("frame_bytes_max"));
}

TEST(NodeIdTest, Rules) {
  EXPECT_TRUE(validate_node_id("qkv-0.a_b").is_ok());
  EXPECT_FALSE(validate_node_id("").is_ok());
  EXPECT_THAT(validate_node_id("a b").message(), HasSubstr("' '"));
  EXPECT_FALSE(validate_node_id(std::string(65, 'a')).is_ok());
}

}  // namespace
}  // namespace qkv
