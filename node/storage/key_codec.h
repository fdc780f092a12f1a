// Key codec: how a (token, key) pair becomes a storage key, and a (target, token, key)
// triple a hint key.
//
// Data keys (column family "data"). Layout (persisted: do not change):
//
//   byte 0..7   the token, big-endian (most significant byte first)
//   byte 8..    the key bytes, verbatim (any bytes, NULs included; may be empty)
//
// Big-endian makes bytewise order (RocksDB's default comparator, std::string's <) equal
// to (token, key) order, so a partition — a contiguous token range — is one range scan,
// and the keys of equal tokens sort bytewise after their shared 8-byte prefix.
//
// Hint keys (column family "hints"). Layout (persisted: do not change):
//
//   byte 0..t-1      the target node id, verbatim (1..64 bytes of [A-Za-z0-9._-], never 0x00)
//   byte t           0x00, the separator
//   byte t+1..t+8    the token, big-endian
//   byte t+9..       the key bytes, verbatim
//
// A node id never contains 0x00, and 0x00 sorts below every byte an id may hold, so
// bytewise order is (target, token, key) order with targets in std::string order ("n1"
// before "n10" before "n2"), and all hints for one target are one contiguous range.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "ring/token.h"

namespace qkv::storage {

// Length in bytes of the token prefix of every data key.
inline constexpr std::size_t kTokenBytes = 8;

// The 8-byte big-endian encoding of token: the prefix shared by all its data keys, and
// the smallest data key with that token.
std::string encode_token(ring::Token token);

// token ‖ key, as laid out above.
std::string encode_data_key(ring::Token token, std::string_view key);
// The same into `out` (its content replaced, its capacity kept: a batch reuses one buffer).
void encode_data_key(ring::Token token, std::string_view key, std::string& out);

// The token and key of a data key. The key views `bytes`: it is valid as long as they are.
// Errors: corruption if bytes is shorter than kTokenBytes.
Result<std::pair<ring::Token, std::string_view>> decode_data_key(std::string_view bytes);

// Byte that ends the target of a hint key.
inline constexpr char kHintTargetEnd = '\0';

// target ‖ 0x00 ‖ token ‖ key, as laid out above.
// REQUIRES (QKV_ASSERT): target is non-empty and holds no 0x00 (any valid node id).
std::string encode_hint_key(std::string_view target, ring::Token token, std::string_view key);

// A decoded hint key; its views point into the bytes it was decoded from.
struct HintKeyView {
  std::string_view target;
  ring::Token token = 0;
  std::string_view key;
};

// The target, token and key of a hint key; views valid as long as `bytes` are.
// Errors: corruption if there is no non-empty target ended by 0x00 or fewer than
// kTokenBytes bytes follow it.
Result<HintKeyView> decode_hint_key(std::string_view bytes);

}  // namespace qkv::storage
