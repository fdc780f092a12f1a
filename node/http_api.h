// The HTTP operations port (http_listen): what an operator, Prometheus and Kubernetes read.
//
//   GET /metrics                 Prometheus text format (node/metrics.h)
//   GET /health/live             200 while the process answers; never depends on peers
//   GET /health/ready            200 when the node serves: storage open, ring known, this
//                                node not removed, not draining (SIGTERM); else 503
//       /health/ready?settled=1  also no hints pending for other nodes and no ring
//                                transition receiving ranges: a rolling restart's gate
//   GET /health/startup          200 once recovery is done (incarnation, trees loaded or
//                                scheduled) and the ports listen
//   GET /api/v1/status           this node's status (the JSON of `qkvctl --json status`,
//                                with ring_version and transfers)
//   GET /api/v1/members          the gossip view (as `qkvctl --json members`)
//   GET /api/v1/ring             ring ownership (as `qkvctl --json ring`)
//   GET /api/v1/stats            request counts and latency percentiles (p50/p90/p99 ms)
//   GET /console                 the web console (node/console.h)
//   /v1/kv/{key}                 the key-value API: not here, but node/http_kv.h through
//                                the Server's client path (server_http_kv.cc)
//
// Health bodies are JSON: {"status":"ok"} or {"status":"unavailable","reasons":[...]}, each
// reason a sentence. Unknown paths get 404 naming the served ones.
//
// Thread-safety: none (the io_context's thread, as the view's owner).
#pragma once

#include <string>
#include <vector>

#include "net/http_types.h"
#include "node/latencies.h"
#include "proto/client_api.h"

namespace qkv::node {

// What the HTTP port reads from the running node (node/server.h implements it).
class OpsView {
 public:
  virtual ~OpsView() = default;
  virtual proto::StatusResponse status() const = 0;
  virtual proto::MembersResponse members() const = 0;
  // Unavailable while the ring is not known.
  virtual Result<proto::RingResponse> ring() const = 0;
  virtual const Latencies& latencies() const = 0;
  virtual std::string metrics() const = 0;
  // Why the node has not finished starting / is not ready; empty when it has / is.
  virtual std::vector<std::string> not_started() const = 0;
  virtual std::vector<std::string> not_ready(bool settled) const = 0;
};

net::HttpResponse serve_http(const OpsView& view, const net::HttpRequest& request);

// The q-th quantile (0 < q <= 1) of a histogram in ms, interpolated linearly within its
// bucket (as Prometheus' histogram_quantile); 0 when empty. Past the last finite bound it
// answers that bound.
double quantile_ms(const LatencyHistogram& h, double q);

}  // namespace qkv::node
