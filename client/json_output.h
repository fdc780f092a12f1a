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
//   ring:   {"partition_count":Q,"n":N,"nodes":[{"node":"n1","partitions":P,
//            "share_percent":S},...],"owners":["n1",...]}  (nodes sorted by id; owners[p] owns
//            partition p)
//   status: {"address":"host:port","up":true,"node_id":..,"incarnation":..,"version":..,
//            "uptime_ms":..,"n":..,"r":..,"w":..,"members":[..],"counters":{"name":value,..},
//            "repair":<repair progress>,"exchanges":[<partition exchange>,..]}
//   repair progress: {"running":false,"partitions_total":..,"partitions_done":..,
//            "partitions_failed":..,"keys_compared":..,"keys_repaired":..,"bytes_sent":..,
//            "last_error":""}
//   partition exchange: {"partition":P,"last_success_unix_ms":T}  (T 0 = never since start)
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "common/status.h"
#include "proto/client_api.h"

namespace qkv::client {

// RFC 4648 base64, standard alphabet, with '=' padding.
std::string base64_encode(std::string_view bytes);

// Decodes RFC 4648 base64 (standard alphabet). Padding is optional; whitespace is not allowed.
// invalid_argument naming the offending position when `text` is not base64.
Result<std::string> base64_decode(std::string_view text);

// Whether `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// Sets obj[field] to `bytes` as text when valid UTF-8, else to its base64 and
// obj[encoding_field] = "base64".
void set_bytes_field(nlohmann::json& obj, const std::string& field,
                     const std::string& encoding_field, std::string_view bytes);

nlohmann::json get_result_json(std::string_view key, const GetResult& result);

nlohmann::json ring_json(const proto::RingResponse& ring);

nlohmann::json members_json(const proto::MembersResponse& members);
nlohmann::json status_json(std::string_view address, const proto::StatusResponse& status);
nlohmann::json repair_progress_json(const proto::RepairProgress& progress);
nlohmann::json exchanges_json(const std::vector<proto::PartitionExchange>& exchanges);

// One JSON document on stdout, one line; invalid UTF-8 in strings is replaced.
void print_json(const nlohmann::json& j);
// A command's failure: {"error":{"code","message"}} on stdout with --json, else
// "error: ..." on stderr. Returns exit_code.
int print_failure(bool as_json, const Status& status, int exit_code = 1);

}  // namespace qkv::client
