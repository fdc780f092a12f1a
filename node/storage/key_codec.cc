#include "node/storage/key_codec.h"

namespace qkv::storage {

namespace {

void append_token(std::string& out, ring::Token token) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<unsigned char>(token >> shift)));
  }
}

}  // namespace

std::string encode_token(ring::Token token) {
  std::string out;
  out.reserve(kTokenBytes);
  append_token(out, token);
  return out;
}

std::string encode_data_key(ring::Token token, std::string_view key) {
  std::string out;
  out.reserve(kTokenBytes + key.size());
  append_token(out, token);
  out.append(key);
  return out;
}

Result<std::pair<ring::Token, std::string_view>> decode_data_key(std::string_view bytes) {
  if (bytes.size() < kTokenBytes) {
    return Status::corruption("data key is " + std::to_string(bytes.size()) + " bytes; at least " +
                              std::to_string(kTokenBytes) + " (the token) are required");
  }
  ring::Token token = 0;
  for (std::size_t i = 0; i < kTokenBytes; ++i) {
    token = (token << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return std::pair<ring::Token, std::string_view>{token, bytes.substr(kTokenBytes)};
}

}  // namespace qkv::storage
