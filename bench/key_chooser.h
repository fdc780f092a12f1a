// Key choice for qkv-bench, as YCSB does it (Cooper et al., "Benchmarking Cloud Serving
// Systems with YCSB", SoCC 2010):
// - uniform: every key index in [0, n) equally likely;
// - zipfian: YCSB's scrambled zipfian (constant 0.99): ranks drawn by the method of Gray et
//   al., "Quickly Generating Billion-Record Synthetic Databases" (SIGMOD 1994), then
//   scattered over the key space by a hash, so the hot keys are not neighbours on the ring.
//
// Deterministic for a given seed. Thread-safety: none; one chooser per thread.
#pragma once

#include <xxhash.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>

namespace qkv::bench {

enum class Distribution { kUniform, kZipfian };

class KeyChooser {
 public:
  static constexpr double kZipfianConstant = 0.99;  // YCSB's default

  // REQUIRES: n >= 1.
  KeyChooser(Distribution distribution, uint64_t n, uint64_t seed)
      : distribution_(distribution), n_(n), rng_(seed) {
    if (n == 0) throw std::invalid_argument("the key count must be >= 1");
    if (distribution_ == Distribution::kZipfian) {
      const double theta = kZipfianConstant;
      zetan_ = zeta(n_, theta);
      const double zeta2 = zeta(2, theta);
      alpha_ = 1.0 / (1.0 - theta);
      eta_ = (1 - std::pow(2.0 / static_cast<double>(n_), 1 - theta)) / (1 - zeta2 / zetan_);
      half_pow_theta_ = 1 + std::pow(0.5, theta);
    }
  }

  // The next key index in [0, n).
  uint64_t next() {
    if (distribution_ == Distribution::kUniform) {
      return std::uniform_int_distribution<uint64_t>(0, n_ - 1)(rng_);
    }
    const uint64_t rank = zipfian_rank();
    // Scatter the ranks (YCSB hashes them with FNV; any good 64-bit hash does).
    return XXH3_64bits(&rank, sizeof rank) % n_;
  }

  // A key index drawn uniformly (e.g. the offset of a value slice).
  uint64_t uniform(uint64_t bound) {
    return std::uniform_int_distribution<uint64_t>(0, bound - 1)(rng_);
  }

  // Rank 0 is the hottest; exposed for tests.
  uint64_t zipfian_rank() {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    const double uz = u * zetan_;
    if (uz < 1.0) return 0;
    if (uz < half_pow_theta_) return n_ > 1 ? 1 : 0;
    auto rank =
        static_cast<uint64_t>(static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1, alpha_));
    return rank < n_ ? rank : n_ - 1;
  }

 private:
  static double zeta(uint64_t n, double theta) {
    double sum = 0;
    for (uint64_t i = 1; i <= n; ++i) sum += 1.0 / std::pow(static_cast<double>(i), theta);
    return sum;
  }

  Distribution distribution_;
  uint64_t n_;
  std::mt19937_64 rng_;
  double zetan_ = 0, alpha_ = 0, eta_ = 0, half_pow_theta_ = 0;
};

// YCSB's key names: "user" and the index, zero-padded so keys sort like their indexes.
inline std::string key_name(uint64_t index) {
  std::string digits = std::to_string(index);
  return "user" + std::string(digits.size() < 10 ? 10 - digits.size() : 0, '0') + digits;
}

}  // namespace qkv::bench
