#include "node/coordinator/quorum.h"

#include <fmt/format.h>

namespace qkv::coordinator {

Result<uint32_t> resolve_quorum(const char* name, uint32_t requested, uint32_t default_value,
                                uint32_t n) {
  uint32_t value = requested == 0 ? default_value : requested;
  if (value > n) {
    return Status::invalid_argument(fmt::format("{}={} exceeds n={}", name, value, n));
  }
  if (value == 0) return Status::invalid_argument(fmt::format("{} must be at least 1", name));
  return value;
}

Status check_primaries_required(uint32_t pr, uint32_t n) {
  if (pr <= n) return Status::ok();
  return Status::invalid_argument(fmt::format("pr={} exceeds n={}", pr, n));
}

Status check_replica_count(const char* kind, const char* name, uint32_t quorum,
                           std::size_t replicas) {
  if (quorum <= replicas) return Status::ok();
  return Status::unavailable(
      fmt::format("{} quorum not met: the cluster has {} replicas for the key, {}={} required",
                  kind, replicas, name, quorum));
}

}  // namespace qkv::coordinator
