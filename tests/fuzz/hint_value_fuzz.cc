// libFuzzer harness: decode_hint_value and decode_hint_created (node/handoff/hint_value.h),
// a hint as stored in RocksDB's hints column family. A decoded hint must round-trip.
#include "node/handoff/hint_value.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  auto bytes = fuzz::as_view(data, size);
  auto created = handoff::decode_hint_created(bytes);
  auto decoded = handoff::decode_hint_value(bytes);
  if (!decoded.is_ok()) return 0;
  fuzz::fuzz_require(created.is_ok() && created.value() == decoded.value().created_unix_ms,
                     "decode_hint_created disagrees with decode_hint_value");
  const auto& hint = decoded.value();
  auto again =
      handoff::decode_hint_value(handoff::encode_hint_value(hint.created_unix_ms, hint.state));
  fuzz::fuzz_require(again.is_ok(), "a re-encoded hint does not decode");
  fuzz::fuzz_require(
      again.value().created_unix_ms == hint.created_unix_ms && again.value().state == hint.state,
      "hint round trip differs");
  return 0;
}
