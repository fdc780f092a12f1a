// What a qkv-bench phase measured, and its report as a table or JSON (bench/qkv_bench.cc).
// Thread-safety: values; Measured is merged by the thread that owns the result.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench/histogram.h"
#include "bench/proc_stats.h"

namespace qkv::bench {

// The operations, in the order of Measured's arrays.
inline constexpr const char* kOpNames[] = {"read", "update", "rmw"};

// What one thread measured, per Op; merged at the end.
struct Measured {
  LatencyHistogram latency[3];
  uint64_t errors[3] = {0, 0, 0};
  // Every op split by outcome: shed (answered overloaded) or admitted (anything else).
  LatencyHistogram admitted, shed;
  std::map<std::string, uint64_t> error_kinds;  // "unavailable: ..." (first 80 chars) -> count
  // Gets (and the reads of RMW) that found concurrent siblings: writes carrying stale
  // contexts. Near zero unless connections update the same keys at once.
  uint64_t sibling_reads = 0;

  void merge(const Measured& o) {
    sibling_reads += o.sibling_reads;
    admitted.merge(o.admitted);
    shed.merge(o.shed);
    for (int i = 0; i < 3; ++i) {
      latency[i].merge(o.latency[i]);
      errors[i] += o.errors[i];
    }
    for (const auto& [k, v] : o.error_kinds) error_kinds[k] += v;
  }
};

struct PhaseResult {
  std::string name;
  double seconds = 0;
  Measured stats;
  double server_cpu_seconds = -1;  // of Config::server_pids over the phase; < 0: not measured
  std::vector<uint64_t> server_resident_bytes;  // of each server at the phase's end
};

inline double us(uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

// The ops split by outcome (admitted, shed), for overload runs.
inline std::vector<std::pair<const char*, const LatencyHistogram*>> outcomes(const Measured& m) {
  return {{"admitted", &m.admitted}, {"shed", &m.shed}};
}

inline nlohmann::json to_json(const PhaseResult& r) {
  nlohmann::json j;
  uint64_t total = 0, errors = 0;
  for (int i = 0; i < 3; ++i) {
    const LatencyHistogram& h = r.stats.latency[i];
    if (h.count() == 0) continue;
    total += h.count();
    errors += r.stats.errors[i];
    j["ops"][kOpNames[i]] = {{"count", h.count()},
                             {"errors", r.stats.errors[i]},
                             {"ops_per_sec", static_cast<double>(h.count()) / r.seconds},
                             {"mean_us", h.mean() / 1000.0},
                             {"p50_us", us(h.percentile(50))},
                             {"p90_us", us(h.percentile(90))},
                             {"p99_us", us(h.percentile(99))},
                             {"p999_us", us(h.percentile(99.9))},
                             {"max_us", us(h.max())}};
  }
  j["phase"] = r.name;
  j["seconds"] = r.seconds;
  j["count"] = total;
  j["errors"] = errors;
  j["ops_per_sec"] = static_cast<double>(total) / r.seconds;
  if (r.server_cpu_seconds > 0 && total > 0) {
    j["server_cpu_seconds"] = r.server_cpu_seconds;
    j["ops_per_server_cpu_second"] = static_cast<double>(total) / r.server_cpu_seconds;
    j["server_cpu_us_per_op"] = r.server_cpu_seconds * 1e6 / static_cast<double>(total);
  }
  if (!r.server_resident_bytes.empty()) j["server_resident_bytes"] = r.server_resident_bytes;
  j["error_kinds"] = r.stats.error_kinds;
  for (const auto& [name, h] : outcomes(r.stats)) {
    j[name] = {{"count", h->count()},
               {"p50_us", us(h->percentile(50))},
               {"p99_us", us(h->percentile(99))},
               {"max_us", us(h->max())}};
  }
  j["sibling_reads"] = r.stats.sibling_reads;
  return j;
}

inline void print_table(const PhaseResult& r) {
  uint64_t total = 0;
  for (const auto& h : r.stats.latency) total += h.count();
  fmt::print("{}: {} ops in {:.1f} s = {:.0f} ops/s\n", r.name, total, r.seconds,
             static_cast<double>(total) / r.seconds);
  if (r.server_cpu_seconds > 0 && total > 0) {
    fmt::print("  servers: {:.1f} CPU-s = {:.0f} ops per CPU-second, {:.1f} us of CPU per op\n",
               r.server_cpu_seconds, static_cast<double>(total) / r.server_cpu_seconds,
               r.server_cpu_seconds * 1e6 / static_cast<double>(total));
  }
  if (!r.server_resident_bytes.empty()) {
    fmt::print("  resident at the end: {} MiB\n",
               fmt::join(mebibytes(r.server_resident_bytes), " "));
  }
  fmt::print("  {:<7} {:>10} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "op", "count", "errors",
             "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms");
  for (int i = 0; i < 3; ++i) {
    const LatencyHistogram& h = r.stats.latency[i];
    if (h.count() == 0) continue;
    auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
    fmt::print("  {:<7} {:>10} {:>7} {:>10.0f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f}\n",
               kOpNames[i], h.count(), r.stats.errors[i],
               static_cast<double>(h.count()) / r.seconds, ms(h.percentile(50)),
               ms(h.percentile(90)), ms(h.percentile(99)), ms(h.percentile(99.9)), ms(h.max()));
  }
  for (const auto& [kind, count] : r.stats.error_kinds) {
    fmt::print("  error x{}: {}\n", count, kind);
  }
  if (r.stats.shed.count() > 0) {
    auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
    for (const auto& [name, h] : outcomes(r.stats)) {
      fmt::print("  {:<8} {:>10} ops, p50 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms\n", name,
                 h->count(), ms(h->percentile(50)), ms(h->percentile(99)), ms(h->max()));
    }
  }
  if (r.stats.sibling_reads > 0) {
    fmt::print("  reads that found siblings: {}\n", r.stats.sibling_reads);
  }
}

}  // namespace qkv::bench
