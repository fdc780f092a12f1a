// Issue 16: three real qkvd with [auth]: every request needs a user and the grant for it,
// on the client port and the HTTP port; refusals are typed and name what is missing,
// change nothing, and the cluster keeps serving. The users file is re-read when it changes.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "client/async_client.h"
#include "client/client.h"
#include "net/credentials.h"
#include "tests/common/http_get.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// The cheapest scrypt cost: the checks are the same, the test is faster.
std::string hash(const std::string& secret) {
  return net::hash_secret(secret, net::ScryptCost{10, 8, 1}).value();
}

class AuthClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<ProcessCluster>(3);
    users_file_ = cluster_->dir() + "/users.toml";
    write_users("");
    const std::string config = cluster_->dir() + "/auth.toml";
    std::ofstream(config) << fmt::format("[auth]\nusers_file = \"{}\"\nreload_interval_ms = 200\n",
                                         users_file_);
    for (int i = 0; i < 3; ++i) cluster_->set_node_flags(i, {"--config", config});
    cluster_->set_client_credentials({"root", "root-secret"});
    cluster_->start_all();
  }

  // The users: root (admin, and data), app (read, and write under orders/), reader (read);
  // `extra` is appended.
  void write_users(const std::string& extra) {
    const std::string path = users_file_ + ".new";
    std::ofstream(path) << fmt::format(
        "[users.root]\nsecret = \"{}\"\ngrants = [\"read\", \"write\", \"admin\"]\n"
        "[users.app]\nsecret = \"{}\"\ngrants = [\"read\", \"write:orders/\"]\n"
        "[users.reader]\nsecret = \"{}\"\ngrants = [\"read\"]\n{}",
        hash("root-secret"), hash("app-secret"), hash("reader-secret"), extra);
    std::rename(path.c_str(), users_file_.c_str());  // as a Secret update: atomically
  }

  client::Client as(std::optional<client::Credentials> credentials, int node = 0) {
    client::Options options;
    options.nodes = {cluster_->client_address(node)};
    options.timeout_ms = 3000;
    options.credentials = std::move(credentials);
    return client::Client(options);
  }

  RunResult qkvctl_as(const std::string& user, const std::string& secret,
                      std::vector<std::string> args) {
    const std::string secret_file = cluster_->dir() + "/secret-" + user;
    std::ofstream(secret_file) << secret << "\n";
    std::vector<std::string> all = {
        "--cluster", cluster_->client_address(0), "--user", user, "--secret-file", secret_file};
    all.insert(all.end(), args.begin(), args.end());
    return run_program(QKVCTL_PATH, all);
  }

  std::unique_ptr<ProcessCluster> cluster_;
  std::string users_file_;
};

TEST_F(AuthClusterTest, EveryRequestNeedsAUserAndTheGrantForIt) {
  Status anonymous = as(std::nullopt).put("orders/1", "v").status();
  EXPECT_EQ(anonymous.code(), StatusCode::kUnauthenticated) << anonymous.to_string();
  EXPECT_THAT(anonymous.message(), HasSubstr("authenticate first"));
  Status wrong = as(client::Credentials{"app", "guess"}).put("orders/1", "v").status();
  EXPECT_EQ(wrong.code(), StatusCode::kUnauthenticated) << wrong.to_string();
  EXPECT_THAT(wrong.message(), HasSubstr("wrong user or secret"));

  auto app = as(client::Credentials{"app", "app-secret"});
  ASSERT_TRUE(app.put("orders/1", "v").is_ok());
  Status outside = app.put("users/1", "v").status();
  EXPECT_EQ(outside.code(), StatusCode::kPermissionDenied) << outside.to_string();
  EXPECT_THAT(outside.message(), HasSubstr("user app lacks the grant write needed for put"));
  auto reader = as(client::Credentials{"reader", "reader-secret"}, 1);
  auto got = reader.get("orders/1", {3, 0});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_THAT(got->values, UnorderedElementsAre("v"));
  EXPECT_EQ(reader.del("orders/1", got->context).status().code(), StatusCode::kPermissionDenied);

  // Nothing refused was applied.
  auto users1 = cluster_->client_of(2).get("users/1", {3, 0});
  ASSERT_TRUE(users1.is_ok());
  EXPECT_TRUE(users1->values.empty());
  EXPECT_GE(node_counter(*cluster_, 0, "unauthenticated_refusals"), 1u);
  EXPECT_GE(node_counter(*cluster_, 0, "permission_denials"), 1u);
  EXPECT_GE(node_counter(*cluster_, 0, "auth_failures"), 1u);
  EXPECT_THAT(cluster_->log_of(0), HasSubstr("event=permission_denied"));
}

