// Tokens: positions on the 64-bit hash ring (Dynamo §4.2).
#pragma once

#include <cstdint>
#include <string_view>

namespace qkv::ring {

// A key's position on the ring: XXH3_64bits(key, seed 0). Stable across releases:
// it decides placement and the storage key order (persisted: do not change).
using Token = uint64_t;

Token token_of(std::string_view key);

}  // namespace qkv::ring
