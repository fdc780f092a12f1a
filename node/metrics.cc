#include "node/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <string_view>

namespace qkv::node {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Status entries that are levels, not event counts, and their metric names.
const std::map<std::string_view, std::string_view> kGauges = {
    {"ring_version", "qkv_ring_version"},
    {"hints_pending", "qkv_hints_pending"},
    {"in_flight", "qkv_requests_in_flight"},
    {"client_requests_in_flight", "qkv_client_requests_in_flight"},
    {"tombstones_pending", "qkv_tombstones_pending"}};

constexpr std::string_view kBackgroundLink = "bg:";  // as node/server.cc names them

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

ClientMetric value_metric(MetricType type, double value,
                          std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

MetricFamily single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily f = family(std::move(name), std::move(help), type);
  f.metric.push_back(value_metric(type, value));
  return f;
}

ClientMetric histogram_metric(const LatencyHistogram& h,
                              std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = h.count();
  m.histogram.sample_sum = static_cast<double>(h.sum_us()) / 1e6;
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i < LatencyHistogram::kBoundsUs.size(); ++i) {
    cumulative += h.bucket(i);
    m.histogram.bucket.push_back(
        {cumulative, static_cast<double>(LatencyHistogram::kBoundsUs[i]) / 1e6});
  }
  // The +Inf bucket: the serializer writes le="+Inf" for an infinite bound.
  m.histogram.bucket.push_back({h.count(), std::numeric_limits<double>::infinity()});
  return m;
}

// One histogram family with an `outcome` label per status code: ok always (so a dashboard
// finds the series before the first request), the others once they have a sample.
MetricFamily outcome_histograms(std::string name, std::string help,
                                const std::array<LatencyHistogram, Latencies::kCodes>& by_code) {
  MetricFamily f = family(std::move(name), std::move(help), MetricType::Histogram);
  for (std::size_t c = 0; c < by_code.size(); ++c) {
    if (c != 0 && by_code[c].count() == 0) continue;
    f.metric.push_back(histogram_metric(
        by_code[c], {{"outcome", std::string(status_code_name(static_cast<StatusCode>(c)))}}));
  }
  return f;
}

MetricFamily plain_histogram(std::string name, std::string help, const LatencyHistogram& h) {
  MetricFamily f = family(std::move(name), std::move(help), MetricType::Histogram);
  f.metric.push_back(histogram_metric(h));
  return f;
}

void add_members(const MetricsInputs& in, std::vector<MetricFamily>& out) {
  const auto& members = in.members.members;
  const auto up = std::count_if(members.begin(), members.end(),
                                [](const auto& m) { return m.up && m.status != "removed"; });
  const auto down = std::count_if(members.begin(), members.end(),
                                  [](const auto& m) { return !m.up && m.status != "removed"; });
  MetricFamily count = family("qkv_members",
                              "Members this node knows, by its failure "
                              "detector's verdict (removed members excluded)",
                              MetricType::Gauge);
  count.metric.push_back(
      value_metric(MetricType::Gauge, static_cast<double>(up), {{"state", "up"}}));
  count.metric.push_back(
      value_metric(MetricType::Gauge, static_cast<double>(down), {{"state", "down"}}));
  out.push_back(std::move(count));
  MetricFamily member_up =
      family("qkv_member_up", "1 if this node holds the member up", MetricType::Gauge);
  MetricFamily phi = family("qkv_member_phi",
                            "The member's phi (Hayashibara et al. 2004) as this node computes it",
                            MetricType::Gauge);
  double owned = 0, hint_bytes = 0;
  for (const auto& m : members) {
    if (m.id == in.status.node_id) owned = m.partitions;
    hint_bytes += static_cast<double>(m.hint_bytes_pending);
    if (m.id == in.status.node_id || m.status == "removed") continue;
    member_up.metric.push_back(value_metric(MetricType::Gauge, m.up ? 1 : 0, {{"member", m.id}}));
    phi.metric.push_back(value_metric(MetricType::Gauge, m.phi, {{"member", m.id}}));
  }
  out.push_back(std::move(member_up));
  out.push_back(std::move(phi));
  out.push_back(single("qkv_partitions_owned", "Partitions (vnodes) this node owns in the ring",
                       MetricType::Gauge, owned));
  out.push_back(single("qkv_hint_bytes_pending",
                       "Bytes of hints this node holds for other nodes, not yet delivered",
                       MetricType::Gauge, hint_bytes));
}

