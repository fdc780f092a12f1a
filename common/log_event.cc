#include "common/log_event.h"

#include "common/assert.h"

namespace qkv {

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kCritical:
      return "critical";
  }
  return "info";
}

std::optional<std::string_view> LogEvent::field(std::string_view key) const {
  for (const LogField& f : fields_) {
    if (f.key == key) return f.value;
  }
  return std::nullopt;
}

void LogEvent::add(std::string_view key, std::string value) {
  // A line with a key twice is ambiguous to every reader: a bug in the code that built it.
  QKV_ASSERT(!field(key).has_value());
  fields_.push_back({key, std::move(value)});
}

std::string LogEvent::to_string() const {
  std::string out = "event=";
  out += event_;
  for (const LogField& f : fields_) {
    out += ' ';
    out += f.key;
    out += '=';
    out += logfmt_value(f.value);
  }
  return out;
}

namespace {

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

std::string logfmt_value(std::string_view value) {
  if (!needs_quotes(value)) return std::string(value);
  std::string out = "\"";
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace qkv
