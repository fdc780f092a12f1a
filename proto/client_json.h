// JSON forms of the admin answers (ring, members, status), as `qkvctl --json` prints them
// and qkvd's HTTP API (/api/v1, node/http_api.h) serves them. Shapes (pinned: scripts
// parse them; fields may be added):
//   ring:    {"partition_count":Q,"n":N,"nodes":[{"node":"n1","partitions":P,
//             "share_percent":S},...],"owners":["n1",...]}  (nodes sorted by id; owners[p]
//             owns partition p)
//   members: {"ring_version":V,"members":[{"id","peer_address","client_address",
//             "http_address","zone","status","up","phi","incarnation","partitions",
//             "hints_pending","hint_bytes_pending","ring_version"},...]}
//   status:  {"address":"host:port","up":true,"node_id":..,"incarnation":..,"version":..,
//             "uptime_ms":..,"n":..,"r":..,"w":..,"members":[..],"counters":{"name":value,..},
//             "repair":<repair progress>,"exchanges":[<partition exchange>,..]}
//   repair progress: {"running":false,"partitions_total":..,"partitions_done":..,
//             "partitions_failed":..,"keys_compared":..,"keys_repaired":..,"bytes_sent":..,
//             "last_error":""}
//   partition exchange: {"partition":P,"last_success_unix_ms":T}  (T 0 = never since start)
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>
#include <vector>

#include "proto/client_api.h"

namespace qkv::proto {

nlohmann::json ring_json(const RingResponse& ring);
nlohmann::json members_json(const MembersResponse& members);
nlohmann::json status_json(std::string_view address, const StatusResponse& status);
nlohmann::json repair_progress_json(const RepairProgress& progress);
nlohmann::json exchanges_json(const std::vector<PartitionExchange>& exchanges);
// [{"partition","source","keys","bytes","done","active"},...]
nlohmann::json transfers_json(const std::vector<TransferProgress>& transfers);

}  // namespace qkv::proto
