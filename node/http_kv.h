// The HTTP key-value API (docs/http-api.md) as two sans-I/O translations: an HTTP request on
// /v1/kv/{key} into the proto::ClientRequest the native client port would receive, and the
// node's proto::ClientResponse back into an HTTP answer. qkvd's Server (server_http_kv.cc)
// runs what is between: auth and grants, admission, the node core, forwarding.
//
//   GET|HEAD /v1/kv/{key}?r=&pr=&fanout=&timeout_ms= 200 value | 300 siblings (JSON) | 404
//   PUT      /v1/kv/{key}?w=&pw=&ttl=&timeout_ms=    body = the value; 204
//   DELETE   /v1/kv/{key}?w=&pw=&timeout_ms=         204
//
// The key is the rest of the path, percent-decoded (any bytes; "%2F" for '/', '+' is a
// plus). The causal context travels base64 (standard alphabet, padded) in X-Qkv-Context;
// If-None-Match: * asks put-if-absent, If-Match: <base64 context> put/delete-if-unchanged.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "net/http_types.h"
#include "proto/client_api.h"

namespace qkv::node {

// Requests whose target starts with this are the key-value API's.
inline constexpr std::string_view kHttpKvPrefix = "/v1/kv/";

// Whether the key-value API serves `method` (GET, HEAD, PUT, DELETE).
bool http_kv_method_allowed(std::string_view method);
// The 405 answer to any other method, with Allow: GET, HEAD, PUT, DELETE.
net::HttpResponse http_kv_method_not_allowed(std::string_view method);

// The client request `request` asks for (request_id 0: the caller numbers it). `n` is the
// node's replication factor: r, pr and w are at most n. Key, value and context sizes are left
// to the node's checks (node/key_request.h), as for the native port.
// REQUIRES: request.target starts with kHttpKvPrefix and http_kv_method_allowed(method).
// Errors: invalid_argument naming what is wrong: an empty key or a malformed %-escape, a query
// parameter unknown to the method or out of its range ("w=9 exceeds n=3"), a context header
// that is not base64, If-None-Match other than * (or on DELETE), If-Match with a different
// X-Qkv-Context, both conditional headers at once.
Result<proto::ClientRequest> parse_http_kv(const net::HttpRequest& request, uint32_t n);

// The HTTP answer to the node's answer to a request parse_http_kv built: 200 (one value),
// 300 (siblings, JSON), 204 (a write), or http_kv_error's; X-Qkv-Context on every success and
// on a 404 that carries a context.
net::HttpResponse http_kv_response(const proto::ClientResponse& response);

// The error answer to `status` (not ok): JSON {"code":"<status code name>","message":...};
// invalid_argument 400 (413 when the message names value_bytes_max or key_bytes_max),
// unauthenticated 401 (with WWW-Authenticate), permission_denied 403, not_found 404,
// precondition_failed 412, overloaded 429 (with Retry-After: 1), unavailable 503, timeout
// 504, anything else 500.
net::HttpResponse http_kv_error(const Status& status);

}  // namespace qkv::node
