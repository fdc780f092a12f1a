// The HTTP key-value API (docs/http-api.md) against real qkvd processes, as curl or any
// language's HTTP client uses it: put/get/delete with the causal context in a header,
// siblings as 300 with their metadata, limits and typed errors, conditional writes, and
// [auth]'s users and grants as on the native port.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/asio.h"
#include "common/base64.h"
#include "net/credentials.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

struct Answer {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // as sent ("X-Qkv-Context")
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  std::string error_code() const { return nlohmann::json::parse(body).value("code", ""); }
  std::string error_message() const { return nlohmann::json::parse(body).value("message", ""); }
};

// One keep-alive HTTP/1.1 connection to a node's HTTP port; every exchange bounded by 10 s.
class HttpConnection {
 public:
  explicit HttpConnection(const std::string& address) : stream_(io_) {
    const auto colon = address.rfind(':');
    boost::asio::ip::tcp::resolver resolver(io_);
    stream_.expires_after(std::chrono::seconds(10));
    stream_.connect(resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
  }

  Answer call(const std::string& method, const std::string& target,
              std::map<std::string, std::string> headers = {}, std::string body = "") {
    namespace http = boost::beast::http;
    http::request<http::string_body> request(http::string_to_verb(method), target, 11);
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = std::move(body);
    if (method == "PUT" || method == "POST" || !request.body().empty()) request.prepare_payload();
    stream_.expires_after(std::chrono::seconds(10));
    http::write(stream_, request);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(method == "HEAD");
    http::read(stream_, buffer_, parser);
    Answer answer;
    answer.status = parser.get().result_int();
    for (const auto& field : parser.get()) {
      answer.headers[std::string(field.name_string())] = std::string(field.value());
    }
    answer.body = parser.get().body();
    return answer;
  }

 private:
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

// The cluster's nodes with `config` (TOML) as their --config.
std::unique_ptr<ProcessCluster> cluster_with(const std::string& toml) {
  auto cluster = std::make_unique<ProcessCluster>(3);
  if (!toml.empty()) {
    const std::string config = cluster->dir() + "/http-kv.toml";
    std::ofstream(config) << toml;
    for (int i = 0; i < 3; ++i) cluster->set_node_flags(i, {"--config", config});
  }
  return cluster;
}

TEST(HttpKvProcessTest, PutGetDeleteRoundTripWithTheContext) {
  auto cluster = cluster_with("");
  cluster->start_all();
  HttpConnection http(cluster->http_address(0));
  const std::string key = "/v1/kv/users%2F%00%ff+1";  // the key "users/\0\xff+1"
  Answer put = http.call("PUT", key + "?w=2", {}, std::string("v1\0", 3));
  ASSERT_EQ(put.status, 204u) << put.body;
  EXPECT_FALSE(put.header("X-Qkv-Context").empty());

  Answer got = http.call("GET", key + "?r=2&timeout_ms=2000");
  ASSERT_EQ(got.status, 200u) << got.body;
  EXPECT_EQ(got.body, std::string("v1\0", 3));
  EXPECT_EQ(got.header("Content-Type"), "application/octet-stream");
  EXPECT_GT(std::stoll(got.header("X-Qkv-Timestamp-Ms")), 1'600'000'000'000)
      << "the write's time needs the coordinator's per-sibling stamps (branch cond)";
  EXPECT_THAT(got.header("X-Qkv-Replicas"), HasSubstr("n"));
  // The native client sees the same key.
  auto native = cluster->client_of(1).get(std::string("users/\0\xff+1", 10), {2, 0});
  ASSERT_TRUE(native.is_ok()) << native.status().to_string();
  EXPECT_THAT(native->values, UnorderedElementsAre(std::string("v1\0", 3)));

  Answer replaced = http.call("PUT", key, {{"X-Qkv-Context", got.header("X-Qkv-Context")}}, "v2");
  ASSERT_EQ(replaced.status, 204u) << replaced.body;
  got = http.call("GET", key);
  ASSERT_EQ(got.status, 200u) << got.body;
  EXPECT_EQ(got.body, "v2");  // superseded, not a sibling

  Answer deleted = http.call("DELETE", key, {{"X-Qkv-Context", replaced.header("X-Qkv-Context")}});
  ASSERT_EQ(deleted.status, 204u) << deleted.body;
  Answer gone = http.call("GET", key);
  EXPECT_EQ(gone.status, 404u);
  EXPECT_EQ(gone.error_code(), "not_found");
  ASSERT_FALSE(gone.header("X-Qkv-Context").empty()) << "a later write supersedes the tombstone";
  ASSERT_EQ(http.call("PUT", key, {{"X-Qkv-Context", gone.header("X-Qkv-Context")}}, "v3").status,
            204u);
  got = http.call("GET", key);
  EXPECT_EQ(got.status, 200u) << "no tombstone sibling left: " << got.body;
  EXPECT_EQ(got.body, "v3");
  EXPECT_EQ(http.call("HEAD", key).status, 200u);
}

TEST(HttpKvProcessTest, ConcurrentWritesAreSiblingsIn300AndAWriteWithTheirContextResolves) {
  auto cluster = cluster_with("");
  cluster->start_all();
  HttpConnection a(cluster->http_address(0));
  HttpConnection b(cluster->http_address(1));
  ASSERT_EQ(a.call("PUT", "/v1/kv/cart", {}, "apple").status, 204u);
  ASSERT_EQ(b.call("PUT", "/v1/kv/cart", {}, "pear").status, 204u);  // no context: concurrent

  Answer both = a.call("GET", "/v1/kv/cart?r=3");
  ASSERT_EQ(both.status, 300u) << both.body;
  EXPECT_EQ(both.header("Content-Type"), "application/json");
  const auto json = nlohmann::json::parse(both.body);
  EXPECT_EQ(json["context"], both.header("X-Qkv-Context"));
  std::vector<std::string> values;
  // The metadata needs the coordinator's per-sibling stamps (issue 18's branch cond).
  for (const auto& sibling : json["siblings"]) {
    values.push_back(base64_decode(sibling["value"].get<std::string>()).value());
    EXPECT_EQ(sibling["tombstone"], false);
    EXPECT_GT(sibling["timestamp_ms"].get<int64_t>(), 1'600'000'000'000);
    EXPECT_THAT(sibling["node"].get<std::string>(), HasSubstr("n"));
    EXPECT_EQ(sibling["expires_ms"], 0);
  }
  EXPECT_THAT(values, UnorderedElementsAre("apple", "pear"));

  ASSERT_EQ(a.call("PUT", "/v1/kv/cart", {{"X-Qkv-Context", both.header("X-Qkv-Context")}}, "both")
                .status,
            204u);
  Answer resolved = b.call("GET", "/v1/kv/cart?r=3");
  EXPECT_EQ(resolved.status, 200u) << resolved.body;
  EXPECT_EQ(resolved.body, "both");
}

TEST(HttpKvProcessTest, LimitsAndBadInputAreRefusedNamingThemAndLoseNothing) {
  auto cluster = cluster_with(
      "[limits]\nvalue_bytes_max = 1024\nkey_bytes_max = 64\nclient_requests_per_second_max = "
      "2\n");
  cluster->start_all();
  const std::string address = cluster->http_address(0);
  // A fresh connection per call: the rate limit is per connection, as on the native port.
  auto call = [&](const std::string& method, const std::string& target, std::string body = "") {
    return HttpConnection(address).call(method, target, {}, std::move(body));
  };
  ASSERT_EQ(call("PUT", "/v1/kv/kept", "small").status, 204u);
  Answer big = call("PUT", "/v1/kv/kept", std::string(2000, 'x'));
  EXPECT_EQ(big.status, 413u) << big.body;
  EXPECT_EQ(big.error_code(), "invalid_argument");
  EXPECT_THAT(big.error_message(), HasSubstr("value_bytes_max 1024"));
  Answer long_key = call("PUT", "/v1/kv/" + std::string(100, 'k'), "v");
  EXPECT_EQ(long_key.status, 413u) << long_key.body;
  EXPECT_THAT(long_key.error_message(), HasSubstr("key_bytes_max is 64"));
  Answer bad_r = call("GET", "/v1/kv/kept?r=abc");
  EXPECT_EQ(bad_r.status, 400u);
  EXPECT_THAT(bad_r.error_message(), HasSubstr("r=abc"));
  Answer bad_w = call("PUT", "/v1/kv/kept?w=9", "v");
  EXPECT_EQ(bad_w.status, 400u);
  EXPECT_THAT(bad_w.error_message(), HasSubstr("w=9 exceeds n=3"));
  Answer post = call("POST", "/v1/kv/kept", "v");
  EXPECT_EQ(post.status, 405u);
  EXPECT_EQ(post.header("Allow"), "GET, HEAD, PUT, DELETE");
  Answer kept = call("GET", "/v1/kv/kept");
  EXPECT_EQ(kept.status, 200u);
  EXPECT_EQ(kept.body, "small") << "nothing refused was written";
  EXPECT_EQ(call("GET", "/health/live").status, 200u) << "the ops endpoints still answer";

  // Over client_requests_per_second_max on one connection: 429 with Retry-After.
  HttpConnection one(address);
  Answer last;
  for (int i = 0; i < 4 && last.status != 429; ++i) last = one.call("GET", "/v1/kv/kept");
  EXPECT_EQ(last.status, 429u) << last.body;
  EXPECT_EQ(last.header("Retry-After"), "1");
  EXPECT_THAT(last.error_message(), HasSubstr("client_requests_per_second_max"));
}

std::string basic(const std::string& user, const std::string& secret) {
  return "Basic " + base64_encode(user + ":" + secret);
}

TEST(HttpKvProcessTest, AuthUsersAndGrantsAreTheNativePortsOnes) {
  auto cluster = std::make_unique<ProcessCluster>(3);
  const std::string users = cluster->dir() + "/users.toml";
  auto hash = [](const std::string& s) {
    return net::hash_secret(s, net::ScryptCost{10, 8, 1}).value();
  };
  std::ofstream(users) << fmt::format(
      "[users.root]\nsecret = \"{}\"\ngrants = [\"read\", \"write\", \"admin\"]\n"
      "[users.reader]\nsecret = \"{}\"\ngrants = [\"read\"]\n",
      hash("root-secret"), hash("reader-secret"));
  const std::string config = cluster->dir() + "/auth.toml";
  std::ofstream(config) << fmt::format("[auth]\nusers_file = \"{}\"\n", users);
  for (int i = 0; i < 3; ++i) cluster->set_node_flags(i, {"--config", config});
  cluster->set_client_credentials({"root", "root-secret"});
  cluster->start_all();
  HttpConnection http(cluster->http_address(1));

  Answer anonymous = http.call("PUT", "/v1/kv/k", {}, "v");
  EXPECT_EQ(anonymous.status, 401u);
  EXPECT_EQ(anonymous.error_code(), "unauthenticated");
  EXPECT_THAT(anonymous.header("WWW-Authenticate"), HasSubstr("Basic"));
  EXPECT_EQ(http.call("GET", "/v1/kv/k", {{"Authorization", basic("root", "guess")}}).status, 401u);
  const std::map<std::string, std::string> reader = {
      {"Authorization", basic("reader", "reader-secret")}};
  Answer denied = http.call("PUT", "/v1/kv/k", reader, "v");
  EXPECT_EQ(denied.status, 403u);
  EXPECT_EQ(denied.error_code(), "permission_denied");
  EXPECT_THAT(denied.error_message(), HasSubstr("user reader lacks the grant write"));
  EXPECT_EQ(http.call("GET", "/v1/kv/k", reader).status, 404u) << "refused writes wrote nothing";

  ASSERT_EQ(
      http.call("PUT", "/v1/kv/k", {{"Authorization", basic("root", "root-secret")}}, "v").status,
      204u);
  Answer read = http.call("GET", "/v1/kv/k", reader);
  EXPECT_EQ(read.status, 200u);
  EXPECT_EQ(read.body, "v");
  EXPECT_GE(node_counter(*cluster, 1, "permission_denials"), 1u);
}

// Needs the coordinator's conditional writes (issue 18, branch cond).
TEST(HttpKvProcessTest, ConditionalWritesFollowIfNoneMatchAndIfMatch) {
  auto cluster = cluster_with("");
  cluster->start_all();
  HttpConnection http(cluster->http_address(2));
  const std::map<std::string, std::string> absent = {{"If-None-Match", "*"}};
  ASSERT_EQ(http.call("PUT", "/v1/kv/lock", absent, "mine").status, 204u);
  Answer taken = http.call("PUT", "/v1/kv/lock", absent, "theirs");
  EXPECT_EQ(taken.status, 412u) << taken.body;
  EXPECT_EQ(taken.error_code(), "precondition_failed");

  Answer read = http.call("GET", "/v1/kv/lock");
  ASSERT_EQ(read.status, 200u);
  EXPECT_EQ(read.body, "mine");
  const std::string seen = read.header("X-Qkv-Context");
  Answer updated = http.call("PUT", "/v1/kv/lock", {{"If-Match", seen}}, "mine-2");
  ASSERT_EQ(updated.status, 204u) << updated.body;
  Answer stale = http.call("PUT", "/v1/kv/lock", {{"If-Match", seen}}, "lost-update");
  EXPECT_EQ(stale.status, 412u) << stale.body;
  EXPECT_EQ(http.call("DELETE", "/v1/kv/lock", {{"If-Match", seen}}).status, 412u);
  Answer now = http.call("GET", "/v1/kv/lock");
  EXPECT_EQ(now.body, "mine-2") << "refused conditional writes wrote nothing";
  EXPECT_EQ(http.call("DELETE", "/v1/kv/lock", {{"If-Match", now.header("X-Qkv-Context")}}).status,
            204u);
}

}  // namespace
}  // namespace qkv::testing
