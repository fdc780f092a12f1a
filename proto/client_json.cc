#include "proto/client_json.h"

#include <fmt/format.h>

#include <map>

namespace qkv::proto {

nlohmann::json ring_json(const RingResponse& ring) {
  std::map<std::string, std::size_t> partitions;  // ordered: stable output
  for (const auto& owner : ring.owners) ++partitions[owner];
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& [node, count] : partitions) {
    double share = ring.owners.empty() ? 0.0 : 100.0 * count / ring.owners.size();
    nodes.push_back({{"node", node}, {"partitions", count}, {"share_percent", share}});
  }
  return {{"partition_count", ring.partition_count},
          {"n", ring.n},
          {"nodes", std::move(nodes)},
          {"owners", ring.owners}};
}

nlohmann::json members_json(const MembersResponse& members) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : members.members) {
    list.push_back({{"id", m.id},
                    {"peer_address", m.peer_address},
                    {"client_address", m.client_address},
                    {"http_address", m.http_address},
                    {"zone", m.zone},
                    {"status", m.status},
                    {"up", m.up},
                    {"phi", m.phi},
                    {"incarnation", m.incarnation},
                    {"partitions", m.partitions},
                    {"hints_pending", m.hints_pending},
                    {"hint_bytes_pending", m.hint_bytes_pending},
                    {"ring_version", m.ring_version}});
  }
  // The cluster id as hex text: JSON numbers lose 64-bit precision in most readers.
  return {{"ring_version", members.ring_version},
          {"cluster_id", fmt::format("{:#018x}", members.cluster_id)},
          {"members", std::move(list)}};
}

nlohmann::json status_json(std::string_view address, const StatusResponse& status) {
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [name, value] : status.counters) counters[name] = value;
  return {{"address", address},
          {"up", true},
          {"node_id", status.node_id},
          {"incarnation", status.incarnation},
          {"version", status.version},
          {"uptime_ms", status.uptime_ms},
          {"n", status.n},
          {"r", status.r},
          {"w", status.w},
          {"members", status.members},
          {"counters", std::move(counters)},
          {"repair", repair_progress_json(status.repair)},
          {"exchanges", exchanges_json(status.exchanges)}};
}

nlohmann::json repair_progress_json(const RepairProgress& p) {
  return {{"running", p.running},
          {"partitions_total", p.partitions_total},
          {"partitions_done", p.partitions_done},
          {"partitions_failed", p.partitions_failed},
          {"keys_compared", p.keys_compared},
          {"keys_repaired", p.keys_repaired},
          {"bytes_sent", p.bytes_sent},
          {"last_error", p.last_error}};
}

nlohmann::json exchanges_json(const std::vector<PartitionExchange>& exchanges) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : exchanges) {
    list.push_back({{"partition", e.partition}, {"last_success_unix_ms", e.last_success_unix_ms}});
  }
  return list;
}

nlohmann::json transfers_json(const std::vector<TransferProgress>& transfers) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : transfers) {
    list.push_back({{"partition", t.partition},
                    {"source", t.source},
                    {"keys", t.keys},
                    {"bytes", t.bytes},
                    {"done", t.done},
                    {"active", t.active}});
  }
  return list;
}

}  // namespace qkv::proto
