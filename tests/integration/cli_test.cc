// qkvctl's and qkvd's command-line conventions, by real invocations of the built binaries
// (docs/operations.md): every row of qkvctl's exit-code table (client/cli_conventions.h),
// usage errors as JSON, the "did you mean" suggestion, QKV_CLUSTER, version, the port range,
// `node leave` below N, and `qkvd --check-config`.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>

#include "common/version.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RunResult qkvctl(const std::vector<std::string>& args) {
  return run_program(QKVCTL_PATH, args);
}

// A loopback address nothing listens on: a port bound, then released.
std::string unused_address() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return fmt::format("127.0.0.1:{}", ntohs(addr.sin_port));
}

// The one JSON document of a --json run's output (stdout; nothing else may be printed).
nlohmann::json json_of(const RunResult& r) {
  auto parsed = nlohmann::json::parse(r.output, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(parsed.is_discarded()) << "not one JSON document:\n" << r.output;
  return parsed;
}

// Sets an environment variable for the test's child processes, restored at scope end.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// One node (N=R=W=1), so each row is one real invocation against a real qkvd.
class QkvctlExitCodeTest : public ::testing::Test {
 protected:
  QkvctlExitCodeTest() : cluster_(1, {"--n", "1", "--r", "1", "--w", "1"}) {
    ::unsetenv("QKV_CLUSTER");  // only where a test sets it
    cluster_.start(0);
  }
  std::string node() const { return cluster_.client_address(0); }

  ProcessCluster cluster_;
};

TEST_F(QkvctlExitCodeTest, Row0OkAStatusAgainstARunningNode) {
  RunResult r = qkvctl({"--cluster", node(), "status"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(node() + "  up"));
  RunResult put = qkvctl({"--cluster", node(), "put", "k", "v"});
  EXPECT_EQ(put.exit_code, 0) << put.output;
}

TEST_F(QkvctlExitCodeTest, APutWithATimeToLiveIsReadUntilItExpires) {
  RunResult put = qkvctl({"--cluster", node(), "put", "session", "token", "--ttl", "1"});
  ASSERT_EQ(put.exit_code, 0) << put.output;
  RunResult got = qkvctl({"--cluster", node(), "get", "session"});
  EXPECT_THAT(got.output, HasSubstr("token")) << "read before its time to live ends";
  // Gone from reads once a second has passed on the node's clock: poll with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  RunResult expired;
  do {
    expired = qkvctl({"--cluster", node(), "get", "session"});
  } while (expired.output.find("token") != std::string::npos &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(expired.exit_code, 0) << expired.output;
  EXPECT_THAT(expired.output, HasSubstr("siblings: 0 (not found)")) << expired.output;
  RunResult status = qkvctl({"--cluster", node(), "status"});
  EXPECT_THAT(status.output, HasSubstr("tombstones: ")) << status.output;
}

TEST_F(QkvctlExitCodeTest, Row1FailedANodeDownOrAnErrorAnswer) {
  // status: one node of --cluster is down, another answers.
  RunResult down = qkvctl({"--cluster", node() + "," + unused_address(), "status"});
  EXPECT_EQ(down.exit_code, 1) << down.output;
  EXPECT_THAT(down.output, HasSubstr("down (connect failed"));
  // The node answers with an error (r over n).
  RunResult refused = qkvctl({"--cluster", node(), "get", "k", "--r", "2"});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("r=2 exceeds n=1"));
  RunResult as_json = qkvctl({"--cluster", node(), "--json", "get", "k", "--r", "2"});
  EXPECT_EQ(as_json.exit_code, 1) << as_json.output;
  EXPECT_EQ(json_of(as_json)["error"]["code"], "invalid_argument");
}

TEST_F(QkvctlExitCodeTest, Row2UsageEveryParserPathExitsTwoNeverCli11sCodes) {
  const std::string c = node();
  const std::vector<std::vector<std::string>> usage_errors = {
      {},                                                 // no command (CLI11: RequiredError, 106)
      {"--cluster", c, "stauts"},                         // unknown command
      {"--cluster", c, "get"},                            // missing KEY
      {"--cluster", c, "get", "k", "extra"},              // extra argument (ExtrasError, 109)
      {"--cluster", c, "--nope", "status"},               // unknown option
      {"--cluster", c, "--timeout-ms", "abc", "status"},  // bad value (ValidationError, 105)
      {"--cluster", c, "get", "k", "--r", "300"},         // out of range (104/105)
      {"--cluster", c, "put", "k"},                       // checked after parsing
      {"--cluster", c, "ring", "commit", "--plan-id", "0xzz"},
      {"--cluster", c, "ring", "status", "--timeout-s", "5"},  // needs --wait
      {"status"},                                              // no --cluster, no QKV_CLUSTER
      {"--cluster", "127.0.0.1:99999", "status"},              // port out of range
      {"--cluster", "127.0.0.1", "status"},                    // no port
  };
  for (const auto& args : usage_errors) {
    RunResult r = qkvctl(args);
    EXPECT_EQ(r.exit_code, 2) << fmt::format("qkvctl {}", fmt::join(args, " ")) << ":\n"
                              << r.output;
    EXPECT_THAT(r.output, HasSubstr("error: ")) << r.output;
  }
  RunResult typo = qkvctl({"--cluster", c, "stauts"});
  EXPECT_THAT(typo.output, HasSubstr("unknown command 'stauts'; did you mean 'status'?"));
  RunResult sub_typo = qkvctl({"--cluster", c, "ring", "plna"});
  EXPECT_THAT(sub_typo.output, HasSubstr("unknown ring command 'plna'; did you mean 'plan'?"));
  RunResult port = qkvctl({"--cluster", c + ",127.0.0.1:99999", "status"});
  EXPECT_THAT(port.output, HasSubstr("--cluster entry '127.0.0.1:99999': port 99999 is out of "
                                     "range; ports are 1..65535"));
}

TEST_F(QkvctlExitCodeTest, Row2UsageWithJsonPrintsTheErrorAsJson) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--json", "--cluster", node(), "stauts"},
           {"--cluster", node(), "get", "--json"},
           {"--cluster", node(), "--json", "--timeout-ms", "0", "status"},
           {"--json", "--cluster", "127.0.0.1:65536", "status"},
       }) {
    RunResult r = qkvctl(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    nlohmann::json j = json_of(r);
    EXPECT_EQ(j["error"]["code"], "usage") << r.output;
    EXPECT_TRUE(j["error"]["message"].is_string()) << r.output;
  }
  RunResult typo = qkvctl({"--json", "--cluster", node(), "stauts"});
  EXPECT_EQ(json_of(typo)["error"]["message"], "unknown command 'stauts'; did you mean 'status'?");
}

