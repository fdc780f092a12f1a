// Issue 16: users, grants and what each request needs (node/access_control.h).
#include "node/access_control.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "net/credentials.h"

namespace qkv::node {
namespace {

using ::testing::HasSubstr;

std::string cheap_hash(const std::string& secret) {
  return net::hash_secret(secret, net::ScryptCost{10, 8, 1}).value();
}

Users users_of(const std::string& text) {
  auto users = Users::parse(text, "users.toml");
  EXPECT_TRUE(users.is_ok()) << users.status().to_string();
  return users.is_ok() ? std::move(users).value() : Users{};
}

proto::ClientRequest request(proto::ClientOp op) {
  return proto::ClientRequest{1, 0, std::move(op)};
}

TEST(AccessControlTest, AUsersFileGivesEachUserItsSecretAndGrants) {
  const std::string hash = cheap_hash("s3cret");
  Users users = users_of(fmt::format(R"(
[users.alice]
secret = "{}"
grants = ["read", "write:orders/", "admin"]

[users.reporting]
grants = ["read:orders/"]
requests_per_second_max = 200
)",
                                     hash));
  ASSERT_EQ(users.size(), 2u);
  const User* alice = users.find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->secret_hash, hash);
  ASSERT_EQ(alice->grants.size(), 3u);
  EXPECT_EQ(alice->grants[1], (Grant{Role::kWrite, "orders/"}));
  EXPECT_EQ(grant_name(alice->grants[1]), "write:orders/");
  EXPECT_TRUE(users.find("reporting")->secret_hash.empty());
  EXPECT_EQ(alice->requests_per_second_max, 0u) << "no rate limit unless one is given";
  EXPECT_EQ(users.find("reporting")->requests_per_second_max, 200u);
  EXPECT_EQ(users.find("mallory"), nullptr);
}

TEST(AccessControlTest, BadUsersFilesAreRefusedNamingTheEntry) {
  auto parse = [](const std::string& text) { return Users::parse(text, "u.toml").status(); };
  EXPECT_THAT(parse("[users.a]\ngrants = [\"reed\"]\n").message(),
              HasSubstr("users.a.grants: unknown grant 'reed'"));
  EXPECT_THAT(parse("[users.a]\ngrants = [\"admin:x/\"]\n").message(),
              HasSubstr("admin takes no key prefix"));
  EXPECT_THAT(parse("[users.a]\ngrants = [\"read:\"]\n").message(),
              HasSubstr("the key prefix is empty"));
  EXPECT_THAT(parse("[users.a]\nsecret = \"hunter2\"\n").message(),
              HasSubstr("users.a.secret: secret hash: not an scrypt hash"));
  EXPECT_THAT(parse("[users.a]\ngrant = [\"read\"]\n").message(),
              HasSubstr("users.a.grant: unknown key"));
  for (const char* rate : {"-1", "\"fast\"", "1.5", "100000001"}) {
    EXPECT_THAT(parse(fmt::format("[users.a]\nrequests_per_second_max = {}\n", rate)).message(),
                HasSubstr("users.a.requests_per_second_max must be an integer from 0 (no "
                          "limit) to 100000000"))
        << rate;
  }
  EXPECT_THAT(parse("[user.a]\n").message(), HasSubstr("unknown key 'user'"));
  EXPECT_THAT(parse("[users.a\n").message(), HasSubstr("users file u.toml"));
  EXPECT_THAT(Users::load("/nonexistent/users.toml").status().message(),
              HasSubstr("cannot read users file /nonexistent/users.toml"));
}

