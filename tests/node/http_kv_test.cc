// The HTTP key-value API's translations (node/http_kv.h): what a client of docs/http-api.md
// relies on — its request means the native request it would have sent, and every answer
// has the status, headers and body the spec promises.
#include "node/http_kv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "net/http_server.h"

namespace qkv::node {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;

constexpr uint32_t kN = 3;

// The request as HttpServer hands it over: path and query decoded, headers lower-case.
net::HttpRequest http(std::string method, std::string target,
                      std::map<std::string, std::string> headers = {}, std::string body = "") {
  net::HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  std::tie(r.path, r.query) = net::HttpServer::parse_target(r.target);
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

std::string header(const net::HttpResponse& out, std::string_view name) {
  for (const auto& [k, v] : out.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

Status refusal(net::HttpRequest request) {
  return parse_http_kv(request, kN).status();
}

TEST(HttpKvRequestTest, GetCarriesKeyBytesAndQuorum) {
  auto parsed = parse_http_kv(http("GET", "/v1/kv/a%2Fb+c%00%ff?r=2&pr=1&timeout_ms=500"), kN);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  const auto& get = std::get<proto::GetRequest>(parsed->op);
  EXPECT_EQ(get.key, std::string("a/b+c\0\xff", 7));  // '+' in a path is a plus
  EXPECT_EQ(get.r, 2);
  EXPECT_EQ(get.pr, 1);
  EXPECT_FALSE(get.local);
  EXPECT_EQ(parsed->timeout_ms, 500u);
  EXPECT_EQ(get.fanout, proto::ReadFanout::kDefault);
  auto head = parse_http_kv(http("HEAD", "/v1/kv/k"), kN);
  ASSERT_TRUE(head.is_ok());
  EXPECT_EQ(std::get<proto::GetRequest>(head->op).r, 0);  // the node's default
  for (auto [query, fanout] : {std::pair{"all", proto::ReadFanout::kAll},
                               std::pair{"quorum", proto::ReadFanout::kQuorum}}) {
    auto asked = parse_http_kv(http("GET", std::string("/v1/kv/k?fanout=") + query), kN);
    ASSERT_TRUE(asked.is_ok()) << asked.status().message();
    EXPECT_EQ(std::get<proto::GetRequest>(asked->op).fanout, fanout) << query;
  }
}

TEST(HttpKvRequestTest, PutCarriesValueContextTtlAndPw) {
  const std::string context("\x01\x00\xfe", 3);
  auto parsed =
      parse_http_kv(http("PUT", "/v1/kv/k?w=3&pw=true&ttl=60",
                         {{"x-qkv-context", base64_encode(context)}}, std::string("v\0v", 3)),
                    kN);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  const auto& put = std::get<proto::PutRequest>(parsed->op);
  EXPECT_EQ(put.key, "k");
  EXPECT_EQ(put.value, std::string("v\0v", 3));
  EXPECT_EQ(put.context, context);
  EXPECT_EQ(put.w, 3);
  EXPECT_TRUE(put.primaries_only);
  EXPECT_EQ(put.ttl_seconds, 60u);
  EXPECT_EQ(put.condition, proto::WriteCondition::kNone);
  auto del = parse_http_kv(
      http("DELETE", "/v1/kv/k?pw=false", {{"x-qkv-context", base64_encode(context)}}), kN);
  ASSERT_TRUE(del.is_ok()) << del.status().message();
  EXPECT_EQ(std::get<proto::DeleteRequest>(del->op).context, context);
  EXPECT_FALSE(std::get<proto::DeleteRequest>(del->op).primaries_only);
}

TEST(HttpKvRequestTest, ConditionalHeadersMapToWriteConditions) {
  auto absent = parse_http_kv(http("PUT", "/v1/kv/k", {{"if-none-match", "*"}}, "v"), kN);
  ASSERT_TRUE(absent.is_ok());
  EXPECT_EQ(std::get<proto::PutRequest>(absent->op).condition, proto::WriteCondition::kIfAbsent);
  const std::string ctx = base64_encode("ctx");
  for (const std::string& sent : {ctx, "\"" + ctx + "\""}) {  // bare, or as an entity tag
    auto unchanged = parse_http_kv(http("PUT", "/v1/kv/k", {{"if-match", sent}}, "v"), kN);
    ASSERT_TRUE(unchanged.is_ok()) << unchanged.status().message();
    const auto& put = std::get<proto::PutRequest>(unchanged->op);
    EXPECT_EQ(put.condition, proto::WriteCondition::kIfUnchanged);
    EXPECT_EQ(put.context, "ctx");
  }
  auto same =
      parse_http_kv(http("DELETE", "/v1/kv/k", {{"if-match", ctx}, {"x-qkv-context", ctx}}), kN);
  ASSERT_TRUE(same.is_ok());
  EXPECT_EQ(std::get<proto::DeleteRequest>(same->op).condition,
            proto::WriteCondition::kIfUnchanged);
}

TEST(HttpKvRequestTest, BadConditionalHeadersAreRefused) {
  const std::string ctx = base64_encode("ctx");
  EXPECT_THAT(refusal(http("PUT", "/v1/kv/k",
                           {{"if-match", ctx}, {"x-qkv-context", base64_encode("other")}}))
                  .message(),
              HasSubstr("different causal contexts"));
  EXPECT_THAT(refusal(http("DELETE", "/v1/kv/k", {{"if-none-match", "*"}})).message(),
              HasSubstr("If-None-Match is not allowed on DELETE"));
  EXPECT_THAT(refusal(http("PUT", "/v1/kv/k", {{"if-none-match", "\"abc\""}})).message(),
              HasSubstr("only If-None-Match: *"));
  EXPECT_THAT(
      refusal(http("PUT", "/v1/kv/k", {{"if-none-match", "*"}, {"if-match", ctx}})).message(),
      HasSubstr("cannot be sent together"));
  EXPECT_THAT(refusal(http("PUT", "/v1/kv/k", {{"x-qkv-context", "!!"}})).message(),
              HasSubstr("X-Qkv-Context is not a base64 causal context"));
  EXPECT_THAT(refusal(http("PUT", "/v1/kv/k", {{"if-match", "a"}})).message(),
              HasSubstr("If-Match is not a base64"));
}

TEST(HttpKvRequestTest, BadParametersAreRefusedNamingThem) {
  const std::vector<std::pair<net::HttpRequest, std::string>> cases = {
      {http("GET", "/v1/kv/k?r=abc"), "r=abc is not a whole number"},
      {http("GET", "/v1/kv/k?r=-1"), "r=-1 is not a whole number"},
      {http("GET", "/v1/kv/k?pr=4"), "pr=4 exceeds n=3"},
      {http("PUT", "/v1/kv/k?w=9"), "w=9 exceeds n=3"},
      {http("PUT", "/v1/kv/k?w=300"), "w=300 exceeds n=3"},
      {http("PUT", "/v1/kv/k?pw=maybe"), "pw=maybe is not a boolean"},
      {http("PUT", "/v1/kv/k?ttl=99999999999"), "ttl=99999999999 exceeds"},
      {http("GET", "/v1/kv/k?timeout_ms=1.5"), "timeout_ms=1.5 is not a whole number"},
      {http("GET", "/v1/kv/k?w=2"), "unknown query parameter w for GET (accepted: fanout, pr, r, "},
      {http("GET", "/v1/kv/k?fanout=some"), "fanout=some is not all or quorum"},
      {http("DELETE", "/v1/kv/k?ttl=5"), "unknown query parameter ttl for DELETE"},
      {http("GET", "/v1/kv/"), "key is empty"},
      {http("GET", "/v1/kv/?r=1"), "key is empty"},
      {http("GET", "/v1/kv/a%2"), "percent-encoding is malformed at byte 1"},
      {http("GET", "/v1/kv/a%zz"), "percent-encoding is malformed"},
  };
  for (const auto& [request, expected] : cases) {
    Status status = refusal(request);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << request.target;
    EXPECT_THAT(status.message(), HasSubstr(expected)) << request.target;
    EXPECT_EQ(http_kv_error(status).status, 400u) << request.target;
  }
}

TEST(HttpKvRequestTest, OnlyKeyValueMethodsAreServed) {
  for (const char* method : {"GET", "HEAD", "PUT", "DELETE"}) {
    EXPECT_TRUE(http_kv_method_allowed(method)) << method;
  }
  EXPECT_FALSE(http_kv_method_allowed("POST"));
  EXPECT_FALSE(http_kv_method_allowed("PATCH"));
  net::HttpResponse out = http_kv_method_not_allowed("POST");
  EXPECT_EQ(out.status, 405u);
  EXPECT_EQ(header(out, "Allow"), "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(out.content_type, "application/json");
}

TEST(HttpKvResponseTest, EveryStatusCodeMapsAsSpecified) {
  const std::vector<std::pair<Status, unsigned>> cases = {
      {Status::invalid_argument("w=4 exceeds n=3"), 400},
      {Status::invalid_argument("value is 9 bytes; value_bytes_max is 8"), 413},
      {Status::invalid_argument("key is 9 bytes; key_bytes_max is 8"), 413},
      {Status::invalid_argument("causal context is 9 bytes; context_bytes_max is 8"), 400},
      {Status::unauthenticated("who"), 401},
      {Status::permission_denied("no"), 403},
      {Status::not_found("key not found"), 404},
      {Status::precondition_failed("changed"), 412},
      {Status::overloaded("busy"), 429},
      {Status::unavailable("1 of 2"), 503},
      {Status::timeout("late"), 504},
      {Status::io_error("disk"), 500},
      {Status::corruption("bits"), 500},
  };
  for (const auto& [status, code] : cases) {
    net::HttpResponse out = http_kv_response(proto::ClientResponse{1, status, {}});
    EXPECT_EQ(out.status, code) << status.message();
    EXPECT_EQ(out.content_type, "application/json");
    auto body = nlohmann::json::parse(out.body);
    EXPECT_EQ(body["code"], std::string(status_code_name(status.code())));
    EXPECT_EQ(body["message"], status.message());
  }
  EXPECT_EQ(header(http_kv_error(Status::unauthenticated("x")), "WWW-Authenticate"),
            "Basic realm=\"qkv\", charset=\"UTF-8\"");
  EXPECT_EQ(header(http_kv_error(Status::overloaded("x")), "Retry-After"), "1");
}

TEST(HttpKvResponseTest, OneValueIsTheBodyWithItsMetadata) {
  proto::GetResponse get;
  get.values = {std::string("v\0\xff", 3)};
  get.context = std::string("c\0", 2);
  get.replicas = {{"n1", false}, {"n4", true}};
  get.siblings = {{false, 1700000000123, "n1", 0}};
  net::HttpResponse out = http_kv_response(proto::ClientResponse{1, {}, get});
  EXPECT_EQ(out.status, 200u);
  EXPECT_EQ(out.content_type, "application/octet-stream");
  EXPECT_EQ(out.body, get.values[0]);
  EXPECT_EQ(header(out, "X-Qkv-Timestamp-Ms"), "1700000000123");
  EXPECT_EQ(header(out, "X-Qkv-Replicas"), "n1,n4~fallback");
  // The context round trip: what the answer carries is what a write sends back.
  auto next = parse_http_kv(
      http("PUT", "/v1/kv/k", {{"x-qkv-context", header(out, "X-Qkv-Context")}}, "w"), kN);
  ASSERT_TRUE(next.is_ok());
  EXPECT_EQ(std::get<proto::PutRequest>(next->op).context, get.context);
}

TEST(HttpKvResponseTest, SiblingsAre300WithJsonValuesThenTombstones) {
  proto::GetResponse get;
  get.values = {"a", std::string("\xff", 1)};
  get.context = "ctx";
  get.replicas = {{"n1", false}};
  get.siblings = {{false, 10, "n1", 0}, {false, 20, "n2", 5000}, {true, 30, "n3", 0}};
  net::HttpResponse out = http_kv_response(proto::ClientResponse{1, {}, get});
  EXPECT_EQ(out.status, 300u);
  EXPECT_EQ(out.content_type, "application/json");
  EXPECT_EQ(header(out, "X-Qkv-Context"), base64_encode("ctx"));
  auto body = nlohmann::json::parse(out.body);
  EXPECT_EQ(body["context"], base64_encode("ctx"));
  ASSERT_EQ(body["siblings"].size(), 3u);
  EXPECT_EQ(body["siblings"][0], (nlohmann::json{{"value", base64_encode("a")},
                                                 {"tombstone", false},
                                                 {"timestamp_ms", 10},
                                                 {"node", "n1"},
                                                 {"expires_ms", 0}}));
  EXPECT_EQ(body["siblings"][1]["value"], base64_encode("\xff"));
  EXPECT_EQ(body["siblings"][1]["expires_ms"], 5000);
  EXPECT_EQ(body["siblings"][2], (nlohmann::json{{"value", ""},
                                                 {"tombstone", true},
                                                 {"timestamp_ms", 30},
                                                 {"node", "n3"},
                                                 {"expires_ms", 0}}));
  // From a node older than per-sibling metadata: the values alone, metadata zero.
  get.siblings.clear();
  body = nlohmann::json::parse(http_kv_response(proto::ClientResponse{1, {}, get}).body);
  ASSERT_EQ(body["siblings"].size(), 2u);
  EXPECT_EQ(body["siblings"][1]["timestamp_ms"], 0);
}

TEST(HttpKvResponseTest, NotFoundCarriesTheTombstonesContext) {
  proto::GetResponse deleted;
  deleted.context = "after-delete";
  net::HttpResponse out =
      http_kv_response(proto::ClientResponse{1, Status::not_found("key not found"), deleted});
  EXPECT_EQ(out.status, 404u);
  EXPECT_EQ(header(out, "X-Qkv-Context"), base64_encode("after-delete"));
  EXPECT_EQ(nlohmann::json::parse(out.body)["code"], "not_found");
  // Missing altogether: no context to carry.
  out = http_kv_response(
      proto::ClientResponse{1, Status::not_found("key not found"), proto::GetResponse{}});
  EXPECT_EQ(out.status, 404u);
  EXPECT_EQ(header(out, "X-Qkv-Context"), "<absent>");
}

TEST(HttpKvResponseTest, WritesAre204WithTheWrittenContext) {
  net::HttpResponse out =
      http_kv_response(proto::ClientResponse{1, {}, proto::PutResponse{"written"}});
  EXPECT_EQ(out.status, 204u);
  EXPECT_TRUE(out.body.empty());
  EXPECT_EQ(header(out, "X-Qkv-Context"), base64_encode("written"));
  out = http_kv_response(proto::ClientResponse{1, Status::precondition_failed("changed"), {}});
  EXPECT_EQ(out.status, 412u);
  EXPECT_EQ(header(out, "X-Qkv-Context"), "<absent>");
}

}  // namespace
}  // namespace qkv::node
