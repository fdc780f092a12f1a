#include "tests/faults/checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <set>

namespace qkv::faults {
namespace {

constexpr int kListedMax = 10;  // failures of one sort listed one by one; the rest counted

struct Stats {
  long sent = 0, ok = 0;
  std::vector<double> ms;

  double pct() const { return sent ? 100.0 * static_cast<double>(ok) / sent : 100.0; }
  double percentile(double p) {
    if (ms.empty()) return 0;
    std::sort(ms.begin(), ms.end());
    auto i = static_cast<std::size_t>(p * static_cast<double>(ms.size() - 1) + 0.5);
    return ms[std::min(i, ms.size() - 1)];
  }
};

using OpFilter = std::function<bool(const Op&)>;

Stats stats_of(const History& h, const OpFilter& keep) {
  Stats s;
  for (const Op& op : h.ops) {
    if (!keep(op)) continue;
    ++s.sent;
    s.ok += op.ok;
    s.ms.push_back(static_cast<double>(op.end_us - op.start_us) / 1000.0);
  }
  return s;
}

std::string row(const std::string& name, Stats puts, Stats gets) {
  return fmt::format(
      "  {:<30} {:>6}/{:<6} {:>6.2f}% {:>7.1f} {:>7.1f}   {:>6}/{:<6} {:>6.2f}% {:>7.1f} "
      "{:>7.1f}\n",
      name, puts.ok, puts.sent, puts.pct(), puts.percentile(0.5), puts.percentile(0.99), gets.ok,
      gets.sent, gets.pct(), gets.percentile(0.5), gets.percentile(0.99));
}

struct SetTally {
  long lost = 0, phantoms = 0, present_unacked = 0, acked = 0, attempted = 0;
};

// The elements of a final read; what no client attempted on this key is a phantom.
std::set<uint64_t> final_elements(const FinalKey& fk, const std::set<uint64_t>& attempted,
                                  SetTally& t, std::vector<std::string>& failures) {
  std::set<uint64_t> out;
  for (const std::string& v : fk.values) {
    std::string_view rest = v;
    while (!rest.empty()) {
      std::string_view tok = rest.substr(0, rest.find(','));
      rest.remove_prefix(std::min(rest.size(), tok.size() + 1));
      uint64_t e = 0;
      auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), e);
      if (ec == std::errc() && end == tok.data() + tok.size() && attempted.contains(e)) {
        out.insert(e);
      } else if (++t.phantoms <= kListedMax) {
        failures.push_back(fmt::format("phantom: {} holds '{}', never attempted", fk.key, tok));
      }
    }
  }
  return out;
}

void judge_key(const FinalKey& fk, const std::set<uint64_t>& attempted,
               const std::set<uint64_t>& acked, SetTally& t, std::vector<std::string>& failures) {
  t.acked += static_cast<long>(acked.size());
  t.attempted += static_cast<long>(attempted.size());
  if (!fk.read) {
    failures.push_back(
        fmt::format("unread: no R=N read of {} succeeded; its {} acknowledged adds are unchecked",
                    fk.key, acked.size()));
    return;
  }
  if (!fk.agree) failures.push_back(fmt::format("{}: its primaries never agreed", fk.key));
  std::set<uint64_t> present = final_elements(fk, attempted, t, failures);
  for (uint64_t e : attempted) {
    if (present.contains(e)) {
      t.present_unacked += !acked.contains(e);
    } else if (acked.contains(e) && ++t.lost <= kListedMax) {
      failures.push_back(fmt::format("lost: the acknowledged add of {} to {} is gone", e, fk.key));
    }
  }
}

