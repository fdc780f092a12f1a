#include "node/status.h"

#include "node/anti_entropy.h"
#include "node/held_ranges.h"
#include "node/transfer.h"

namespace qkv::node {

std::vector<std::pair<std::string, uint64_t>> NodeCounters::to_list() const {
  return {{"client_requests", client_requests},
          {"invalid_requests", invalid_requests},
          {"forwarded", forwarded},
          {"forward_failovers", forward_failovers},
          {"forward_duplicates", forward_duplicates},
          {"forwards_expired", forwards_expired},
          {"replica_writes_expired", replica_writes_expired},
          {"replica_reads_expired", replica_reads_expired},
          {"coordinated_gets", coordinated_gets},
          {"coordinated_puts", coordinated_puts},
          {"replica_reads", replica_reads},
          {"replica_writes", replica_writes},
          {"fallback_reads", fallback_reads},
          {"spare_reads", spare_reads},
          {"read_repairs", read_repairs},
          {"digest_reads", digest_reads},
          {"digest_mismatches", digest_mismatches},
          {"hinted_writes", hinted_writes},
          {"coordinator_hints", coordinator_hints},
          {"unavailable", unavailable},
          {"storage_errors", storage_errors},
          {"storage_commits", storage_commits},
          {"storage_writes", storage_writes},
          {"version_cache_hits", version_cache_hits},
          {"version_cache_misses", version_cache_misses},
          {"version_cache_fills", version_cache_fills},
          {"ranges_dropped", ranges_dropped},
          {"siblings_warned", siblings_warned},
          {"siblings_refused", siblings_refused},
          {"overloaded", overloaded},
          {"conditional_writes", conditional_writes},
          {"preconditions_failed", preconditions_failed},
          {"tombstones_reaped", tombstones_reaped},
          {"reap_checks", reap_checks},
          {"reaps_deferred", reaps_deferred},
          {"tombstones_pending", tombstones_pending}};
}

namespace {

void add_anti_entropy(proto::StatusResponse& body, const AntiEntropy& aae) {
  const AntiEntropyCounters& c = aae.counters();
  body.counters.insert(body.counters.end(), {{"aae_exchanges", c.exchanges},
                                             {"aae_exchanges_failed", c.exchanges_failed},
                                             {"aae_segments_differing", c.segments_differing},
                                             {"aae_keys_compared", c.keys_compared},
                                             {"aae_keys_repaired", c.keys_repaired},
                                             {"aae_bytes_sent", c.bytes_sent},
                                             {"aae_tree_builds", c.tree_builds}});
  body.repair = aae.repair_progress();
  for (const auto& [partition, unix_ms] : aae.last_exchanges()) {
    body.exchanges.push_back(proto::PartitionExchange{partition, unix_ms});
  }
}

void add_transfers(proto::StatusResponse& body, const HeldRanges& held,
                   const OwnershipTransfer& transfer) {
  const TransferCounters& t = transfer.counters();
  body.counters.insert(body.counters.end(), {{"ring_version", held.version()},
                                             {"transfer_ranges_done", t.ranges_done},
                                             {"transfer_keys_received", t.keys_received},
                                             {"transfer_bytes_received", t.bytes_received},
                                             {"transfer_keys_sent", t.keys_sent},
                                             {"transfer_bytes_sent", t.bytes_sent},
                                             {"transfer_source_failures", t.source_failures}});
  body.ring_version = held.version();
  if (!held.next_ring()) return;
  body.transfer_started_unix_ms = static_cast<uint64_t>(held.transition_started_unix_ms());
  for (const InboundTransfer& in : transfer.inbound()) {
    body.transfers.push_back(
        proto::TransferProgress{in.partition, in.source, in.keys, in.bytes, in.done, in.active});
  }
}

}  // namespace

proto::ClientResponse status_response(const StatusInputs& in) {
  proto::StatusResponse body;
  body.node_id = in.config.node_id;
  body.incarnation = in.actor.incarnation;
  body.version = in.config.version;
  body.uptime_ms = static_cast<uint64_t>(in.uptime.count());
  body.n = static_cast<uint8_t>(in.config.n);
  body.r = static_cast<uint8_t>(in.config.r);
  body.w = static_cast<uint8_t>(in.config.w);
  if (in.held.ring()) body.members = in.held.ring()->members();
  body.counters = in.counters.to_list();
  body.counters.emplace_back("in_flight", in.in_flight);
  body.counters.emplace_back("client_requests_in_flight", in.client_requests_in_flight);
  add_anti_entropy(body, in.anti_entropy);
  add_transfers(body, in.held, in.transfer);
  for (const auto& c : in.extra_counters) body.counters.push_back(c);
  proto::ClientResponse response;
  response.body = std::move(body);
  return response;
}

proto::ClientResponse ring_response(const ring::Ring* ring, uint32_t n) {
  proto::ClientResponse response;
  if (!ring) {
    response.status = Status::unavailable("this node has not learned the ring yet");
    return response;
  }
  response.body =
      proto::RingResponse{ring->partition_count(), static_cast<uint8_t>(n), ring->owners()};
  return response;
}

}  // namespace qkv::node
