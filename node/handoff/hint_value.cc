#include "node/handoff/hint_value.h"

#include <utility>

#include "node/wire/replica_codec.h"

namespace qkv::handoff {

std::string encode_hint_value(int64_t created_unix_ms, const causal::SiblingSet& state) {
  std::string out;
  const auto created = static_cast<uint64_t>(created_unix_ms);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<unsigned char>(created >> shift)));
  }
  out += node::encode_sibling_set(state);
  return out;
}

Result<int64_t> decode_hint_created(std::string_view value) {
  if (value.size() < kHintHeaderBytes) {
    return Status::corruption("hint value is " + std::to_string(value.size()) +
                              " bytes; at least " + std::to_string(kHintHeaderBytes) +
                              " (the creation time) are required");
  }
  uint64_t created = 0;
  for (std::size_t i = 0; i < kHintHeaderBytes; ++i) {
    created = (created << 8) | static_cast<unsigned char>(value[i]);
  }
  return static_cast<int64_t>(created);
}

Result<HintValue> decode_hint_value(std::string_view value) {
  auto created = decode_hint_created(value);
  if (!created.is_ok()) return created.status();
  auto state = node::decode_sibling_set(value.substr(kHintHeaderBytes));
  if (!state.is_ok()) {
    return Status::corruption("hint state does not decode: " + state.status().message());
  }
  return HintValue{*created, std::move(state).value()};
}

}  // namespace qkv::handoff
