#include "ring/token.h"

#include <xxhash.h>

namespace qkv::ring {

Token token_of(std::string_view key) {
  // XXH3_64bits uses seed 0; the value is persisted (storage key order), so never reseed.
  return XXH3_64bits(key.data(), key.size());
}

}  // namespace qkv::ring
