// The seed of a randomized test: QKV_TEST_SEED from the environment, else a fixed value,
// so every run of the suite is the same run and a failure's printed seed reproduces it
// (QKV_TEST_SEED=<seed> ctest -R <test>). Sweep seeds by setting it in a loop.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

namespace qkv::testing {

inline uint64_t test_seed(uint64_t fixed = 20261121) {
  const char* env = std::getenv("QKV_TEST_SEED");
  return env != nullptr ? std::stoull(env) : fixed;
}

}  // namespace qkv::testing
