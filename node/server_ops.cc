// Server as the OpsView of the HTTP operations port (node/http_api.h): what /metrics,
// /health/* and /api/v1 read. Everything is read on the io_context's thread, between events.
#include <fmt/format.h>

#include "node/metrics.h"
#include "node/server.h"

namespace qkv::node {

proto::StatusResponse Server::status() const {
  return node_.status(clock_.now());
}

proto::MembersResponse Server::members() const {
  return host_.membership().members_response();
}

Result<proto::RingResponse> Server::ring() const {
  proto::ClientResponse response = ring_response(node_.ring().get(), config_.node.n);
  if (!response.status.is_ok()) return response.status;
  return std::get<proto::RingResponse>(std::move(response.body));
}

std::string Server::metrics() const {
  const proto::StatusResponse s = status();
  const proto::MembersResponse m = members();
  std::map<std::string, uint64_t> queued = peer_links_.queued_bytes();
  return metrics_text(
      MetricsInputs{s, m, node_.latencies(), storage_.engine_figures(), queued, unix_now_ms()});
}

std::vector<std::string> Server::not_started() const {
  // Recovery (storage open, incarnation, saved trees) happens before start(): once the
  // ports listen, it is done and tree builds are scheduled.
  if (!started_) return {"the node's ports are not listening yet"};
  return {};
}

std::vector<std::string> Server::not_ready(bool settled) const {
  std::vector<std::string> reasons = not_started();
  if (shutting_down_) reasons.emplace_back("the node is draining: it is shutting down");
  if (!node_.ring()) {
    reasons.emplace_back("the node has not learned the ring yet (it is joining from its seeds)");
  }
  const auto& self = host_.membership().gossip().self();
  if (self.status == gossip::Status::kRemoved) {
    reasons.emplace_back("the node has left the cluster (status removed)");
  }
  if (!settled) return reasons;
  for (const auto& [target, count_bytes] : host_.handoff().pending()) {
    if (count_bytes.first == 0) continue;
    reasons.push_back(fmt::format("{} hints ({} bytes) wait for delivery to {}", count_bytes.first,
                                  count_bytes.second, target));
  }
  if (const auto& next = node_.transfer().inbound(); !next.empty()) {
    std::size_t done = 0;
    for (const auto& in : next) done += in.done ? 1 : 0;
    if (done < next.size()) {
      reasons.push_back(fmt::format(
          "a ring transition is in progress: {} of {} key ranges received", done, next.size()));
    }
  }
  return reasons;
}

}  // namespace qkv::node
