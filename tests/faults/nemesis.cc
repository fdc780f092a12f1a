#include "tests/faults/nemesis.h"

#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace qkv::faults {
namespace {

constexpr std::array<std::pair<FaultKind, std::string_view>, 7> kNames = {{
    {FaultKind::kPartition, "partition"},
    {FaultKind::kIsolate, "isolate"},
    {FaultKind::kBridge, "bridge"},
    {FaultKind::kOneWay, "oneway"},
    {FaultKind::kKill, "kill"},
    {FaultKind::kPause, "pause"},
    {FaultKind::kSkew, "skew"},
}};

constexpr auto kRestartDeadline = std::chrono::seconds(30);

std::string names_of(const std::vector<int>& nodes) {
  std::string out;
  for (int i : nodes) out += fmt::format("{}n{}", out.empty() ? "" : " ", i + 1);
  return "{" + out + "}";
}

// Cuts every pair across `a` and `b`: both ways, or only what `a` sends to `b`.
void cut(Fault& f, const std::vector<int>& a, const std::vector<int>& b, bool both_ways) {
  for (int i : a) {
    for (int j : b) {
      f.deaf[j][i] = true;
      if (both_ways) f.deaf[i][j] = true;
    }
  }
}

std::vector<int> shuffled(int nodes, std::mt19937_64& rng) {
  std::vector<int> order(nodes);
  for (int i = 0; i < nodes; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

void plan_partition(Fault& f, std::vector<int> order) {
  auto half = order.begin() + static_cast<long>(order.size() / 2);
  std::vector<int> a(order.begin(), half), b(half, order.end());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  switch (f.kind) {
    case FaultKind::kPartition:
      cut(f, a, b, true);
      f.description = names_of(a) + " | " + names_of(b);
      break;
    case FaultKind::kIsolate:
      a = {order[0]};
      b.assign(order.begin() + 1, order.end());
      std::sort(b.begin(), b.end());
      cut(f, a, b, true);
      f.description = names_of(a) + " | " + names_of(b);
      break;
    case FaultKind::kBridge: {
      std::vector<int> left(order.begin(), half - (order.size() % 2 ? 0 : 1));
      std::vector<int> right(half, order.end() - 1);
      std::sort(left.begin(), left.end());
      std::sort(right.begin(), right.end());
      cut(f, left, right, true);
      f.description =
          fmt::format("{} | {}, bridged by n{}", names_of(left), names_of(right), order.back() + 1);
      break;
    }
    default:  // kOneWay
      cut(f, a, b, false);
      f.description = names_of(a) + " -> " + names_of(b) + " dropped";
      break;
  }
}

}  // namespace

std::string_view name_of(FaultKind kind) {
  for (const auto& [k, name] : kNames) {
    if (k == kind) return name;
  }
  return "?";
}

bool is_partition(FaultKind kind) {
  return kind == FaultKind::kPartition || kind == FaultKind::kIsolate ||
         kind == FaultKind::kBridge || kind == FaultKind::kOneWay;
}

std::optional<std::vector<FaultKind>> parse_nemesis(std::string_view text) {
  std::vector<FaultKind> kinds;
  while (!text.empty()) {
    std::string_view name = text.substr(0, text.find(','));
    text.remove_prefix(std::min(text.size(), name.size() + 1));
    if (name == "all" || name == "partitions") {
      for (const auto& [k, n] : kNames) {
        if (name == "all" || is_partition(k)) kinds.push_back(k);
      }
      continue;
    }
    auto it =
        std::find_if(kNames.begin(), kNames.end(), [&](const auto& e) { return e.second == name; });
    if (it == kNames.end()) return std::nullopt;
    kinds.push_back(it->first);
  }
  if (kinds.empty()) return std::nullopt;
  return kinds;
}

Fault plan_fault(FaultKind kind, int nodes, std::mt19937_64& rng) {
  Fault f;
  f.kind = kind;
  f.deaf.assign(nodes, std::vector<bool>(nodes, false));
  std::vector<int> order = shuffled(nodes, rng);
  if (is_partition(kind)) {
    plan_partition(f, order);
    return f;
  }
  int count = kind == FaultKind::kPause ? 1 + static_cast<int>(rng() % 2) : 2;
  f.nodes.assign(order.begin(), order.begin() + std::min(count, nodes - 1));
  std::sort(f.nodes.begin(), f.nodes.end());
  if (kind == FaultKind::kSkew) {
    std::string parts;
    for (int i : f.nodes) {
      long seconds = 5 + static_cast<long>(rng() % 116);
      if (rng() % 2) seconds = -seconds;
      f.offsets.push_back(seconds);
      parts += fmt::format("{}n{} {:+}s", parts.empty() ? "" : ", ", i + 1, seconds);
    }
    f.description = parts;
  } else {
    f.description = names_of(f.nodes);
  }
  return f;
}

std::vector<bool> eligible_nodes(const Fault& fault, int nodes, int w) {
  auto runs = [&](int i) {
    bool down = fault.kind == FaultKind::kKill || fault.kind == FaultKind::kPause;
    return !down || std::find(fault.nodes.begin(), fault.nodes.end(), i) == fault.nodes.end();
  };
  std::vector<bool> eligible(nodes, false);
  for (int i = 0; i < nodes; ++i) {
    if (!runs(i)) continue;
    int side = 0;
    for (int j = 0; j < nodes; ++j) {
      if (runs(j) && !fault.deaf[i][j] && !fault.deaf[j][i]) ++side;
    }
    eligible[i] = side >= w;
  }
  return eligible;
}

Nemesis::Nemesis(NemesisConfig config, Lab& lab, Cluster& cluster, FaultBoard& board,
                 Prober& prober, SteadyClock::time_point start)
    : config_(std::move(config)),
      lab_(lab),
      cluster_(cluster),
      board_(board),
      prober_(prober),
      start_(start),
      rng_(config_.seed) {}

void Nemesis::run(const Stopper& stop, const Stopper& interrupt) {
  std::vector<FaultKind> order;
  std::size_t next = 0;
  auto healthy_until = SteadyClock::now() + config_.healthy_time;
  try {
    while (!stop.wait_until(healthy_until)) {
      note_crashes();
      if (next == order.size()) {
        order = config_.kinds;
        std::shuffle(order.begin(), order.end(), rng_);
        next = 0;
      }
      // The healthy time counts from the heal: convergence is measured within it.
      healthy_until = one_fault(order[next++], stop, interrupt) + config_.healthy_time;
    }
    note_crashes();
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

SteadyClock::time_point Nemesis::one_fault(FaultKind kind, const Stopper& stop,
                                           const Stopper& interrupt) {
  Fault f = plan_fault(kind, cluster_.size(), rng_);
  f.id = static_cast<int>(faults_.size());
  if (kind == FaultKind::kSkew && !cluster_.skew_supported()) return SteadyClock::now();
  apply(f);
  faults_.push_back(f);
  auto started = SteadyClock::now();
  std::vector<Probe> probes;
  if (!stop.wait_until(started + config_.fault_time / 2)) {
    probes = prober_.write_probes(f.id, config_.probes, f.eligible, rng_);
    stop.wait_until(started + config_.fault_time);
  }
  heal(f);
  auto healed = SteadyClock::now();
  std::vector<bool> running(cluster_.size());
  for (int i = 0; i < cluster_.size(); ++i) running[i] = cluster_.running(i);
  f.convergence =
      prober_.converge(f.id, probes, running, healed, config_.converge_deadline, interrupt);
  faults_.back() = f;
  return healed;
}

void Nemesis::apply(Fault& f) {
  for (int i = 0; i < cluster_.size(); ++i) {
    std::vector<int> from;
    for (int j = 0; j < cluster_.size(); ++j) {
      if (f.deaf[i][j]) from.push_back(j);
    }
    if (!from.empty()) lab_.set_drops(i, from);
  }
  for (std::size_t k = 0; k < f.nodes.size(); ++k) {
    int i = f.nodes[k];
    if (f.kind == FaultKind::kKill) cluster_.kill9(i);
    if (f.kind == FaultKind::kPause) cluster_.pause(i);
    if (f.kind == FaultKind::kSkew) cluster_.set_clock_offset(i, f.offsets[k]);
  }
  f.start_us = micros_since(start_);
  f.eligible = eligible_nodes(f, cluster_.size(), config_.w);
  board_.publish(f.id, f.eligible);
}

void Nemesis::heal(Fault& f) {
  if (is_partition(f.kind)) {
    for (int i = 0; i < cluster_.size(); ++i) lab_.set_drops(i, {});
  }
  for (int i : f.nodes) {
    if (f.kind == FaultKind::kKill) cluster_.start(i);
    if (f.kind == FaultKind::kPause) cluster_.resume(i);
    if (f.kind == FaultKind::kSkew) cluster_.set_clock_offset(i, 0);
  }
  if (f.kind == FaultKind::kKill) {
    for (int i : f.nodes) {
      if (!cluster_.wait_ready(i, kRestartDeadline)) {
        f.heal_error += fmt::format("n{} did not answer within 30 s of its restart; ", i + 1);
      }
    }
  }
  f.end_us = micros_since(start_);
  board_.publish(-1, std::vector<bool>(cluster_.size(), true));
}

void Nemesis::note_crashes() {
  for (int i = 0; i < cluster_.size(); ++i) {
    std::optional<int> status = cluster_.exit_status(i);
    if (!status) continue;
    crashes_.push_back(fmt::format(
        "n{} exited by itself at {:.1f} s ({} {}); see {}", i + 1, micros_since(start_) / 1e6,
        WIFSIGNALED(*status) ? "signal" : "status",
        WIFSIGNALED(*status) ? WTERMSIG(*status) : WEXITSTATUS(*status), cluster_.log_path(i)));
    cluster_.start(i);
    cluster_.wait_ready(i, kRestartDeadline);
  }
}

}  // namespace qkv::faults
