// libFuzzer harness: MerkleTree::deserialize (antientropy/merkle_tree.h), the Merkle trees
// qkvd saves at a clean shutdown and loads at start. A loaded tree must serialize back to
// the very bytes it came from (the format has one encoding per tree).
#include "antientropy/merkle_tree.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  auto bytes = fuzz::as_view(data, size);
  auto tree = antientropy::MerkleTree::deserialize(bytes);
  if (!tree.is_ok()) return 0;
  fuzz::fuzz_require(tree.value().serialize() == bytes, "merkle tree round trip differs");
  (void)tree.value().root();
  return 0;
}
