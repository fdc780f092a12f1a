// What qkvctl prints about anti-entropy: `qkvctl repair` (progress line, summary table, JSON
// report) and the anti-entropy lines of `qkvctl status`, plus the text helpers they need
// (ages, byte sizes, counts).
//
// Ages compare a node's unix-ms timestamps with the caller's `now_unix_ms`: clocks of
// different hosts disagree, so an age can be off by their skew; a timestamp ahead of `now`
// shows as age 0.
//
// repair --json shape (pinned: scripts parse it):
//   {"nodes":[{"address":"host:port","node_id":"n1","accepted":true,"partitions_queued":Q,
//              "error":"",<the repair_progress_json fields>},...],
//    "total":{"nodes":N,"partitions_queued":Q,<the repair_progress_json fields, summed;
//             "running" if any is, "last_error" the last non-empty one>},
//    "ok":true,"timed_out":false}
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/client_api.h"

namespace qkv::client {

// "0s", "59s", "4m", "2h", "3d": the largest whole unit (floor). Negative ages show as "0s".
std::string age_text(int64_t ms);

// "0 B", "1023 B", "1.0 KiB", "1.2 MiB", "3.5 GiB", "2.0 TiB" (binary units, one decimal).
std::string byte_size_text(uint64_t bytes);

// Digits grouped in thousands with commas: "3,400", "1,234,567".
std::string count_text(uint64_t n);

// "partitions 12/256 (1 failed)  keys compared 3,400  repaired 120  sent 1.2 MiB"; the
// "(N failed)" part only when N > 0.
std::string repair_progress_text(const proto::RepairProgress& progress);

// The sum of several nodes' repairs: counts added, running if any is, last_error the last
// non-empty one.
proto::RepairProgress sum_progress(const std::vector<proto::RepairProgress>& progress);

// The newest and oldest successful exchange over a node's partitions.
struct ExchangeAges {
  std::size_t partitions = 0;
  std::size_t never = 0;                 // partitions with no successful exchange since start
  std::optional<int64_t> newest_age_ms;  // nullopt when every partition is `never`
  std::optional<int64_t> oldest_age_ms;  // of the exchanged ones (`never` counted apart)
};
ExchangeAges exchange_ages(const std::vector<proto::PartitionExchange>& exchanges,
                           int64_t now_unix_ms);

// "anti-entropy: 86 partitions, last exchanged: newest 3s ago, oldest 2h ago, never: 0"
// ("newest -, oldest -" when none was exchanged; "anti-entropy: 0 partitions" alone).
std::string anti_entropy_line(const std::vector<proto::PartitionExchange>& exchanges,
                              int64_t now_unix_ms);

// One line per partition, in the order given: "  <partition>  <age> ago" or "never".
// Starts with a header line.
std::string exchanges_table(const std::vector<proto::PartitionExchange>& exchanges,
                            int64_t now_unix_ms);

// One target of `qkvctl repair`, as last seen.
struct NodeRepair {
  std::string address;             // as given in --cluster
  std::string node_id;             // from its status; empty until it answered one
  bool accepted = false;           // it answered the RepairRequest ok
  uint32_t partitions_queued = 0;  // RepairResponse::partitions
  proto::RepairProgress progress;  // its status' repair, once polled
  std::string error;  // why the request or the status polling failed; empty if neither did

  // Whether every queued partition of it was exchanged successfully: accepted, no error,
  // not running, all done and none failed.
  bool succeeded() const;
  // Partitions queued that did not (yet) succeed: failed ones plus the not done.
  uint32_t partitions_unsucceeded() const;
};

// The sum of the nodes' progress (sum_progress).
proto::RepairProgress total_progress(const std::vector<NodeRepair>& nodes);

// Why a repair did not fully succeed, in one line: the timeout (`timed_out`, after
// `timeout_s`), the partitions that did not succeed and how many failed, the last error, the
// nodes that refused the repair or stopped answering (with their errors).
std::string repair_failure_text(const std::vector<NodeRepair>& nodes, bool timed_out,
                                uint32_t timeout_s);

// The table `qkvctl repair` ends with: a header, one row per node (node, partitions
// done/total, failed, keys compared, keys repaired, bytes sent, last error or error) and a
// total row.
std::string repair_table(const std::vector<NodeRepair>& nodes);

// The JSON report of `qkvctl repair` (shape above).
nlohmann::json repair_report_json(const std::vector<NodeRepair>& nodes, bool timed_out);

}  // namespace qkv::client
