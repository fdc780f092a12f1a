// Metrics: a node's figures in the Prometheus text exposition format (GET /metrics), built
// with prometheus-cpp's data model and TextSerializer at each scrape from what the node
// already keeps (no second set of counters to drift):
//
//   qkv_<counter>_total              every counter of `qkvctl status` (node, anti-entropy,
//                                    transfers, gossip, hinted handoff, peer links)
//   qkv_<gauge>                      ring_version, hints_pending, hint_bytes_pending,
//                                    partitions_owned, requests_in_flight (status'
//                                    in_flight), client_requests_in_flight, members{state},
//                                    member_up{member}, member_phi{member},
//                                    transfer_in_progress, transfer_ranges{state},
//                                    aae_oldest_exchange_age_seconds,
//                                    peer_send_queue_bytes{peer,link}, uptime_seconds,
//                                    info{node,version}
//   qkv_rocksdb_<figure>             storage engine figures (node/storage/storage.h)
//   qkv_<what>_duration_seconds      histograms (node/latencies.h): coordinated_get{outcome},
//                                    coordinated_put{outcome}, forward, replica_write,
//                                    storage_commit
//
// Names follow Prometheus' conventions (base units: seconds and bytes; counters end in
// _total). The list is documented in docs/operations.md; names are stable.
//
// Thread-safety: pure functions.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/node_id.h"
#include "node/latencies.h"
#include "proto/client_api.h"

namespace qkv::node {

struct MetricsInputs {
  const proto::StatusResponse& status;    // this node's status answer
  const proto::MembersResponse& members;  // its gossip view
  const Latencies& latencies;
  std::vector<std::pair<std::string, uint64_t>> engine;  // Storage::engine_figures()
  // Bytes queued per outbound link: key is the link ("n2", or "bg:n2" for background
  // traffic, "@host:port" for gossip to an address not yet named).
  std::map<std::string, uint64_t> peer_queued_bytes;
  int64_t now_unix_ms = 0;
};

std::vector<prometheus::MetricFamily> collect_metrics(const MetricsInputs& in);
// collect_metrics, serialized (text format 0.0.4).
std::string metrics_text(const MetricsInputs& in);

}  // namespace qkv::node
