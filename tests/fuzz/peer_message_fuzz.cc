// libFuzzer harness: decode_peer_message (node/wire/replica_codec.h), what a node reads from
// every peer frame: replica reads and writes, forwards, anti-entropy, transfers, link pings
// and gossip (Syn, Ack, Ack2 with node states and rings: node/wire/gossip_codec.h). A
// decoded message must encode and decode again to the same bytes.
#include "node/wire/replica_codec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  auto frame = fuzz::as_words(data, size);
  auto decoded = node::decode_peer_message(frame);
  if (!decoded.is_ok()) return 0;
  auto first = node::encode(decoded.value());
  auto again = node::decode_peer_message(first);
  fuzz::fuzz_require(again.is_ok(), "a re-encoded peer message does not decode");
  auto second = node::encode(again.value());
  fuzz::fuzz_require(fuzz::same_bytes(first, second), "peer message round trip differs");
  return 0;
}
