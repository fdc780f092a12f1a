// docs/protocol.md's worked example ("A frame, byte by byte") is what the codec really
// writes: the hex dump there is compared with encode() of the same request, and decoded back.
// When the encoding changes on purpose, the failure prints the dump to paste into the doc.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "proto/client_codec.h"

namespace qkv::proto {
namespace {

// The documented request: a get of "cart/alice" with r = 2, request id 7, 1000 ms.
ClientRequest documented_request() {
  GetRequest get;
  get.key = "cart/alice";
  get.r = 2;
  return ClientRequest{7, 1000, get};
}

// The bytes of the dump between the example's markers: each line is an offset, then bytes.
std::vector<uint8_t> documented_bytes() {
  std::ifstream in(std::string(QKV_SOURCE_DIR) + "/docs/protocol.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto begin = doc.find("<!-- example-get-frame -->");
  const auto end = doc.find("<!-- /example-get-frame -->");
  if (begin == std::string::npos || end == std::string::npos) return {};
  std::istringstream block(doc.substr(begin, end - begin));
  std::vector<uint8_t> bytes;
  for (std::string line; std::getline(block, line);) {
    std::istringstream fields(line);
    std::string offset, byte;
    if (!(fields >> offset) || offset.size() != 4 ||
        !std::all_of(offset.begin(), offset.end(), [](char c) { return std::isxdigit(c); })) {
      continue;  // the markers and the code fence
    }
    while (fields >> byte) bytes.push_back(static_cast<uint8_t>(std::stoul(byte, nullptr, 16)));
  }
  return bytes;
}

std::string dump(const std::vector<uint8_t>& bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i % 8 == 0) out += fmt::format("{:04x} ", i);
    out += fmt::format(" {:02x}", bytes[i]);
    if (i % 8 == 7 || i + 1 == bytes.size()) out += "\n";
  }
  return out;
}

TEST(ProtocolDocTest, TheWorkedExampleIsWhatTheCodecWrites) {
  auto frame = encode(documented_request());
  auto encoded = frame.asBytes();
  const std::vector<uint8_t> expected(encoded.begin(), encoded.end());
  EXPECT_EQ(documented_bytes(), expected) << "docs/protocol.md's example should read:\n"
                                          << dump(expected);
}

TEST(ProtocolDocTest, TheWorkedExampleDecodesToTheDocumentedRequest) {
  const auto bytes = documented_bytes();
  ASSERT_EQ(bytes.size() % sizeof(capnp::word), 0u);
  ASSERT_FALSE(bytes.empty());
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  auto decoded = decode_client_request(words);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->request_id, 7u);
  EXPECT_EQ(decoded->timeout_ms, 1000u);
  const auto* get = std::get_if<GetRequest>(&decoded->op);
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->key, "cart/alice");
  EXPECT_EQ(get->r, 2);
  EXPECT_EQ(get->pr, 0);
  EXPECT_FALSE(get->local);
}

}  // namespace
}  // namespace qkv::proto
