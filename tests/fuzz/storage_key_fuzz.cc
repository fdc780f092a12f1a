// libFuzzer harness: decode_data_key and decode_hint_key (node/storage/key_codec.h), the
// keys read back from RocksDB's data and hints column families. A decoded key must encode
// back to the very bytes it came from.
#include "node/storage/key_codec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  auto bytes = fuzz::as_view(data, size);
  if (auto key = storage::decode_data_key(bytes); key.is_ok()) {
    auto [token, user_key] = key.value();
    fuzz::fuzz_require(storage::encode_data_key(token, user_key) == bytes,
                       "data key round trip differs");
  }
  if (auto hint = storage::decode_hint_key(bytes); hint.is_ok()) {
    const auto& h = hint.value();
    fuzz::fuzz_require(storage::encode_hint_key(h.target, h.token, h.key) == bytes,
                       "hint key round trip differs");
  }
  return 0;
}
