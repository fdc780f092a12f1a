#include "node/http_api.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "node/console.h"
#include "proto/client_json.h"

namespace qkv::node {
namespace {

net::HttpResponse json_response(unsigned status, const nlohmann::json& body) {
  net::HttpResponse out;
  out.status = status;
  out.content_type = "application/json";
  // Read-only figures: any member's console page may read them (it shows every node).
  out.headers.emplace_back("Access-Control-Allow-Origin", "*");
  out.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return out;
}

net::HttpResponse health(const std::vector<std::string>& reasons) {
  if (reasons.empty()) return json_response(200, {{"status", "ok"}});
  return json_response(503, {{"status", "unavailable"}, {"reasons", reasons}});
}

// A histogram's count and percentiles in ms.
nlohmann::json latency_json(const LatencyHistogram& h) {
  return {{"count", h.count()},
          {"p50_ms", quantile_ms(h, 0.50)},
          {"p90_ms", quantile_ms(h, 0.90)},
          {"p99_ms", quantile_ms(h, 0.99)}};
}

// Every outcome merged, and the failures counted apart.
nlohmann::json outcomes_json(const std::array<LatencyHistogram, Latencies::kCodes>& by_code) {
  LatencyHistogram all;
  uint64_t failed = 0;
  for (std::size_t c = 0; c < by_code.size(); ++c) {
    all.merge(by_code[c]);
    const auto code = static_cast<StatusCode>(c);
    if (code != StatusCode::kOk && code != StatusCode::kNotFound) failed += by_code[c].count();
  }
  nlohmann::json j = latency_json(all);
  j["failed"] = failed;
  return j;
}

nlohmann::json stats_json(const OpsView& view) {
  const Latencies& l = view.latencies();
  return {{"node_id", view.status().node_id},
          {"get", outcomes_json(l.get())},
          {"put", outcomes_json(l.put())},
          {"forward", latency_json(l.forward())},
          {"replica_write", latency_json(l.replica_write())},
          {"storage_commit", latency_json(l.storage_commit())}};
}

nlohmann::json status_with_transfers(const proto::StatusResponse& status) {
  nlohmann::json j = proto::status_json("", status);
  j.erase("address");
  j["ring_version"] = status.ring_version;
  j["transfer_started_unix_ms"] = status.transfer_started_unix_ms;
  j["transfers"] = proto::transfers_json(status.transfers);
  return j;
}

constexpr const char* kPaths =
    "/metrics, /health/live, /health/ready, /health/startup, /api/v1/status, "
    "/api/v1/members, /api/v1/ring, /api/v1/stats, /console";

}  // namespace

double quantile_ms(const LatencyHistogram& h, double q) {
  if (h.count() == 0) return 0;
  const double rank = q * static_cast<double>(h.count());
  uint64_t below = 0;
  for (std::size_t i = 0; i < LatencyHistogram::kBoundsUs.size(); ++i) {
    const uint64_t in_bucket = h.bucket(i);
    if (static_cast<double>(below + in_bucket) >= rank && in_bucket > 0) {
      const double lower = i == 0 ? 0.0 : static_cast<double>(LatencyHistogram::kBoundsUs[i - 1]);
      const double upper = static_cast<double>(LatencyHistogram::kBoundsUs[i]);
      const double within = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
      return (lower + (upper - lower) * within) / 1e3;
    }
    below += in_bucket;
  }
  return static_cast<double>(LatencyHistogram::kBoundsUs.back()) / 1e3;
}

net::HttpResponse serve_http(const OpsView& view, const net::HttpRequest& request) {
  const std::string& path = request.path;
  if (path == "/metrics") {
    net::HttpResponse out;
    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
    out.body = view.metrics();
    return out;
  }
  if (path == "/health/live") return json_response(200, {{"status", "ok"}});
  if (path == "/health/startup") return health(view.not_started());
  if (path == "/health/ready") {
    auto settled = request.query.find("settled");
    const bool want_settled =
        settled != request.query.end() && settled->second != "0" && settled->second != "false";
    return health(view.not_ready(want_settled));
  }
  if (path == "/api/v1/status") return json_response(200, status_with_transfers(view.status()));
  if (path == "/api/v1/members") return json_response(200, proto::members_json(view.members()));
  if (path == "/api/v1/ring") {
    auto ring = view.ring();
    if (!ring) {
      return json_response(503, {{"error",
                                  {{"code", std::string(status_code_name(ring.status().code()))},
                                   {"message", ring.status().message()}}}});
    }
    return json_response(200, proto::ring_json(*ring));
  }
  if (path == "/api/v1/stats") return json_response(200, stats_json(view));
  if (path == "/console" || path == "/console/") {
    net::HttpResponse out;
    out.content_type = "text/html; charset=utf-8";
    out.body = std::string(console_html());
    return out;
  }
  if (path == "/") {
    net::HttpResponse out;
    out.status = 302;
    out.headers.emplace_back("Location", "/console");
    out.body = "see /console\n";
    return out;
  }
  net::HttpResponse out;
  out.status = 404;
  out.body = fmt::format("no such path: {}; served here: {}\n", path, kPaths);
  return out;
}

}  // namespace qkv::node
