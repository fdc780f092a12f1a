// libFuzzer harness: decode_sibling_set (node/wire/replica_codec.h), a key's state as
// stored in RocksDB's data column family. A decoded state must round-trip.
#include "node/wire/replica_codec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  auto decoded = node::decode_sibling_set(fuzz::as_view(data, size));
  if (!decoded.is_ok()) return 0;
  auto again = node::decode_sibling_set(node::encode_sibling_set(decoded.value()));
  fuzz::fuzz_require(again.is_ok(), "a re-encoded sibling set does not decode");
  fuzz::fuzz_require(again.value() == decoded.value(), "sibling set round trip differs");
  return 0;
}