TEST_F(QkvctlExitCodeTest, Row3UnreachableWhenNoNodeOfTheClusterAnswers) {
  const std::string dead = unused_address();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--cluster", dead, "status"},
           {"--cluster", dead + "," + unused_address(), "get", "k"},
           {"--cluster", dead, "put", "k", "v"},
           {"--cluster", dead, "members"},
           {"--cluster", dead, "ring", "status"},
           {"--cluster", dead, "ring", "plan"},
       }) {
    RunResult r = qkvctl(args);
    EXPECT_EQ(r.exit_code, 3) << fmt::format("qkvctl {}", fmt::join(args, " ")) << ":\n"
                              << r.output;
  }
  RunResult as_json = qkvctl({"--json", "--cluster", dead, "get", "k"});
  EXPECT_EQ(as_json.exit_code, 3);
  EXPECT_EQ(json_of(as_json)["error"]["code"], "unavailable");
}

TEST_F(QkvctlExitCodeTest, TheHelpFooterListsTheTable) {
  RunResult help = qkvctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* row : {"Exit codes:", "0  ok", "1  the operation failed", "2  usage error",
                          "3  cluster unreachable", "4  timed out waiting", "QKV_CLUSTER"}) {
    EXPECT_THAT(help.output, HasSubstr(row));
  }
}

