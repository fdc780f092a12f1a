// Time as a parameter (design.md §3): cores take `TimePoint now`; only SystemClock
// reads the real (monotonic) clock, and only node/main.cc constructs one.
//
// Units: milliseconds throughout. TimePoint is monotonic, not wall-clock time.
#pragma once

#include <chrono>

namespace qkv {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

// Field-less interface; implementations are final. Thread-safety: implementations
// below are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// The monotonic clock of the machine (std::chrono::steady_clock), truncated to ms.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

// A clock that moves only when told: for unit tests and the simulation.
// Not thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint(Duration(0))) : now_(start) {}
  TimePoint now() const override { return now_; }
  void advance(Duration d) { now_ += d; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

}  // namespace qkv
