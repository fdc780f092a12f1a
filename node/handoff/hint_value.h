// The stored value of a hint (storage::Storage::put_hint; RocksDB column family "hints").
//
// Layout (persisted: do not change):
//
//   byte 0..7   created_unix_ms: wall-clock milliseconds since the Unix epoch when the
//               hint was first stored, as a big-endian two's-complement int64. Joining a
//               later write into the hint keeps the oldest time, so a hint's age is that
//               of its oldest write (what hint_age_max bounds).
//   byte 8..    the key's state, encode_sibling_set (node/wire/replica_codec.h)
//
// Wall-clock, not monotonic, time: hints outlive restarts, and a monotonic clock restarts
// with the machine.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "causal/sibling_set.h"
#include "common/status.h"

namespace qkv::handoff {

// Bytes before the encoded state.
inline constexpr std::size_t kHintHeaderBytes = 8;

struct HintValue {
  int64_t created_unix_ms = 0;
  causal::SiblingSet state;
};

std::string encode_hint_value(int64_t created_unix_ms, const causal::SiblingSet& state);

// Only the creation time (cheap: the state is not decoded).
// Errors: corruption if value is shorter than kHintHeaderBytes.
Result<int64_t> decode_hint_created(std::string_view value);

// Errors: corruption if value is short or its state does not decode.
Result<HintValue> decode_hint_value(std::string_view value);

}  // namespace qkv::handoff
