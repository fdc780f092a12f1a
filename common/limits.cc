#include "common/limits.h"

#include <fmt/format.h>

namespace qkv {

Status Limits::check_key(uint64_t key_bytes) const {
  if (key_bytes == 0) return Status::invalid_argument("key is empty");
  if (key_bytes > key_bytes_max) {
    return Status::invalid_argument(
        fmt::format("key is {} bytes; key_bytes_max is {}", key_bytes, key_bytes_max));
  }
  return Status::ok();
}

Status Limits::check_value(uint64_t value_bytes) const {
  if (value_bytes > value_bytes_max) {
    return Status::invalid_argument(
        fmt::format("value is {} bytes; value_bytes_max is {}", value_bytes, value_bytes_max));
  }
  return Status::ok();
}

Status Limits::check_context(uint64_t context_bytes) const {
  if (context_bytes > context_bytes_max) {
    return Status::invalid_argument(fmt::format(
        "causal context is {} bytes; context_bytes_max is {}", context_bytes, context_bytes_max));
  }
  return Status::ok();
}

Status Limits::check_siblings(uint64_t siblings) const {
  if (siblings > siblings_max) {
    return Status::invalid_argument(fmt::format(
        "write refused: the key would hold {} siblings; siblings_max is {}. Read the key and "
        "write the resolved value with the read's causal context, which replaces the siblings "
        "it covers",
        siblings, siblings_max));
  }
  return Status::ok();
}

Status Limits::check_client_requests_in_flight(uint64_t in_flight) const {
  if (in_flight >= client_requests_in_flight_max) {
    return Status::overloaded(fmt::format(
        "this node is serving {} client requests; client_requests_in_flight_max is {}: retry "
        "after a backoff, or send to another node",
        in_flight, client_requests_in_flight_max));
  }
  return Status::ok();
}

Status Limits::validate() const {
  if (key_bytes_max == 0 || value_bytes_max == 0 || frame_bytes_max == 0) {
    return Status::invalid_argument("limits must be positive");
  }
  if (client_requests_in_flight_max == 0 || client_requests_per_connection_max == 0) {
    return Status::invalid_argument(
        "client_requests_in_flight_max and client_requests_per_connection_max must be at least 1");
  }
  if (siblings_max == 0 || siblings_warn > siblings_max) {
    return Status::invalid_argument(fmt::format(
        "siblings_max is {} and siblings_warn {}: siblings_max must be at least 1 and at least "
        "siblings_warn",
        siblings_max, siblings_warn));
  }
  // A replica write of a maximal key and value, with room for its metadata, must fit a frame.
  uint64_t needed = key_bytes_max + value_bytes_max + context_bytes_max + 64 * 1024;
  if (frame_bytes_max < needed) {
    return Status::invalid_argument(fmt::format(
        "frame_bytes_max is {} bytes; it must be at least key_bytes_max + value_bytes_max + "
        "context_bytes_max + 65536 = {} so a maximal write fits one frame",
        frame_bytes_max, needed));
  }
  return Status::ok();
}

}  // namespace qkv
