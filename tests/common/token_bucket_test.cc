#include "common/token_bucket.h"

#include <gtest/gtest.h>

namespace qkv {
namespace {

TEST(TokenBucketTest, AdmitsABurstThenTheRate) {
  TokenBucket bucket(/*rate_per_second=*/100, /*burst=*/10);
  TimePoint t{Duration(5000)};
  bucket.refill(t);
  int admitted = 0;
  for (int i = 0; i < 50; ++i) admitted += bucket.try_take() ? 1 : 0;
  EXPECT_EQ(admitted, 10) << "starts full: one burst";
  bucket.refill(t + Duration(50));  // 50 ms at 100/s: 5 more
  admitted = 0;
  for (int i = 0; i < 50; ++i) admitted += bucket.try_take() ? 1 : 0;
  EXPECT_EQ(admitted, 5);
  bucket.refill(t + Duration(10'050));  // a long pause refills only up to the burst
  EXPECT_DOUBLE_EQ(bucket.tokens(), 10);
}

TEST(TokenBucketTest, SpendingMayGoIntoDebtThatRefillsRepay) {
  TokenBucket bucket(/*rate_per_second=*/1000, /*burst=*/1000);
  TimePoint t{Duration(5000)};
  bucket.refill(t);
  bucket.spend(3000);
  EXPECT_FALSE(bucket.has_tokens());
  bucket.refill(t + Duration(1500));
  EXPECT_FALSE(bucket.has_tokens()) << "-2000 + 1500";
  bucket.refill(t + Duration(2001));
  EXPECT_TRUE(bucket.has_tokens());
  bucket.refill(t + Duration(1000));  // the clock went back: nothing added, nothing lost
  EXPECT_NEAR(bucket.tokens(), 1, 1e-9);
}

}  // namespace
}  // namespace qkv