TEST_F(AuthClusterTest, AUserWithoutAdminCannotCommitARingChangeAndNothingChanges) {
  auto root = cluster_->client_of(0);
  const uint64_t version_before = root.node_status(0)->ring_version;
  RunResult staged = qkvctl_as("root", "root-secret", {"ring", "rebalance"});
  ASSERT_EQ(staged.exit_code, 0) << staged.output;

  RunResult commit = qkvctl_as("app", "app-secret", {"ring", "commit"});
  EXPECT_EQ(commit.exit_code, 1) << commit.output;
  EXPECT_THAT(commit.output, HasSubstr("permission_denied"));
  EXPECT_THAT(commit.output, HasSubstr("user app lacks the grant admin needed for ring plan"));
  RunResult stage = qkvctl_as("app", "app-secret", {"ring", "cancel"});
  EXPECT_EQ(stage.exit_code, 1) << stage.output;

  // The staged rebalance is still staged, the ring unchanged; the audit log has both sides.
  auto plan = qkvctl_as("root", "root-secret", {"--json", "ring", "plan"});
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_THAT(plan.output, HasSubstr("\"rebalance\""));
  EXPECT_EQ(root.node_status(0)->ring_version, version_before);
  const std::string log = cluster_->log_of(0);
  EXPECT_THAT(log, HasSubstr("event=admin_request user=app action=\"ring plan\""));
  EXPECT_THAT(log, HasSubstr("allowed=false"));
  EXPECT_THAT(log, HasSubstr("event=admin_request user=root action=\"ring stage rebalance\""));
  EXPECT_TRUE(as(client::Credentials{"app", "app-secret"}, 2).put("orders/2", "v").is_ok())
      << "the cluster keeps serving";
}

TEST_F(AuthClusterTest, TheHttpPortAsksForCredentialsExceptFromProbes) {
  const std::string http = cluster_->http_address(0);
  auto anonymous = http_request(http, "/metrics");
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_EQ(anonymous->status, 401u);
  EXPECT_THAT(anonymous->www_authenticate, HasSubstr("Basic realm=\"qkv\""));
  HttpCall call;
  call.headers["Authorization"] =
      "Basic " + std::string("cmVhZGVyOnJlYWRlci1zZWNyZXQ=");  // reader:reader-secret
  auto metrics = http_call(http, "/metrics", call);
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->status, 200u);
  EXPECT_THAT(metrics->body, HasSubstr("qkv_"));
  call.headers["Authorization"] = "Basic cmVhZGVyOndyb25n";  // reader:wrong
  EXPECT_EQ(http_call(http, "/api/v1/status", call)->status, 401u);
  auto live = http_request(http, "/health/live");
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->status, 200u);
  EXPECT_EQ(http_request(http, "/health/ready")->status, 200u);
}

TEST_F(AuthClusterTest, AChangedUsersFileAppliesToOpenConnectionsWithoutARestart) {
  auto reader = as(client::Credentials{"reader", "reader-secret"});
  ASSERT_EQ(reader.put("notes/1", "v").status().code(), StatusCode::kPermissionDenied);
  auto app = as(client::Credentials{"app", "app-secret"});
  ASSERT_TRUE(app.put("orders/3", "v").is_ok());
  // reader gains write; app is removed.
  const std::string path = users_file_ + ".new";
  std::ofstream(path) << fmt::format(
      "[users.root]\nsecret = \"{}\"\ngrants = [\"read\", \"write\", \"admin\"]\n"
      "[users.reader]\nsecret = \"{}\"\ngrants = [\"read\", \"write\"]\n",
      hash("root-secret"), hash("reader-secret"));
  std::rename(path.c_str(), users_file_.c_str());
  ASSERT_TRUE(
      wait_for([&] { return reader.put("notes/1", "v").is_ok(); }, std::chrono::seconds(10)))
      << "the reader's open connection gains write";
  Status gone = app.put("orders/4", "v").status();
  EXPECT_EQ(gone.code(), StatusCode::kUnauthenticated) << gone.to_string();
  EXPECT_THAT(gone.message(), HasSubstr("user app no longer exists"));
  EXPECT_GE(node_counter(*cluster_, 0, "users_reloads"), 1u);

  // A broken file keeps the users in force.
  std::ofstream(path) << "[users.reader\n";
  std::rename(path.c_str(), users_file_.c_str());
  ASSERT_TRUE(wait_for(
      [&] { return cluster_->log_of(0).find("event=users_reload_failed") != std::string::npos; },
      std::chrono::seconds(10)));
  EXPECT_TRUE(reader.put("notes/2", "v").is_ok());
}

