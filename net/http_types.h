// An HTTP request and its answer as net/http_server.h hands them to a handler: plain
// values with no Asio, so handlers (node/http_api.h) stay sans-I/O and unit-testable.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace qkv::net {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // as sent: path and query, e.g. "/health/ready?settled=1"
  std::string path;    // the target before '?', e.g. "/health/ready"
  std::map<std::string, std::string> query;  // decoded query parameters ("settled" -> "1")
  // Header fields by lower-case name ("authorization"); a repeated field keeps its last value.
  std::map<std::string, std::string> headers;
  bool tls = false;  // it came over TLS
  // The connection it came on: unique per HttpServer, the same for every request of one
  // connection (HttpServer::set_on_close says when it closed).
  uint64_t connection = 0;
  std::string body;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
};

}  // namespace qkv::net
