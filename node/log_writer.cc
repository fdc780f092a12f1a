#include "node/log_writer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace qkv::node {
namespace {

// "2024-05-01T12:00:00.123Z".
std::string rfc3339_ms(int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> at{milliseconds(unix_ms)};
  const sys_days day = floor<days>(at);
  const year_month_day date{day};
  const hh_mm_ss time{at - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time.hours().count(), time.minutes().count(), time.seconds().count(),
                     time.subseconds().count());
}

spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kCritical:
      return spdlog::level::critical;
  }
  return spdlog::level::info;
}

// Set once by set_up_log() before other threads start; only read afterwards.
struct LogSettings {
  LogFormat format = LogFormat::kLogfmt;
  std::string node;
};

LogSettings& settings() {
  static LogSettings s;
  return s;
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "logfmt") return LogFormat::kLogfmt;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::string format_log_line(const LogEvent& event, LogFormat format, std::string_view node,
                            int64_t unix_ms) {
  const std::string ts = rfc3339_ms(unix_ms);
  if (format == LogFormat::kJson) {
    nlohmann::ordered_json line;
    line["ts"] = ts;
    line["level"] = log_level_name(event.level());
    line["node"] = node;
    line["event"] = event.event();
    for (const LogField& f : event.fields()) line[std::string(f.key)] = f.value;
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return fmt::format("ts={} level={} node={} {}", ts, log_level_name(event.level()),
                     logfmt_value(node), event.to_string());
}

void set_up_log(LogFormat format, std::string node, const std::string& level) {
  settings() = LogSettings{format, std::move(node)};
  spdlog::set_pattern("%v");  // the line is whole already
  spdlog::set_level(spdlog::level::from_str(level));
}

void log_event(const LogEvent& event) {
  const spdlog::level::level_enum level = spdlog_level(event.level());
  if (!spdlog::should_log(level)) return;
  const int64_t unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  const LogSettings& s = settings();
  spdlog::log(level, "{}", format_log_line(event, s.format, s.node, unix_ms));
}

}  // namespace qkv::node
