// TokenBucket: a rate limit with bursts. Holds at most `burst` tokens, refilled at
// `rate_per_second`; starts full. Time comes in as arguments (common/clock.h), so the same
// code runs under the simulation's clock and the process's.
//
// Two ways to spend: try_take(n) takes n only if that many are held (admission: a request
// over the rate is refused), spend(n) always takes and may leave the bucket in debt, which
// later refills repay (pacing: a batch is sent whole, and the next waits longer).
//
// Thread-safety: none.
#pragma once

#include <algorithm>
#include <chrono>

#include "common/clock.h"

namespace qkv {

class TokenBucket {
 public:
  // REQUIRES: rate_per_second > 0, burst > 0.
  TokenBucket(double rate_per_second, double burst)
      : rate_per_second_(rate_per_second), burst_(burst), tokens_(burst) {}

  // Adds what accrued since the last refill, up to burst. The first call only notes the
  // time. A clock that goes back adds nothing.
  void refill(TimePoint now) {
    if (refilled_at_ != TimePoint{} && now > refilled_at_) {
      const double seconds = std::chrono::duration<double>(now - refilled_at_).count();
      tokens_ = std::min(burst_, tokens_ + seconds * rate_per_second_);
    }
    refilled_at_ = std::max(refilled_at_, now);
  }

  // Takes `n` tokens if at least that many are held; false (nothing taken) otherwise.
  bool try_take(double n = 1) {
    if (tokens_ < n) return false;
    tokens_ -= n;
    return true;
  }
  void spend(double n) { tokens_ -= n; }
  // True while any token is held (not in debt, not empty).
  bool has_tokens() const { return tokens_ > 0; }
  double tokens() const { return tokens_; }

 private:
  double rate_per_second_;
  double burst_;
  double tokens_;
  TimePoint refilled_at_{};
};

}  // namespace qkv