TEST_F(QkvctlExitCodeTest, QkvClusterIsTheDefaultOfCluster) {
  {
    ScopedEnv env("QKV_CLUSTER", node());
    RunResult r = qkvctl({"status"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr(node() + "  up"));
  }
  {
    // --cluster wins over the variable.
    ScopedEnv env("QKV_CLUSTER", unused_address());
    RunResult r = qkvctl({"--cluster", node(), "status"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  {
    ScopedEnv env("QKV_CLUSTER", node() + ",127.0.0.1:0");
    RunResult r = qkvctl({"status"});
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr("QKV_CLUSTER entry '127.0.0.1:0': port 0 is out of range"));
  }
}

TEST(QkvctlVersionTest, VersionNeedsNoCluster) {
  ::unsetenv("QKV_CLUSTER");
  const std::string want = fmt::format("qkvctl {}", kVersion);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--version"}, {"version"}, {"version", "--json"}}) {
    RunResult r = qkvctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, Not(HasSubstr("--cluster")));
  }
  EXPECT_THAT(qkvctl({"--version"}).output, HasSubstr(want));
  EXPECT_EQ(json_of(qkvctl({"--json", "version"}))["version"], std::string(kVersion));
}

// N=3 on three members: a leave would leave two, so keys could not keep three replicas.
TEST(QkvctlNodeLeaveTest, BelowNMembersTheLeaveNeedsForce) {
  ProcessCluster cluster(3);
  cluster.start_all();
  const std::string c = cluster.client_address(0);
  RunResult refused = qkvctl({"--cluster", c, "node", "leave", "n3"});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("n3 leaving leaves 2 ring members, fewer than n=3"));
  EXPECT_THAT(refused.output, HasSubstr("pass --force"));
  RunResult plan = qkvctl({"--cluster", c, "ring", "plan"});
  EXPECT_EQ(plan.exit_code, 1) << "nothing may be staged:\n" << plan.output;

  RunResult forced = qkvctl({"--cluster", c, "node", "leave", "n3", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_THAT(forced.output, HasSubstr("warning: n3 leaving leaves 2 ring members"));
  EXPECT_THAT(forced.output, HasSubstr("staged: leave n3"));
  RunResult cancel = qkvctl({"--cluster", c, "ring", "cancel"});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
}

// qkvd --check-config: the config (file and flags) checked, no storage opened, no port bound.
TEST(QkvdCheckConfigTest, ValidatesWithoutOpeningStorageOrPorts) {
  const std::string data_dir = fmt::format(
      "{}/qkv-check-config-{}", std::filesystem::temp_directory_path().string(), ::getpid());
  // A port another socket holds: a qkvd that bound it would fail.
  int held = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(held, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(held, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(held, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string held_address = fmt::format("127.0.0.1:{}", ntohs(addr.sin_port));
  const std::vector<std::string> base = {"--check-config",
                                         "--node-id",
                                         "n1",
                                         "--data-dir",
                                         data_dir,
                                         "--client-listen",
                                         held_address,
                                         "--peer-listen",
                                         "127.0.0.1:7101",
                                         "--members",
                                         "n1=127.0.0.1:7101,n2=127.0.0.1:7102,n3=127.0.0.1:7103"};
  RunResult ok = run_qkvd(QKVD_PATH, base);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(ok.output, "config ok\n");
  EXPECT_FALSE(std::filesystem::exists(data_dir)) << "--check-config opened the storage";
  ::close(held);

  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_qkvd(QKVD_PATH, args);
  };
  RunResult weak = with({"--r", "1", "--w", "1"});
  EXPECT_EQ(weak.exit_code, 0) << weak.output;
  EXPECT_THAT(weak.output, HasSubstr("warning: r=1 + w=1 <= n=3"));
  EXPECT_THAT(weak.output, HasSubstr("config ok"));
  RunResult few = run_qkvd(QKVD_PATH, {"--check-config", "--node-id", "n1", "--data-dir", data_dir,
                                       "--members", "n1=127.0.0.1:7101"});
  EXPECT_EQ(few.exit_code, 0) << few.output;
  EXPECT_THAT(few.output, HasSubstr("warning: 1 cluster member configured, fewer than n=3"));

  RunResult bad_port = run_qkvd(QKVD_PATH, {"--check-config", "--node-id", "n1", "--data-dir",
                                            data_dir, "--client-listen", "127.0.0.1:99999"});
  EXPECT_EQ(bad_port.exit_code, 2) << bad_port.output;
  EXPECT_THAT(bad_port.output, HasSubstr("port 99999 is out of range; ports are 1..65535"));
  EXPECT_THAT(bad_port.output, Not(HasSubstr("config ok")));
  RunResult bad_quorum = with({"--w", "4"});
  EXPECT_EQ(bad_quorum.exit_code, 2) << bad_quorum.output;
  EXPECT_THAT(bad_quorum.output, HasSubstr("w=4"));
  RunResult bad_flag = with({"--nope"});
  EXPECT_EQ(bad_flag.exit_code, 2) << bad_flag.output;
  RunResult bad_value = with({"--n", "three"});
  EXPECT_EQ(bad_value.exit_code, 2) << bad_value.output;
  const std::string config = write_config("node_id = \"n1\"\nno_such_key = 1\n");
  RunResult bad_file = run_qkvd(QKVD_PATH, {"--check-config", "--config", config});
  std::filesystem::remove(config);
  EXPECT_EQ(bad_file.exit_code, 2) << bad_file.output;
  EXPECT_THAT(bad_file.output, HasSubstr("no_such_key"));
}

// Issue 15: listening on 0.0.0.0 with nothing advertised made every pod gossip 0.0.0.0:7100,
// which to each peer is itself. qkvd refuses to start so (exit 2), --check-config says the
// same, and an advertised address makes it valid.
TEST(QkvdCheckConfigTest, ListeningOnEveryInterfaceWithoutAnAdvertisedAddressIsRefused) {
  const std::string data_dir = fmt::format(
      "{}/qkv-advertise-{}", std::filesystem::temp_directory_path().string(), ::getpid());
  const std::vector<std::string> base = {"--node-id",     "n1",
                                         "--data-dir",    data_dir,
                                         "--peer-listen", "0.0.0.0:7101",
                                         "--members",     "n1=127.0.0.1:7101",
                                         "--insecure"};  // beyond loopback without TLS: accepted,
                                                         // with a warning
  auto with = [&](std::vector<std::string> front, std::vector<std::string> back) {
    front.insert(front.end(), base.begin(), base.end());
    front.insert(front.end(), back.begin(), back.end());
    return run_qkvd(QKVD_PATH, front);
  };
  for (const std::vector<std::string>& front :
       {std::vector<std::string>{"--check-config"}, std::vector<std::string>{}}) {
    RunResult peer = with(front, {});
    EXPECT_EQ(peer.exit_code, 2) << peer.output;
    EXPECT_THAT(peer.output, HasSubstr("peer_listen 0.0.0.0:7101 listens on every interface but "
                                       "peer_advertise is not set"));
    EXPECT_THAT(peer.output, HasSubstr("--peer-advertise"));
    RunResult client = with(front, {"--peer-advertise", "127.0.0.1:7101", "--client-listen",
                                    "0.0.0.0:7001", "--client-advertise", "[::]:7001"});
    EXPECT_EQ(client.exit_code, 2) << client.output;
    EXPECT_THAT(client.output, HasSubstr("client_advertise [::]:7001 is not an address others "
                                         "can dial"));
  }
  EXPECT_FALSE(std::filesystem::exists(data_dir)) << "a refused start opened the storage";
  RunResult ok = with({"--check-config"}, {"--peer-advertise", "127.0.0.1:7101"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("config ok"));
  EXPECT_THAT(ok.output, HasSubstr("tls.insecure: peer_listen reachable beyond this machine"));
  // Issue 16: without --insecure, a port beyond loopback needs TLS.
  RunResult open = run_qkvd(QKVD_PATH, {"--check-config", "--node-id", "n1", "--data-dir", data_dir,
                                        "--peer-listen", "0.0.0.0:7101", "--members",
                                        "n1=127.0.0.1:7101", "--peer-advertise", "127.0.0.1:7101"});
  EXPECT_EQ(open.exit_code, 2) << open.output;
  EXPECT_THAT(open.output,
              HasSubstr("peer_listen 0.0.0.0:7101 is reachable beyond this machine without TLS"));
}

}  // namespace
}  // namespace qkv::testing
