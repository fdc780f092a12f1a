// The one host:port parser (design.md §2), used by qkvd (listen and advertise addresses,
// members, seeds, gossiped peer addresses) and by qkvctl and the client SDK (--cluster,
// Options::nodes), so both ends accept and refuse the same addresses with the same words.
//
// Accepted: "host:port" where host is a name ("localhost", "db-1.example.com") or an IPv4
// address, and "[v6]:port" with an IPv6 address in brackets ("[::1]:7000"; the brackets
// are not part of HostPort::host). The port is decimal, 1..65535 (0 too where the caller
// allows it: "pick a free port").
//
// Thread-safety: pure functions and values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace qkv {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;

  // "host:port", or "[v6]:port" when host holds a ':' (so parse_host_port reads it back).
  std::string to_string() const;

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// Parses `text` as above. Errors, invalid_argument starting with `what` and the text, then
// the rule broken, e.g.
//   "--cluster entry '127.0.0.1:99999': port 99999 is out of range; ports are 1..65535"
//   "--cluster entry '127.0.0.1': the port is missing; write host:port, e.g. 127.0.0.1:7000"
// Refused: an empty text or host, a missing or non-decimal port, a port out of range,
// whitespace anywhere, an IPv6 address without brackets ("::1:7000" is ambiguous).
Result<HostPort> parse_host_port(std::string_view text, std::string_view what,
                                 bool allow_zero = false);

// True for a host that names no one machine: empty, or the unspecified address in any
// spelling ("0.0.0.0", "::", "0:0::0", "0"): fine to listen on (every interface), never to
// give to others as where to reach this node (to them it would be themselves).
bool is_unspecified_host(std::string_view host);

// True for a host only this machine reaches: "localhost", 127.0.0.0/8, ::1. A name other
// than localhost is not (it may resolve to anything).
bool is_loopback_host(std::string_view host);

}  // namespace qkv
