#include "node/node_config.h"

#include <fmt/format.h>

namespace qkv::node {

Status NodeConfig::validate() const {
  QKV_RETURN_IF_ERROR(validate_node_id(node_id));
  if (n < 1 || n > 16) return Status::invalid_argument(fmt::format("n={} must be in 1..16", n));
  if (r < 1 || r > n)
    return Status::invalid_argument(fmt::format("r={} must be in 1..n (n={})", r, n));
  if (w < 1 || w > n)
    return Status::invalid_argument(fmt::format("w={} must be in 1..n (n={})", w, n));
  if (request_timeout.count() <= 0) {
    return Status::invalid_argument("request_timeout_ms must be positive");
  }
  if (request_timeout_max < request_timeout) {
    return Status::invalid_argument(
        fmt::format("request_timeout_max_ms ({}) is below request_timeout_ms ({})",
                    request_timeout_max.count(), request_timeout.count()));
  }
  if (clock_skew_max.count() < 0) {
    return Status::invalid_argument("clock_skew_max_ms must not be negative");
  }
  if (stand_in_alarm_min.count() < 1) {
    return Status::invalid_argument("stand_in_alarm_min_ms must be at least 1");
  }
  QKV_RETURN_IF_ERROR(anti_entropy.validate());
  QKV_RETURN_IF_ERROR(transfer.validate());
  QKV_RETURN_IF_ERROR(tombstones.validate(request_timeout_max + clock_skew_max));
  return limits.validate();
}

}  // namespace qkv::node

namespace qkv::node {

Status TombstoneConfig::validate(Duration in_flight_max) const {
  if (grace <= in_flight_max) {
    return Status::invalid_argument(
        fmt::format("tombstones.grace_ms ({}) must exceed timeouts.request_timeout_max_ms plus "
                    "timeouts.clock_skew_max_ms ({}): a write still in flight could bring a reaped "
                    "value back",
                    grace.count(), in_flight_max.count()));
  }
  if (checks_per_second_max < 1 || checks_in_flight_max < 1) {
    return Status::invalid_argument(
        "tombstones.checks_per_second_max and checks_in_flight_max must be at least 1");
  }
  if (check_timeout.count() < 1 || retry_interval.count() < 1) {
    return Status::invalid_argument(
        "tombstones.check_timeout_ms and retry_interval_ms must be at least 1");
  }
  if (sweep_interval.count() < 0) {
    return Status::invalid_argument("tombstones.sweep_interval_ms must not be negative");
  }
  return Status::ok();
}

}  // namespace qkv::node