TEST_F(AuthClusterTest, AUserOverItsRateLimitGetsOverloadedNamingItOnEveryConnection) {
  // The users file gives metered requests_per_second_max = 10 (per node, over all of its
  // connections): a burst of 30 pipelined gets finds 10 tokens and the rest are refused at
  // once, naming the user and the limit; another connection of the same user shares the
  // empty bucket, another user has none, and the bucket refills.
  write_users(fmt::format(
      "[users.metered]\nsecret = \"{}\"\ngrants = [\"read\"]\nrequests_per_second_max = 10\n",
      hash("metered-secret")));
  ASSERT_TRUE(wait_for(
      [&] {
        return as(client::Credentials{"metered", "metered-secret"}).get("x").is_ok();
      },
      std::chrono::seconds(10)))
      << "the reloaded users file has metered";

  boost::asio::io_context io;
  client::AsyncOptions options;
  options.node = cluster_->client_address(0);
  options.credentials = client::Credentials{"metered", "metered-secret"};
  options.retry_overloaded = false;  // report refusals instead of sending them again
  int answered = 0, ok = 0, overloaded = 0;
  std::string refusal;
  auto count = [&](const Result<client::GetResult>& r) {
    ++answered;
    if (r.is_ok()) ++ok;
    if (!r.is_ok() && r.status().code() == StatusCode::kOverloaded) {
      ++overloaded;
      refusal = r.status().message();
    }
  };
  auto run_until = [&](int answers) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (answered < answers && std::chrono::steady_clock::now() < until) {
      io.run_for(std::chrono::milliseconds(20));
    }
  };
  client::AsyncClient first(io, options);
  // The gets that waited for the reload took a token or two; 30 at once empty the bucket.
  for (int i = 0; i < 30; ++i) first.get(fmt::format("k{}", i), {}, count);
  run_until(30);
  ASSERT_EQ(answered, 30);
  EXPECT_GE(ok, 5) << "a burst of one second's worth is admitted";
  EXPECT_LE(ok, 15) << "and little more: the rest came within the same second";
  EXPECT_EQ(ok + overloaded, 30);
  EXPECT_THAT(refusal, HasSubstr("user metered sends more than its requests_per_second_max 10"));

  // The same user on a new connection: the bucket is the user's, so it is still empty.
  const int refused_before = overloaded;
  client::AsyncClient second(io, options);
  for (int i = 0; i < 5; ++i) second.get(fmt::format("s{}", i), {}, count);
  run_until(35);
  ASSERT_EQ(answered, 35);
  EXPECT_GE(overloaded - refused_before, 4)
      << "the second connection is refused too (a token may have refilled meanwhile)";
  // Another user is not limited by it.
  EXPECT_TRUE(as(client::Credentials{"reader", "reader-secret"}).get("k1").is_ok());
  EXPECT_GE(node_counter(*cluster_, 0, "overloaded_user"), 1u);
  EXPECT_EQ(node_counter(*cluster_, 0, "overloaded_connection"), 0u);

  // The bucket refills at 10 a second: after a pause the user is served again.
  ASSERT_TRUE(wait_for(
      [&] {
        const int before = ok;
        first.get("later", {}, count);
        run_until(answered + 1);
        return ok > before;
      },
      std::chrono::seconds(10)));

  // A reloaded users file with a higher limit applies at the user's next request, on the
  // connections already open: a burst of 30 now fits.
  write_users(fmt::format(
      "[users.metered]\nsecret = \"{}\"\ngrants = [\"read\"]\nrequests_per_second_max = 1000\n",
      hash("metered-secret")));
  ASSERT_TRUE(wait_for([&] { return node_counter(*cluster_, 0, "users_reloads") >= 2; },
                       std::chrono::seconds(10)));
  const int ok_before = ok, answered_before = answered;
  for (int i = 0; i < 30; ++i) first.get(fmt::format("r{}", i), {}, count);
  run_until(answered_before + 30);
  ASSERT_EQ(answered, answered_before + 30);
  EXPECT_EQ(ok - ok_before, 30) << "the limit of 1000 a second admits the whole burst";
}

}  // namespace
}  // namespace qkv::testing
