// Helpers shared by the libFuzzer harnesses (docs/fuzzing.md). A harness calls one decoder
// on the input; a typed error is the expected answer to bad bytes. What a harness reports
// as a crash: a sanitizer finding, an abort (QKV_ASSERT on outside input is a bug), or a
// broken round trip checked with fuzz_require.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace qkv::fuzz {

// Stops the run with `what` when `ok` is false; libFuzzer saves the input as a crash.
inline void fuzz_require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

inline std::string_view as_view(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input's whole words, copied to word-aligned memory (a frame as the framing hands it
// to a decoder is always whole words; a trailing partial word is dropped).
inline kj::Array<capnp::word> as_words(const uint8_t* data, std::size_t size) {
  auto words = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
  if (words.size() > 0) std::memcpy(words.begin(), data, words.size() * sizeof(capnp::word));
  return words;
}

inline bool same_bytes(kj::ArrayPtr<const capnp::word> a, kj::ArrayPtr<const capnp::word> b) {
  return a.size() == b.size() &&
         (a.size() == 0 || std::memcmp(a.begin(), b.begin(), a.size() * sizeof(capnp::word)) == 0);
}

}  // namespace qkv::fuzz
