#include "node/storage/key_codec.h"

namespace qkv::storage {

namespace {

void append_token(std::string& out, ring::Token token) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<unsigned char>(token >> shift)));
  }
}

// The big-endian token in the first kTokenBytes of bytes. REQUIRES: that many bytes.
ring::Token read_token(std::string_view bytes) {
  ring::Token token = 0;
  for (std::size_t i = 0; i < kTokenBytes; ++i) {
    token = (token << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return token;
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
  encode_data_key(token, key, out);
  return out;
}

void encode_data_key(ring::Token token, std::string_view key, std::string& out) {
  out.clear();
  out.reserve(kTokenBytes + key.size());
  append_token(out, token);
  out.append(key);
}

Result<std::pair<ring::Token, std::string_view>> decode_data_key(std::string_view bytes) {
  if (bytes.size() < kTokenBytes) {
    return Status::corruption("data key is " + std::to_string(bytes.size()) + " bytes; at least " +
                              std::to_string(kTokenBytes) + " (the token) are required");
  }
  return std::pair<ring::Token, std::string_view>{read_token(bytes), bytes.substr(kTokenBytes)};
}

std::string encode_hint_key(std::string_view target, ring::Token token, std::string_view key) {
  QKV_ASSERT(!target.empty() && target.find(kHintTargetEnd) == std::string_view::npos);
  std::string out;
  out.reserve(target.size() + 1 + kTokenBytes + key.size());
  out.append(target);
  out.push_back(kHintTargetEnd);
  append_token(out, token);
  out.append(key);
  return out;
}

Result<HintKeyView> decode_hint_key(std::string_view bytes) {
  const std::size_t end = bytes.find(kHintTargetEnd);
  if (end == std::string_view::npos || end == 0) {
    return Status::corruption("hint key of " + std::to_string(bytes.size()) +
                              " bytes does not start with a target node id ended by 0x00");
  }
  const std::string_view rest = bytes.substr(end + 1);
  if (rest.size() < kTokenBytes) {
    return Status::corruption("hint key has " + std::to_string(rest.size()) +
                              " bytes after its target; at least " + std::to_string(kTokenBytes) +
                              " (the token) are required");
  }
  return HintKeyView{bytes.substr(0, end), read_token(rest), rest.substr(kTokenBytes)};
}

}  // namespace qkv::storage
