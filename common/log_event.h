// LogEvent: one log line as a value (issue 14): a level, an event name from the stable list
// (common/log_events.h) and key=value fields in the order they were added. The sans-I/O
// cores return LogEvents instead of logging (they know no logger); qkvd's writer
// (node/log_writer.h) prints each as one logfmt or JSON line after the keys it writes
// itself: ts, level, node, event.
//
//   LogEvent::warn("node_down").with("peer", id).with("phi", fmt::format("{:.1f}", phi))
//
// Keys are checked when the code compiles (LogKey): lowercase ASCII letters, digits and
// '_', starting with a letter, at most 64 bytes, and none of the writer's own keys (ts,
// level, node, event: another node named in an event is `peer`, `member`, `target`, ...).
// So is the event name (LogEventName): it must be on the stable list. A key added twice to
// one event is a bug (QKV_ASSERT): a line never carries a key twice. Values are any bytes
// (the writer escapes them), anything fmt formats, or a Status (its to_string()).
//
// Thread-safety: a value type.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/log_events.h"
#include "common/status.h"

namespace qkv {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError, kCritical };

// "debug", "info", "warn", "error", "critical" (the `level=` of a line).
std::string_view log_level_name(LogLevel level);

// The keys every line starts with, written by the writer, never by an event.
constexpr bool is_reserved_log_key(std::string_view key) {
  return key == "ts" || key == "level" || key == "node" || key == "event";
}

// A field key an event may use (see above).
constexpr bool is_log_key(std::string_view key) {
  if (key.empty() || key.size() > 64 || key.front() < 'a' || key.front() > 'z') return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return !is_reserved_log_key(key);
}

constexpr bool is_log_event_name(std::string_view name) {
  return std::find(kLogEventNames.begin(), kLogEventNames.end(), name) != kLogEventNames.end();
}

// A field key, checked at compile time: a string literal breaking the rules above does not
// compile ("not a constant expression", pointing at the throw below).
class LogKey {
 public:
  consteval LogKey(const char* key) : key_(key) {  // NOLINT: implicit from a literal on purpose
    if (!is_log_key(key_)) throw "log key: [a-z][a-z0-9_]*, and not ts, level, node or event";
  }
  constexpr std::string_view str() const { return key_; }

 private:
  std::string_view key_;  // a string literal: lives as long as the program
};

// An event name, checked at compile time against kLogEventNames (common/log_events.h).
class LogEventName {
 public:
  consteval LogEventName(const char* name) : name_(name) {  // NOLINT: implicit on purpose
    if (!is_log_event_name(name_)) throw "log event name: add it to common/log_events.h";
  }
  constexpr std::string_view str() const { return name_; }

 private:
  std::string_view name_;
};

struct LogField {
  std::string_view key;  // from a LogKey: a string literal
  std::string value;
  friend bool operator==(const LogField&, const LogField&) = default;
};

class LogEvent {
 public:
  LogEvent(LogLevel level, LogEventName event) : level_(level), event_(event.str()) {}
  static LogEvent debug(LogEventName event) { return {LogLevel::kDebug, event}; }
  static LogEvent info(LogEventName event) { return {LogLevel::kInfo, event}; }
  static LogEvent warn(LogEventName event) { return {LogLevel::kWarn, event}; }
  static LogEvent error(LogEventName event) { return {LogLevel::kError, event}; }
  static LogEvent critical(LogEventName event) { return {LogLevel::kCritical, event}; }

  // Adds `key`=`value` after the fields already added. REQUIRES: `key` not added yet.
  template <typename T>
  LogEvent& with(LogKey key, const T& value) & {
    add(key.str(), to_value(value));
    return *this;
  }
  template <typename T>
  LogEvent with(LogKey key, const T& value) && {
    add(key.str(), to_value(value));
    return std::move(*this);
  }

  LogLevel level() const { return level_; }
  std::string_view event() const { return event_; }
  const std::vector<LogField>& fields() const { return fields_; }
  // The value of field `key`, if the event has it.
  std::optional<std::string_view> field(std::string_view key) const;

  // "event=<name> key=value ...": the logfmt line without the writer's ts, level and node
  // (the simulation's trace, tests).
  std::string to_string() const;

 private:
  void add(std::string_view key, std::string value);
  template <typename T>
  static std::string to_value(const T& value) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      return std::string(std::string_view(value));
    } else if constexpr (std::is_same_v<T, Status>) {
      return value.to_string();
    } else {
      return fmt::format("{}", value);
    }
  }

  LogLevel level_;
  std::string_view event_;  // from a LogEventName: a string literal
  std::vector<LogField> fields_;
};

// A value as logfmt writes it: as it is when it is a non-empty run of bytes other than
// space, '=', '"', '\\' and control bytes (below 0x20, and 0x7f); otherwise in double
// quotes, with '"' and '\\' escaped by a backslash, \n \r \t for those, and \u00XX for the
// other control bytes. Bytes from 0x80 (UTF-8) are kept as they are.
std::string logfmt_value(std::string_view value);

}  // namespace qkv