void check_sets(const RunFacts& f, std::vector<std::string>& failures, std::string& report) {
  std::map<std::string, std::set<uint64_t>> attempted, acked;
  for (const Op& op : f.history.ops) {
    if (op.workload != WorkloadKind::kSet || op.kind != OpKind::kPut) continue;
    attempted[set_key(op.key)].insert(op.element);
    if (op.ok) acked[set_key(op.key)].insert(op.element);
  }
  SetTally t;
  for (const FinalKey& fk : f.final_keys)
    judge_key(fk, attempted[fk.key], acked[fk.key], t, failures);
  if (t.lost > kListedMax) failures.push_back(fmt::format("lost: {} acknowledged adds", t.lost));
  if (t.phantoms > kListedMax) failures.push_back(fmt::format("phantoms: {}", t.phantoms));
  report += fmt::format(
      "set workload: {} keys, {} adds attempted, {} acknowledged; final reads: lost {}, "
      "phantoms {}, unacknowledged adds present {}\n",
      f.final_keys.size(), t.attempted, t.acked, t.lost, t.phantoms, t.present_unacked);
}

// ", 812 ms after fault #3 (kill) healed" for the last fault healed before `at_us`.
std::string since_heal(const RunFacts& f, int64_t at_us) {
  const Fault* last = nullptr;
  for (const Fault& fault : f.faults) {
    if (fault.end_us <= at_us) last = &fault;
  }
  if (last == nullptr) return "";
  return fmt::format(", {} ms after fault #{} ({}) healed", (at_us - last->end_us) / 1000, last->id,
                     name_of(last->kind));
}

void check_registers(const RunFacts& f, const Bounds& b, std::vector<std::string>& failures,
                     std::string& report) {
  long stale = 0;
  std::string lines;
  for (const RegisterRead& r : f.history.checked) {
    if (r.seen >= r.expected) continue;
    if (++stale <= kListedMax) {
      lines += fmt::format("  stale read: reg-{} at {:.3f} s saw {} after {} was acknowledged{}\n",
                           r.worker, r.at_us / 1e6, r.seen, r.expected, since_heal(f, r.at_us));
    }
  }
  for (const std::string& p : f.history.phantoms) failures.push_back("phantom: " + p);
  report += fmt::format(
      "register workload: {} reads checked for read-your-writes (no fault since the write): "
      "stale {}, phantoms {}\n{}",
      f.history.checked.size(), stale, f.history.phantoms.size(), lines);
  if (b.max_stale_reads >= 0 && stale > b.max_stale_reads) {
    failures.push_back(fmt::format("stale reads: {} (bound {})", stale, b.max_stale_reads));
  }
}

bool of_kind(const std::vector<Fault>& faults, const Op& op, const std::vector<FaultKind>& kinds) {
  return op.fault >= 0 &&
         std::find(kinds.begin(), kinds.end(), faults[op.fault].kind) != kinds.end();
}

void availability_table(const RunFacts& f, std::string& report) {
  const History& h = f.history;
  auto put = [](const Op& op) { return op.kind == OpKind::kPut; };
  auto get = [](const Op& op) { return op.kind == OpKind::kGet; };
  auto line = [&](const std::string& name, const OpFilter& keep) {
    report += row(name, stats_of(h, [&](const Op& op) { return put(op) && keep(op); }),
                  stats_of(h, [&](const Op& op) { return get(op) && keep(op); }));
  };
  report += fmt::format(
      "availability and latency (ms; failures count at their duration):\n"
      "  {:<30} {:>13} {:>7} {:>7} {:>7}   {:>13} {:>7} {:>7} {:>7}\n",
      "requests", "puts ok/sent", "", "p50", "p99", "gets ok/sent", "", "p50", "p99");
  line("all", [](const Op&) { return true; });
  line("healthy", [](const Op& op) { return op.fault < 0; });
  line("during faults", [](const Op& op) { return op.fault >= 0; });
  std::set<FaultKind> seen;
  for (const Fault& fault : f.faults) seen.insert(fault.kind);
  for (FaultKind k : seen) {
    std::string name(name_of(k));
    line(name + ": every node", [&](const Op& op) { return of_kind(f.faults, op, {k}); });
    std::string side = is_partition(k) ? ": side >= W" : ": live nodes";
    line(name + side, [&](const Op& op) { return op.eligible && of_kind(f.faults, op, {k}); });
  }
}

