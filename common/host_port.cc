#include "common/host_port.h"

#include <fmt/format.h>

#include <algorithm>

namespace qkv {
namespace {

constexpr uint32_t kPortMax = 65535;

Status refused(std::string_view what, std::string_view text, std::string_view rule) {
  return Status::invalid_argument(fmt::format("{} '{}': {}", what, text, rule));
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<HostPort> parse_host_port(std::string_view text, std::string_view what, bool allow_zero) {
  constexpr std::string_view kExample = "write host:port, e.g. 127.0.0.1:7000";
  if (text.empty()) return refused(what, text, fmt::format("empty; {}", kExample));
  if (std::any_of(text.begin(), text.end(), is_space)) {
    return refused(what, text, "contains whitespace");
  }
  std::string_view host, port;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return refused(what, text, "an IPv6 address needs its closing ']', e.g. [::1]:7000");
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return refused(what, text, fmt::format("the port is missing; {}", kExample));
    if (rest.front() != ':') return refused(what, text, "expected ':port' after ']'");
    port = rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return refused(what, text, fmt::format("the port is missing; {}", kExample));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return refused(what, text, "an IPv6 address goes in brackets, e.g. [::1]:7000");
    }
  }
  if (host.empty()) return refused(what, text, fmt::format("the host is missing; {}", kExample));
  if (port.empty()) return refused(what, text, fmt::format("the port is missing; {}", kExample));
  const uint32_t port_min = allow_zero ? 0 : 1;
  const std::string range = fmt::format("ports are {}..{}", port_min, kPortMax);
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return refused(what, text, fmt::format("port '{}' is not a number; {}", port, range));
  }
  uint64_t value = 0;
  for (char c : port) {
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > kPortMax) break;  // out of range already; no overflow on long digit strings
  }
  if (value > kPortMax || value < port_min) {
    return refused(what, text, fmt::format("port {} is out of range; {}", port, range));
  }
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

bool is_unspecified_host(std::string_view host) {
  // Only zeros, dots and colons: 0.0.0.0 (INADDR_ANY) or :: (in6addr_any), however written.
  return std::all_of(host.begin(), host.end(),
                     [](char c) { return c == '0' || c == '.' || c == ':'; });
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  // 127.a.b.c, every part decimal.
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

}  // namespace qkv
