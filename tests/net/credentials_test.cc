// Issue 16: users' secrets are kept only as salted scrypt hashes.
#include "net/credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::net {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The cheapest cost keeps the tests fast; the form and the checks are the same.
constexpr ScryptCost kCheap{10, 8, 1};

TEST(CredentialsTest, AHashVerifiesItsSecretAndNoOther) {
  auto hash = hash_secret("correct horse", kCheap);
  ASSERT_TRUE(hash.is_ok()) << hash.status().to_string();
  EXPECT_THAT(*hash, StartsWith("scrypt:10:8:1:"));
  EXPECT_TRUE(check_secret_hash(*hash).is_ok());
  EXPECT_TRUE(verify_secret("correct horse", *hash).is_ok());
  Status wrong = verify_secret("correct horsE", *hash);
  EXPECT_EQ(wrong.code(), StatusCode::kUnauthenticated) << wrong.to_string();
  EXPECT_EQ(verify_secret("", *hash).code(), StatusCode::kUnauthenticated);
}

TEST(CredentialsTest, EveryHashHasItsOwnSaltSoEqualSecretsDoNotShowAsEqual) {
  auto a = hash_secret("same", kCheap);
  auto b = hash_secret("same", kCheap);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verify_secret("same", *b).is_ok());
}

TEST(CredentialsTest, MalformedHashesAndBadCostsAreNamed) {
  EXPECT_THAT(check_secret_hash("plaintext").message(), HasSubstr("not an scrypt hash"));
  EXPECT_THAT(check_secret_hash("scrypt:x:8:1:AAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAA==").message(),
              HasSubstr("the cost is not three numbers"));
  EXPECT_THAT(check_secret_hash("scrypt:30:8:1:AAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAA==").message(),
              HasSubstr("log2 N 10..20"));
  EXPECT_THAT(check_secret_hash("scrypt:14:8:1:!!!!:AAAAAAAAAAAAAAAAAAAAAA==").message(),
              HasSubstr("the salt is not base64"));
  EXPECT_THAT(check_secret_hash("scrypt:14:8:1:AAAAAAAAAAA=:AAAA").message(),
              HasSubstr("derived key is not base64 of at least 16 bytes"));
  EXPECT_EQ(verify_secret("x", "scrypt:14").code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(hash_secret("", kCheap).status().message(), HasSubstr("empty"));
  EXPECT_THAT(hash_secret("x", ScryptCost{9, 8, 1}).status().message(), HasSubstr("out of range"));
}

TEST(CredentialsTest, BasicAuthorizationHeadersGiveUserAndSecret) {
  // RFC 7617's example: "Aladdin:open sesame".
  auto ok = parse_basic_authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->first, "Aladdin");
  EXPECT_EQ(ok->second, "open sesame");
  EXPECT_TRUE(parse_basic_authorization("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").is_ok());
  EXPECT_THAT(parse_basic_authorization("Bearer abc").status().message(),
              HasSubstr("not HTTP Basic"));
  EXPECT_THAT(parse_basic_authorization("Basic ***").status().message(), HasSubstr("not base64"));
  EXPECT_THAT(parse_basic_authorization("Basic QWxhZGRpbg==").status().message(),
              HasSubstr("not user:secret"));
}

TEST(CredentialsTest, TheDigestOfASecretDependsOnTheSecretAndTheHash) {
  EXPECT_EQ(secret_digest("s", "h1"), secret_digest("s", "h1"));
  EXPECT_NE(secret_digest("s", "h1"), secret_digest("t", "h1"));
  EXPECT_NE(secret_digest("s", "h1"), secret_digest("s", "h2"));
  EXPECT_EQ(secret_digest("s", "h1").size(), 32u);
}

}  // namespace
}  // namespace qkv::net