void add_transfers_and_exchanges(const MetricsInputs& in, std::vector<MetricFamily>& out) {
  const auto& transfers = in.status.transfers;
  out.push_back(single("qkv_transfer_in_progress",
                       "1 while this node receives key ranges of a ring transition",
                       MetricType::Gauge, in.status.transfer_started_unix_ms != 0 ? 1 : 0));
  MetricFamily ranges =
      family("qkv_transfer_ranges", "Inbound key ranges of the ring transition in progress",
             MetricType::Gauge);
  const auto done =
      std::count_if(transfers.begin(), transfers.end(), [](const auto& t) { return t.done; });
  ranges.metric.push_back(
      value_metric(MetricType::Gauge, static_cast<double>(done), {{"state", "done"}}));
  ranges.metric.push_back(value_metric(
      MetricType::Gauge, static_cast<double>(transfers.size()) - static_cast<double>(done),
      {{"state", "pending"}}));
  out.push_back(std::move(ranges));
  if (!in.status.exchanges.empty()) {
    // A partition never exchanged since the start counts from the start.
    const int64_t started_ms = in.now_unix_ms - static_cast<int64_t>(in.status.uptime_ms);
    int64_t oldest = in.now_unix_ms;
    for (const auto& e : in.status.exchanges) {
      oldest = std::min(oldest, e.last_success_unix_ms != 0 ? e.last_success_unix_ms : started_ms);
    }
    out.push_back(single("qkv_aae_oldest_exchange_age_seconds",
                         "Age of the oldest last successful anti-entropy exchange among the "
                         "partitions this node replicates",
                         MetricType::Gauge,
                         static_cast<double>(std::max<int64_t>(0, in.now_unix_ms - oldest)) / 1e3));
  }
}

void add_links(const MetricsInputs& in, std::vector<MetricFamily>& out) {
  MetricFamily queued = family("qkv_peer_send_queue_bytes",
                               "Bytes queued or in flight on an outbound peer link (links with "
                               "none are left out)",
                               MetricType::Gauge);
  for (const auto& [link, bytes] : in.peer_queued_bytes) {
    std::string_view name = link;
    std::string kind = "replica";
    if (name.starts_with(kBackgroundLink)) {
      name.remove_prefix(kBackgroundLink.size());
      kind = "background";
    } else if (name.starts_with('@')) {
      name.remove_prefix(1);
      kind = "gossip";
    }
    queued.metric.push_back(value_metric(MetricType::Gauge, static_cast<double>(bytes),
                                         {{"link", kind}, {"peer", std::string(name)}}));
  }
  out.push_back(std::move(queued));
}

}  // namespace

std::vector<MetricFamily> collect_metrics(const MetricsInputs& in) {
  std::vector<MetricFamily> out;
  MetricFamily info =
      family("qkv_info", "The node's id and qkvd version (value 1)", MetricType::Gauge);
  info.metric.push_back(value_metric(
      MetricType::Gauge, 1, {{"node", in.status.node_id}, {"version", in.status.version}}));
  out.push_back(std::move(info));
  out.push_back(single("qkv_uptime_seconds", "Seconds since this qkvd started", MetricType::Gauge,
                       static_cast<double>(in.status.uptime_ms) / 1e3));
  for (const auto& [name, value] : in.status.counters) {
    if (auto gauge = kGauges.find(name); gauge != kGauges.end()) {
      out.push_back(single(std::string(gauge->second), "qkvctl status figure '" + name + "'",
                           MetricType::Gauge, static_cast<double>(value)));
    } else {
      out.push_back(single("qkv_" + name + "_total", "qkvctl status counter '" + name + "'",
                           MetricType::Counter, static_cast<double>(value)));
    }
  }
  add_members(in, out);
  add_transfers_and_exchanges(in, out);
  add_links(in, out);
  for (const auto& [name, value] : in.engine) {
    out.push_back(single("qkv_rocksdb_" + name, "RocksDB figure '" + name + "'", MetricType::Gauge,
                         static_cast<double>(value)));
  }
  const Latencies& l = in.latencies;
  out.push_back(outcome_histograms(
      "qkv_coordinated_get_duration_seconds",
      "Gets this node coordinated: from the request's arrival to its answer, by outcome", l.get()));
  out.push_back(outcome_histograms(
      "qkv_coordinated_put_duration_seconds",
      "Puts and deletes this node coordinated: from the request's arrival to its answer, by "
      "outcome",
      l.put()));
  out.push_back(plain_histogram("qkv_forward_duration_seconds",
                                "Requests this node forwarded to a primary: from the client's "
                                "request to the relayed answer",
                                l.forward()));
  out.push_back(plain_histogram("qkv_replica_write_duration_seconds",
                                "Replica writes of puts this node coordinated: from the send to "
                                "the replica's ack",
                                l.replica_write()));
  out.push_back(plain_histogram("qkv_storage_commit_duration_seconds",
                                "Group commits: one storage write (RocksDB WriteBatch)",
                                l.storage_commit()));
  return out;
}

std::string metrics_text(const MetricsInputs& in) {
  return prometheus::TextSerializer().Serialize(collect_metrics(in));
}

}  // namespace qkv::node