void convergence_table(const RunFacts& f, std::string& report) {
  report += fmt::format(
      "faults and convergence after each heal (ms from the heal; - = not within "
      "the deadline):\n  {:>3} {:<9} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6}  {}\n",
      "#", "kind", "start s", "len s", "agree", "R=N", "hints", "probes", "what");
  auto ms = [](int64_t v) { return v < 0 ? std::string("-") : std::to_string(v); };
  for (const Fault& fault : f.faults) {
    const Convergence& c = fault.convergence;
    report += fmt::format("  {:>3} {:<9} {:>8.1f} {:>7.1f} {:>7} {:>7} {:>7} {:>6}  {}{}\n",
                          fault.id, name_of(fault.kind), fault.start_us / 1e6,
                          (fault.end_us - fault.start_us) / 1e6, ms(c.agree_ms), ms(c.r3_ms),
                          ms(c.hints_ms), c.probes, fault.description,
                          fault.heal_error.empty() ? "" : "  (" + fault.heal_error + ")");
  }
}

// One acceptance figure: printed always, a failure only when its bound is on and missed.
// A value < 0 is a measure that never completed (it misses any bound).
void figure(std::string& report, std::vector<std::string>& failures, const std::string& what,
            double value, const std::string& unit, double bound, bool at_least) {
  bool on = bound >= 0;
  bool pass = !on || (value >= 0 && (at_least ? value >= bound : value <= bound));
  std::string verdict = on ? fmt::format("bound {} {}{}: {}", at_least ? ">=" : "<=", bound, unit,
                                         pass ? "ok" : "MISSED")
                           : "no bound";
  std::string shown = value < 0 ? std::string("never") : fmt::format("{:.2f}{}", value, unit);
  report += fmt::format("  {:<62} {:>12}  ({})\n", what, shown, verdict);
  if (!pass) failures.push_back(fmt::format("{}: {} ({})", what, shown, verdict));
}

void acceptance(const RunFacts& f, const Bounds& b, std::vector<std::string>& failures,
                std::string& report) {
  const std::vector<FaultKind> split = {FaultKind::kPartition, FaultKind::kIsolate};
  Stats puts = stats_of(f.history, [&](const Op& op) {
    return op.kind == OpKind::kPut && op.eligible && of_kind(f.faults, op, split);
  });
  Stats gets = stats_of(f.history, [&](const Op& op) {
    return op.kind == OpKind::kGet && op.eligible && of_kind(f.faults, op, {FaultKind::kKill});
  });
  int64_t heal_max = 0;
  bool heal_missing = false, any_partition = false;
  for (const Fault& fault : f.faults) {
    if (!is_partition(fault.kind)) continue;
    any_partition = true;
    int64_t c = fault.convergence.converged_ms();
    heal_missing |= c < 0;
    heal_max = std::max(heal_max, c);
  }
  report += "acceptance figures:\n";
  if (puts.sent > 0) {
    figure(report, failures, "puts to a side >= W during partition/isolate, acknowledged",
           puts.pct(), "%", b.min_partition_put_pct, true);
    figure(report, failures, "p99 of those puts", puts.percentile(0.99), " ms",
           b.max_partition_put_p99_ms, false);
  }
  if (any_partition) {
    figure(report, failures, "slowest partition heal to agreement and R=N reads",
           heal_missing ? -1.0 : static_cast<double>(heal_max), " ms", b.max_heal_ms, false);
  }
  if (gets.sent > 0) {
    figure(report, failures, "R=2 gets to live nodes with 2 nodes killed, succeeded", gets.pct(),
           "%", b.min_kill_get_pct, true);
  }
}

}  // namespace

Verdict check(const RunFacts& facts, const Bounds& bounds) {
  Verdict v;
  check_sets(facts, v.failures, v.report);
  check_registers(facts, bounds, v.failures, v.report);
  availability_table(facts, v.report);
  convergence_table(facts, v.report);
  acceptance(facts, bounds, v.failures, v.report);
  for (const std::string& e : facts.errors) v.failures.push_back(e);
  return v;
}

}  // namespace qkv::faults
