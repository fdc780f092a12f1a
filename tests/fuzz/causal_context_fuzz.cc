// libFuzzer harness: decode_context (node/wire/replica_codec.h), the opaque causal context
// a client hands back with a put or delete. A decoded context must round-trip.
#include "node/wire/replica_codec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  auto decoded = node::decode_context(fuzz::as_view(data, size));
  if (!decoded.is_ok()) return 0;
  auto again = node::decode_context(node::encode_context(decoded.value()));
  fuzz::fuzz_require(again.is_ok(), "a re-encoded causal context does not decode");
  fuzz::fuzz_require(again.value() == decoded.value(), "causal context round trip differs");
  return 0;
}
