#include "client/json_output.h"

#include <gtest/gtest.h>

#include <string>

namespace qkv::client {
namespace {

using nlohmann::json;

TEST(Base64, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Base64, DecodesWithAndWithoutPadding) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto padded = base64_decode(base64_encode(s));
    ASSERT_TRUE(padded.is_ok()) << s;
    EXPECT_EQ(*padded, s);
  }
  EXPECT_EQ(*base64_decode("Zm8"), "fo");
  EXPECT_EQ(*base64_decode("Zg"), "f");
}

TEST(Base64, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    auto decoded = base64_decode(base64_encode(all.substr(0, len)));
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_EQ(*decoded, all.substr(0, len));
  }
}

TEST(Base64, RejectsWhatIsNotBase64) {
  EXPECT_EQ(base64_decode("Zm9v!").status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(base64_decode("Zm9v!").status().message().find("character 4"), std::string::npos);
  EXPECT_FALSE(base64_decode("Z").is_ok());      // 6 bits: no whole byte
  EXPECT_FALSE(base64_decode("Zg=").is_ok());    // padding must complete a quad
  EXPECT_FALSE(base64_decode("Z===").is_ok());   // at most two '='
  EXPECT_FALSE(base64_decode("Zm 9v").is_ok());  // no whitespace
  EXPECT_FALSE(base64_decode("Zg==Zg==").is_ok());
}

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii\n"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9"));           // é
  EXPECT_TRUE(is_valid_utf8("\xe2\x82\xac"));          // €
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));      // U+1F600
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));  // NUL is valid UTF-8
}

TEST(Utf8, RejectsMalformedSequences) {
  EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation byte
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("ok\xc3(x"));  // bad continuation
}

TEST(GetResultJson, TextKeysAndValuesAreGivenAsText) {
  GetResult result{{"v1", "v2"}, std::string("\x01\x02", 2)};
  json j = get_result_json("k", result);
  EXPECT_EQ(j, json::parse(R"({"key":"k","siblings":[{"value":"v1"},{"value":"v2"}],
                               "context":"AQI=","replicas":[]})"));
}

TEST(GetResultJson, BinaryKeysAndValuesAreGivenInBase64) {
  GetResult result{{std::string("\xff\x00", 2), "text"}, ""};
  json j = get_result_json(std::string("\xfe", 1), result);
  EXPECT_EQ(j["key"], "/g==");
  EXPECT_EQ(j["key_encoding"], "base64");
  EXPECT_EQ(j["siblings"][0], json::parse(R"({"value":"/wA=","encoding":"base64"})"));
  EXPECT_EQ(j["siblings"][1], json::parse(R"({"value":"text"})"));
  EXPECT_EQ(j["context"], "");
  EXPECT_NO_THROW(j.dump());  // valid UTF-8 throughout
}

TEST(GetResultJson, NotFoundHasNoSiblingsButKeepsTheContext) {
  json j = get_result_json("k", GetResult{{}, "tomb"});
  EXPECT_TRUE(j["siblings"].is_array());
  EXPECT_TRUE(j["siblings"].empty());
  EXPECT_EQ(*base64_decode(j["context"].get<std::string>()), "tomb");
  EXPECT_EQ(j["replicas"], json::array()) << "an older node names none";
}

TEST(GetResultJson, NamesTheReplicasInOrderWithTheirRoles) {
  json j = get_result_json("k", GetResult{{"v"}, "c", {{"n1", false}, {"n4", true}}});
  EXPECT_EQ(j["replicas"], json::parse(R"([{"node":"n1","role":"primary"},
                                           {"node":"n4","role":"fallback"}])"));
}

TEST(RingJson, CountsPartitionsAndSharePerNode) {
  proto::RingResponse ring{4, 2, {"n2", "n1", "n2", "n2"}};
  json j = ring_json(ring);
  EXPECT_EQ(j["partition_count"], 4);
  EXPECT_EQ(j["n"], 2);
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0]["node"], "n1");  // sorted by id
  EXPECT_EQ(j["nodes"][0]["partitions"], 1);
  EXPECT_DOUBLE_EQ(j["nodes"][0]["share_percent"].get<double>(), 25.0);
  EXPECT_EQ(j["nodes"][1]["partitions"], 3);
  EXPECT_DOUBLE_EQ(j["nodes"][1]["share_percent"].get<double>(), 75.0);
  EXPECT_EQ(j["owners"], json::parse(R"(["n2","n1","n2","n2"])"));
}

TEST(StatusJson, CarriesEveryField) {
  proto::StatusResponse s;
  s.node_id = "n1";
  s.incarnation = 3;
  s.version = "0.1.0";
  s.uptime_ms = 1234;
  s.n = 3;
  s.r = 2;
  s.w = 2;
  s.members = {"n1", "n2"};
  s.counters = {{"client_requests", 10}, {"forwarded", 2}};
  json j = status_json("127.0.0.1:7001", s);
  EXPECT_EQ(j["address"], "127.0.0.1:7001");
  EXPECT_EQ(j["up"], true);
  EXPECT_EQ(j["node_id"], "n1");
  EXPECT_EQ(j["incarnation"], 3);
  EXPECT_EQ(j["uptime_ms"], 1234);
  EXPECT_EQ(j["r"], 2);
  EXPECT_EQ(j["members"], json::parse(R"(["n1","n2"])"));
  EXPECT_EQ(j["counters"]["forwarded"], 2);
  EXPECT_EQ(j["repair"]["running"], false);
  EXPECT_EQ(j["exchanges"], json::array());
}

TEST(StatusJson, CarriesTheRepairAndEveryExchange) {
  proto::StatusResponse s;
  s.repair = proto::RepairProgress{true, 256, 12, 1, 3400, 120, 1258291, "n3: timeout"};
  s.exchanges = {{0, 1700000000123}, {5, 0}};
  json j = status_json("a:1", s);
  EXPECT_EQ(j["repair"], json::parse(R"({"running":true,"partitions_total":256,
      "partitions_done":12,"partitions_failed":1,"keys_compared":3400,"keys_repaired":120,
      "bytes_sent":1258291,"last_error":"n3: timeout"})"));
  EXPECT_EQ(j["exchanges"], json::parse(R"([{"partition":0,"last_success_unix_ms":1700000000123},
                                            {"partition":5,"last_success_unix_ms":0}])"));
}

}  // namespace
}  // namespace qkv::client
