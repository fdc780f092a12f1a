// Status and Result<T>: errors are values (design.md §4.4).
//
// A Status is either ok or carries a code and a human-readable message that names
// the limit or the cause ("value is 17825792 bytes; value_bytes_max is 16777216").
// Codes travel on the wire and are persisted in logs: do not renumber.
//
// Thread-safety: values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace qkv {

// persisted: do not renumber (wire format, proto/common.capnp StatusCode).
enum class StatusCode : uint8_t {
  kOk = 0,
  kNotFound = 1,
  kInvalidArgument = 2,      // bad input: oversized key/value, malformed request, bad config
  kUnavailable = 3,          // a quorum could not be met; the message says how many answered
  kTimeout = 4,              // the deadline passed before an answer
  kCorruption = 5,           // bytes that do not decode (network or disk)
  kIoError = 6,              // the storage engine failed (full disk, permissions)
  kOverloaded = 7,           // a bounded queue is full; retry later
  kPermissionDenied = 8,     // the user lacks the grant the request needs; the message names it
  kUnauthenticated = 9,      // no user, or wrong credentials, where the node requires one
  kPreconditionFailed = 10,  // a conditional write's condition did not hold; nothing written
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok

  static Status ok() { return Status(); }
  static Status not_found(std::string message) {
    return {StatusCode::kNotFound, std::move(message)};
  }
  static Status invalid_argument(std::string message) {
    return {StatusCode::kInvalidArgument, std::move(message)};
  }
  static Status unavailable(std::string message) {
    return {StatusCode::kUnavailable, std::move(message)};
  }
  static Status timeout(std::string message) { return {StatusCode::kTimeout, std::move(message)}; }
  static Status corruption(std::string message) {
    return {StatusCode::kCorruption, std::move(message)};
  }
  static Status io_error(std::string message) { return {StatusCode::kIoError, std::move(message)}; }
  static Status overloaded(std::string message) {
    return {StatusCode::kOverloaded, std::move(message)};
  }
  static Status permission_denied(std::string message) {
    return {StatusCode::kPermissionDenied, std::move(message)};
  }
  static Status unauthenticated(std::string message) {
    return {StatusCode::kUnauthenticated, std::move(message)};
  }
  static Status precondition_failed(std::string message) {
    return {StatusCode::kPreconditionFailed, std::move(message)};
  }

  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "unavailable: write quorum not met: ..." (or "ok").
  std::string to_string() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T>: a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    QKV_ASSERT(!std::get<Status>(v_).is_ok());
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  // REQUIRES: is_ok().
  T& value() & {
    QKV_ASSERT(is_ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    QKV_ASSERT(is_ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    QKV_ASSERT(is_ok());
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Ok status when is_ok().
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace qkv

// Propagates a non-ok Status from an expression returning Status.
#define QKV_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::qkv::Status qkv_status_ = (expr);           \
    if (!qkv_status_.is_ok()) return qkv_status_; \
  } while (0)
