// Latencies: the node core's latency histograms (GET /metrics shows them, node/metrics.h).
//
//   - get, put: requests this node coordinated (deletes are puts), from the moment the
//     request reached this node (from a client or in a Forward) to its answer, by the
//     answer's status code (ok, not_found, timeout, unavailable, overloaded...);
//   - forward: requests this node forwarded to a primary, from the client's request to the
//     answer relayed back, whatever the outcome;
//   - replica_write: a replica's ack of a coordinated put, from the write's staging to the
//     ack (the coordinator's view, as coordinator/replica_latency.h keeps per replica);
//   - storage_commit: one group commit's storage write (node/replica.h); with the commit
//     pipeline, from its hand-over to the storage thread until the core hears of its end.
//
// The core's TimePoint has millisecond resolution, too coarse for a store whose requests
// take a millisecond, so latencies come from a separate monotonic microsecond source that
// the driver injects (qkvd: steady_clock). Without one (unit tests, the simulation) nothing
// is recorded.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <utility>

#include "common/latency_histogram.h"
#include "common/status.h"

namespace qkv::node {

// What a request's answer measures (node/in_flight.h ReplyTo::measured).
enum class Measured : uint8_t { kNone, kGet, kPut, kForward };

class Latencies {
 public:
  // The outcomes the node core answers with (permission_denied and unauthenticated come
  // from the Server before a request reaches it, and are counted there).
  static constexpr std::size_t kCodes =
      static_cast<std::size_t>(StatusCode::kPreconditionFailed) + 1;

  // Monotonic microseconds; unset: now_us() is 0 and nothing is recorded.
  void set_source(std::function<int64_t()> monotonic_us) { source_ = std::move(monotonic_us); }
  bool enabled() const { return static_cast<bool>(source_); }
  int64_t now_us() const { return source_ ? source_() : 0; }

  // An answer to a request received at `received_us` (now_us() then).
  void on_answer(Measured what, int64_t received_us, StatusCode code) {
    if (!enabled() || what == Measured::kNone) return;
    const int64_t latency = now_us() - received_us;
    const auto c = static_cast<std::size_t>(code);
    switch (what) {
      case Measured::kGet:
        if (c < kCodes) get_[c].observe(latency);
        return;
      case Measured::kPut:
        if (c < kCodes) put_[c].observe(latency);
        return;
      case Measured::kForward:
        forward_.observe(latency);
        return;
      case Measured::kNone:
        return;
    }
  }
  // A replica's ack of a write staged at `staged_us`.
  void on_replica_ack(int64_t staged_us) {
    if (enabled()) replica_write_.observe(now_us() - staged_us);
  }
  // A storage commit that began at `began_us` and ends now.
  void on_commit(int64_t began_us) {
    if (enabled()) storage_commit_.observe(now_us() - began_us);
  }

  // By StatusCode (index = the code's value).
  const std::array<LatencyHistogram, kCodes>& get() const { return get_; }
  const std::array<LatencyHistogram, kCodes>& put() const { return put_; }
  const LatencyHistogram& forward() const { return forward_; }
  const LatencyHistogram& replica_write() const { return replica_write_; }
  const LatencyHistogram& storage_commit() const { return storage_commit_; }

 private:
  std::function<int64_t()> source_;
  std::array<LatencyHistogram, kCodes> get_{}, put_{};
  LatencyHistogram forward_, replica_write_, storage_commit_;
};

}  // namespace qkv::node