TEST(AccessControlTest, EachRequestNeedsItsGrantScopedByKeyPrefix) {
  Users users = users_of(R"(
[users.bob]
grants = ["read", "write:orders/"]
)");
  const User& bob = *users.find("bob");
  EXPECT_TRUE(authorize(bob, need_of(request(proto::GetRequest{"users/1"}))).is_ok());
  EXPECT_TRUE(authorize(bob, need_of(request(proto::PutRequest{"orders/7", "v", ""}))).is_ok());
  EXPECT_TRUE(authorize(bob, need_of(request(proto::DeleteRequest{"orders/7", ""}))).is_ok());
  Status put = authorize(bob, need_of(request(proto::PutRequest{"users/1", "v", ""})));
  EXPECT_EQ(put.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(put.message(), HasSubstr("user bob lacks the grant write needed for put of this "
                                       "key; bob holds read, write:orders/"));
  // Status, members and the ring need only a user.
  EXPECT_TRUE(authorize(bob, need_of(request(proto::StatusRequest{}))).is_ok());
  EXPECT_TRUE(authorize(bob, need_of(request(proto::MembersRequest{}))).is_ok());
  EXPECT_TRUE(authorize(bob, need_of(request(proto::RingRequest{}))).is_ok());
}

TEST(AccessControlTest, RingChangesAndRepairNeedAdminAndTheRefusalNamesTheAction) {
  Users users = users_of(
      "[users.bob]\ngrants = [\"read\", \"write\"]\n"
      "[users.root]\ngrants = [\"admin\"]\n");
  proto::RingAdminRequest commit;
  commit.action = proto::RingAction::kCommit;
  commit.plan_id = 42;
  Status denied = authorize(*users.find("bob"), need_of(request(commit)));
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(),
              HasSubstr("user bob lacks the grant admin needed for ring commit 42"));
  proto::RingAdminRequest leave;
  leave.action = proto::RingAction::kStage;
  leave.kind = proto::RingChangeKind::kLeave;
  leave.node = "n2";
  EXPECT_EQ(need_of(request(leave)).action, "ring stage leave n2");
  EXPECT_THAT(authorize(*users.find("bob"), need_of(request(proto::RepairRequest{3}))).message(),
              HasSubstr("needed for repair 3"));
  EXPECT_THAT(
      authorize(*users.find("bob"), need_of(request(proto::SnapshotRequest{"/s/a"}))).message(),
      HasSubstr("lacks the grant admin needed for snapshot /s/a"));
  const User& root = *users.find("root");
  EXPECT_TRUE(authorize(root, need_of(request(commit))).is_ok());
  // Admin is not data access: an operator who reads holds read too.
  EXPECT_EQ(authorize(root, need_of(request(proto::GetRequest{"k"}))).code(),
            StatusCode::kPermissionDenied);
}

TEST(AccessControlTest, LoginsCheckTheSecretOnceAndCertificatesNameUsers) {
  Authenticator auth(users_of(fmt::format("[users.alice]\nsecret = \"{}\"\ngrants = [\"read\"]\n"
                                          "[users.svc]\ngrants = [\"write\"]\n",
                                          cheap_hash("pw"))),
                     /*checks_per_second=*/2);
  const TimePoint t0 = TimePoint{} + std::chrono::hours(1);
  auto ok = auth.login("alice", "pw", t0);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ((*ok)->name, "alice");
  // Wrong secrets, unknown users and certificate-only users all get the same refusal.
  for (auto [user, secret] : {std::pair{"alice", "PW"}, {"nobody", "pw"}, {"svc", ""}}) {
    Status refused = auth.login(user, secret, t0).status();
    EXPECT_EQ(refused.code(), StatusCode::kUnauthenticated) << user;
    EXPECT_THAT(refused.message(), HasSubstr("wrong user or secret"));
  }
  // The budget (2 checks a second) is spent by the two checks of alice's secrets above (an
  // unknown user costs none); a secret that passed before still logs in, from the cache.
  EXPECT_EQ(auth.login("alice", "wrong", t0).status().code(), StatusCode::kOverloaded);
  EXPECT_TRUE(auth.login("alice", "pw", t0).is_ok());
  EXPECT_EQ(auth.login("alice", "wrong", t0 + std::chrono::seconds(1)).status().code(),
            StatusCode::kUnauthenticated);

  EXPECT_EQ(auth.user_of_certificate({"qkv-client", "svc"})->name, "svc");
  EXPECT_EQ(auth.user_of_certificate({"stranger"}), nullptr);

  // A reloaded file applies at once: alice is gone.
  auth.replace(users_of("[users.carol]\ngrants = []\n"));
  EXPECT_EQ(auth.find("alice"), nullptr);
  EXPECT_EQ(auth.login("alice", "pw", t0).status().code(), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace qkv::node
