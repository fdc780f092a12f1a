// JSON forms of client results, as qkvctl --json prints them, and the byte/text helpers
// they need (keys, values and causal contexts are arbitrary bytes; JSON strings are UTF-8).
//
// Shapes (pinned: scripts parse them):
//   get:    {"key":"k","siblings":[{"value":"v"},...],"context":"<base64>",
//            "replicas":[{"node":"n1","role":"primary"},{"node":"n4","role":"fallback"},..]}
//           (replicas: who answered, in the order asked; empty from a node older than it)
//           A key or value that is not valid UTF-8 is given in base64, with an
//           "encoding":"base64" field beside it: {"value":"3q2+7w==","encoding":"base64"}, and
//           for the key, "key_encoding":"base64" at the top level (a bare "encoding" there
//           would read as applying to the whole object). No siblings = missing or deleted.
//   ring, members, status: proto/client_json.h
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "common/base64.h"
#include "common/status.h"
#include "proto/client_api.h"
#include "proto/client_json.h"

namespace qkv::client {

// Moved to common/base64.h (shared with qkvd's HTTP API); kept here under their old names.
using ::qkv::base64_decode;
using ::qkv::base64_encode;

// Whether `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// Sets obj[field] to `bytes` as text when valid UTF-8, else to its base64 and
// obj[encoding_field] = "base64".
void set_bytes_field(nlohmann::json& obj, const std::string& field,
                     const std::string& encoding_field, std::string_view bytes);

nlohmann::json get_result_json(std::string_view key, const GetResult& result);

// The admin answers' JSON (ring, members, status...), shared with qkvd's /api/v1.
using proto::exchanges_json;
using proto::members_json;
using proto::repair_progress_json;
using proto::ring_json;
using proto::status_json;

// One JSON document on stdout, one line; invalid UTF-8 in strings is replaced.
void print_json(const nlohmann::json& j);
// A command's failure: {"error":{"code","message"}} on stdout with --json, else
// "error: ..." on stderr. Returns exit_code.
int print_failure(bool as_json, const Status& status, int exit_code = 1);

}  // namespace qkv::client
