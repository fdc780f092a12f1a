// libFuzzer harness: decode_ring_state (node/wire/replica_codec.h), the ring qkvd saves in
// its meta column family and loads at start. A decoded ring must round-trip.
#include "node/wire/replica_codec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  auto decoded = node::decode_ring_state(fuzz::as_view(data, size));
  if (!decoded.is_ok()) return 0;
  auto again = node::decode_ring_state(node::encode_ring_state(decoded.value()));
  fuzz::fuzz_require(again.is_ok(), "a re-encoded ring does not decode");
  fuzz::fuzz_require(again.value() == decoded.value(), "ring round trip differs");
  return 0;
}
