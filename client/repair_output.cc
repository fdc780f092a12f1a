#include "client/repair_output.h"

#include <fmt/format.h>

#include <algorithm>

#include "client/json_output.h"

namespace qkv::client {

std::string age_text(int64_t ms) {
  int64_t s = std::max<int64_t>(ms, 0) / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m", s / 60);
  if (s < 86400) return fmt::format("{}h", s / 3600);
  return fmt::format("{}d", s / 86400);
}

std::string byte_size_text(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  // Moves up at 1023.95, not 1024: "1024.0 KiB" would be printed otherwise.
  while (value >= 1023.95 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string count_text(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string repair_progress_text(const proto::RepairProgress& p) {
  std::string failed =
      p.partitions_failed > 0 ? fmt::format(" ({} failed)", p.partitions_failed) : "";
  return fmt::format("partitions {}/{}{}  keys compared {}  repaired {}  sent {}",
                     p.partitions_done, p.partitions_total, failed, count_text(p.keys_compared),
                     count_text(p.keys_repaired), byte_size_text(p.bytes_sent));
}

proto::RepairProgress sum_progress(const std::vector<proto::RepairProgress>& progress) {
  proto::RepairProgress sum;
  for (const auto& p : progress) {
    sum.running = sum.running || p.running;
    sum.partitions_total += p.partitions_total;
    sum.partitions_done += p.partitions_done;
    sum.partitions_failed += p.partitions_failed;
    sum.keys_compared += p.keys_compared;
    sum.keys_repaired += p.keys_repaired;
    sum.bytes_sent += p.bytes_sent;
    if (!p.last_error.empty()) sum.last_error = p.last_error;
  }
  return sum;
}

ExchangeAges exchange_ages(const std::vector<proto::PartitionExchange>& exchanges,
                           int64_t now_unix_ms) {
  ExchangeAges ages;
  ages.partitions = exchanges.size();
  for (const auto& e : exchanges) {
    if (e.last_success_unix_ms == 0) {
      ++ages.never;
      continue;
    }
    int64_t age = std::max<int64_t>(now_unix_ms - e.last_success_unix_ms, 0);
    ages.newest_age_ms = std::min(ages.newest_age_ms.value_or(age), age);
    ages.oldest_age_ms = std::max(ages.oldest_age_ms.value_or(age), age);
  }
  return ages;
}

std::string anti_entropy_line(const std::vector<proto::PartitionExchange>& exchanges,
                              int64_t now_unix_ms) {
  ExchangeAges ages = exchange_ages(exchanges, now_unix_ms);
  if (ages.partitions == 0) return "anti-entropy: 0 partitions";
  auto ago = [](const std::optional<int64_t>& ms) {
    return ms ? age_text(*ms) + " ago" : std::string("-");
  };
  return fmt::format("anti-entropy: {} partitions, last exchanged: newest {}, oldest {}, never: {}",
                     ages.partitions, ago(ages.newest_age_ms), ago(ages.oldest_age_ms), ages.never);
}

std::string exchanges_table(const std::vector<proto::PartitionExchange>& exchanges,
                            int64_t now_unix_ms) {
  std::string out = fmt::format("  {:>9}  {}\n", "partition", "last exchange");
  for (const auto& e : exchanges) {
    std::string when = e.last_success_unix_ms == 0
                           ? "never"
                           : age_text(now_unix_ms - e.last_success_unix_ms) + " ago";
    out += fmt::format("  {:>9}  {}\n", e.partition, when);
  }
  return out;
}

bool NodeRepair::succeeded() const {
  return accepted && error.empty() && !progress.running &&
         progress.partitions_done == progress.partitions_total && progress.partitions_failed == 0;
}

uint32_t NodeRepair::partitions_unsucceeded() const {
  if (!accepted) return 0;  // nothing was queued
  uint32_t total = std::max(progress.partitions_total, partitions_queued);
  uint32_t succeeded =
      progress.partitions_done - std::min(progress.partitions_failed, progress.partitions_done);
  return total - std::min(succeeded, total);
}

namespace {

std::string table_row(const std::string& node, const proto::RepairProgress& p,
                      const std::string& problem) {
  return fmt::format("{:<16} {:>11} {:>7} {:>13} {:>13} {:>10}  {}\n", node,
                     fmt::format("{}/{}", p.partitions_done, p.partitions_total),
                     p.partitions_failed, count_text(p.keys_compared), count_text(p.keys_repaired),
                     byte_size_text(p.bytes_sent), problem.empty() ? "-" : problem);
}

}  // namespace

proto::RepairProgress total_progress(const std::vector<NodeRepair>& nodes) {
  std::vector<proto::RepairProgress> progress;
  progress.reserve(nodes.size());
  for (const auto& n : nodes) progress.push_back(n.progress);
  return sum_progress(progress);
}

std::string repair_failure_text(const std::vector<NodeRepair>& nodes, bool timed_out,
                                uint32_t timeout_s) {
  proto::RepairProgress total = total_progress(nodes);
  uint64_t unsucceeded = 0;
  for (const auto& n : nodes) unsucceeded += n.partitions_unsucceeded();
  std::string out =
      timed_out ? fmt::format("the repair was still running after --timeout-s {}: ", timeout_s)
                : std::string("repair incomplete: ");
  out += fmt::format("{} of {} partitions did not succeed ({} failed)", unsucceeded,
                     total.partitions_total, total.partitions_failed);
  if (!total.last_error.empty()) out += "; last error: " + total.last_error;
  for (const auto& n : nodes) {
    if (!n.error.empty()) out += fmt::format("; {}: {}", n.address, n.error);
  }
  return out;
}

std::string repair_table(const std::vector<NodeRepair>& nodes) {
  std::string out =
      fmt::format("{:<16} {:>11} {:>7} {:>13} {:>13} {:>10}  {}\n", "node", "partitions", "failed",
                  "keys compared", "keys repaired", "sent", "last error");
  for (const auto& n : nodes) {
    // A failed request or lost status is what matters most about the node: shown first.
    std::string problem = n.error;
    if (!n.progress.last_error.empty()) {
      problem += (problem.empty() ? "" : "; ") + n.progress.last_error;
    }
    out += table_row(n.node_id.empty() ? n.address : n.node_id, n.progress, problem);
  }
  proto::RepairProgress total = total_progress(nodes);
  out += table_row(fmt::format("total ({} node{})", nodes.size(), nodes.size() == 1 ? "" : "s"),
                   total, "");
  return out;
}

nlohmann::json repair_report_json(const std::vector<NodeRepair>& nodes, bool timed_out) {
  nlohmann::json list = nlohmann::json::array();
  uint64_t queued = 0;
  bool ok = true;
  for (const auto& n : nodes) {
    nlohmann::json item = {{"address", n.address},
                           {"node_id", n.node_id},
                           {"accepted", n.accepted},
                           {"partitions_queued", n.partitions_queued},
                           {"error", n.error}};
    item.update(repair_progress_json(n.progress));
    list.push_back(std::move(item));
    queued += n.partitions_queued;
    ok = ok && n.succeeded();
  }
  nlohmann::json total = {{"nodes", nodes.size()}, {"partitions_queued", queued}};
  total.update(repair_progress_json(total_progress(nodes)));
  return {{"nodes", std::move(list)},
          {"total", std::move(total)},
          {"ok", ok && !timed_out},
          {"timed_out", timed_out}};
}

}  // namespace qkv::client
