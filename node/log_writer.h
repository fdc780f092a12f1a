// qkvd's log writer (issue 14): the one place a log line is formatted. Every line is a
// LogEvent (common/log_event.h), written as logfmt or, with `[log] format = "json"`, as one
// JSON object per line; docs/operations.md ("Log events") lists the events.
//
//   ts=2024-05-01T12:00:00.123Z level=warn node=n1 event=node_down peer=n2 phi=8.5
//   {"ts":"2024-05-01T12:00:00.123Z","level":"warn","node":"n1","event":"node_down",
//    "peer":"n2","phi":"8.5"}
//
// ts (RFC 3339, UTC, milliseconds), level, node (the node writing) and event come first,
// then the event's fields in order; no key appears twice. logfmt values are escaped as
// logfmt_value() says; JSON values are all strings (a 64-bit id would lose digits as a JSON
// number), with bytes that are not UTF-8 replaced by U+FFFD.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/log_event.h"

namespace qkv::node {

enum class LogFormat { kLogfmt, kJson };

// "logfmt" or "json"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view name);

// `event` as one line (no newline), written by `node` at `unix_ms` (ms since the Unix
// epoch, UTC). Pure.
std::string format_log_line(const LogEvent& event, LogFormat format, std::string_view node,
                            int64_t unix_ms);

// qkvd's log: spdlog's default logger is the sink (stdout, the level filter, whole lines
// from concurrent threads); it is given each line as it is. Call once, before any other
// thread starts; `level` is a `log.level` value (trace, debug, info, warn, error, critical,
// off), validated by DaemonConfig.
void set_up_log(LogFormat format, std::string node, const std::string& level);

// Writes `event`, stamped now, if its level is enabled. Thread-safe after set_up_log().
void log_event(const LogEvent& event);

}  // namespace qkv::node
