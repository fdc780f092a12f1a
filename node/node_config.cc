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
  return limits.validate();
}

}  // namespace qkv::node
