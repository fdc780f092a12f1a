// Key codec: how a (token, key) pair becomes a storage key.
//
// Layout (persisted: do not change):
//
//   byte 0..7   the token, big-endian (most significant byte first)
//   byte 8..    the key bytes, verbatim (any bytes, NULs included; may be empty)
//
// Big-endian makes bytewise order (RocksDB's default comparator, std::string's <) equal
// to (token, key) order, so a partition — a contiguous token range — is one range scan,
// and the keys of equal tokens sort bytewise after their shared 8-byte prefix.
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

// The token and key of a data key. The key views `bytes`: it is valid as long as they are.
// Errors: corruption if bytes is shorter than kTokenBytes.
Result<std::pair<ring::Token, std::string_view>> decode_data_key(std::string_view bytes);

}  // namespace qkv::storage
