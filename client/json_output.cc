#include "client/json_output.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <iostream>
#include <map>

namespace qkv::client {
namespace {

// Length of the UTF-8 sequence starting at `p` (of `left` bytes), or 0 when malformed.
std::size_t utf8_sequence(const unsigned char* p, std::size_t left) {
  unsigned char b = p[0];
  if (b < 0x80) return 1;
  std::size_t len;
  uint32_t min, cp;
  if ((b & 0xE0) == 0xC0) {
    len = 2, min = 0x80, cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3, min = 0x800, cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, cp = b & 0x07;
  } else {
    return 0;  // a continuation byte or 0xF8..0xFF cannot start a sequence
  }
  if (left < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t left = bytes.size();
  while (left > 0) {
    std::size_t len = utf8_sequence(p, left);
    if (len == 0) return false;
    p += len;
    left -= len;
  }
  return true;
}

void set_bytes_field(nlohmann::json& obj, const std::string& field,
                     const std::string& encoding_field, std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    obj[field] = std::string(bytes);
  } else {
    obj[field] = base64_encode(bytes);
    obj[encoding_field] = "base64";
  }
}

nlohmann::json get_result_json(std::string_view key, const GetResult& result) {
  nlohmann::json out = nlohmann::json::object();
  set_bytes_field(out, "key", "key_encoding", key);
  nlohmann::json siblings = nlohmann::json::array();
  for (const auto& value : result.values) {
    nlohmann::json sibling = nlohmann::json::object();
    set_bytes_field(sibling, "value", "encoding", value);
    siblings.push_back(std::move(sibling));
  }
  out["siblings"] = std::move(siblings);
  out["context"] = base64_encode(result.context);
  nlohmann::json replicas = nlohmann::json::array();
  for (const auto& replica : result.replicas) {
    replicas.push_back(
        {{"node", replica.node}, {"role", replica.fallback ? "fallback" : "primary"}});
  }
  out["replicas"] = std::move(replicas);
  return out;
}

void print_json(const nlohmann::json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int print_failure(bool as_json, const Status& status, int exit_code) {
  if (as_json) {
    print_json({{"error",
                 {{"code", std::string(status_code_name(status.code()))},
                  {"message", status.message()}}}});
  } else {
    std::cerr << "error: " << status.to_string() << "\n";
  }
  return exit_code;
}

}  // namespace qkv::client
