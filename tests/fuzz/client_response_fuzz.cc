// libFuzzer harness: decode_client_response (proto/client_codec.h), what the client SDK and
// qkvctl read from a node, and what a coordinator reads in a ForwardReply. A decoded
// response must encode and decode again to the same bytes.
#include "proto/client_codec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  auto frame = fuzz::as_words(data, size);
  auto decoded = proto::decode_client_response(frame);
  if (!decoded.is_ok()) return 0;
  auto first = proto::encode(decoded.value());
  auto again = proto::decode_client_response(first);
  fuzz::fuzz_require(again.is_ok(), "a re-encoded client response does not decode");
  auto second = proto::encode(again.value());
  fuzz::fuzz_require(fuzz::same_bytes(first, second), "client response round trip differs");
  return 0;
}
