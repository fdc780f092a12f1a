// The bytes of an input the fuzz harnesses found (tests/fuzz/regressions/HARNESS/NAME), for
// the GoogleTest regression test beside the decoder's own tests (docs/fuzzing.md). The test
// target defines QKV_SOURCE_DIR (the repository root).
#pragma once

#include <capnp/common.h>
#include <gtest/gtest.h>
#include <kj/array.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace qkv::fuzz {

// The whole file; fails the test (and returns "") if it cannot be read.
inline std::string regression_input(const std::string& harness, const std::string& name) {
  const std::string path =
      std::string(QKV_SOURCE_DIR) + "/tests/fuzz/regressions/" + harness + "/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// As the harnesses hand bytes to a frame decoder: the whole words, word aligned.
inline kj::Array<capnp::word> regression_frame(const std::string& harness,
                                               const std::string& name) {
  const std::string bytes = regression_input(harness, name);
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  if (words.size() > 0)
    std::memcpy(words.begin(), bytes.data(), words.size() * sizeof(capnp::word));
  return words;
}

}  // namespace qkv::fuzz
