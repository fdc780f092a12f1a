#include "tests/faults/prober.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "ring/token.h"

namespace qkv::faults {
namespace {

constexpr int kQuorumProbeKeys = 8;
constexpr auto kPollInterval = std::chrono::milliseconds(100);

std::vector<std::string> sorted(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  return values;
}

}  // namespace

Prober::Prober(std::vector<std::string> nodes, ring::Ring ring, int n, uint32_t timeout_ms)
    : ring_(std::move(ring)), n_(n) {
  for (const std::string& node : nodes) {
    client::Options options;
    options.nodes = {node};
    options.timeout_ms = timeout_ms;
    options.connect_timeout_ms = std::min<uint32_t>(timeout_ms, 1000);
    clients_.emplace_back(options);
  }
}

std::vector<int> Prober::primaries(const std::string& key) const {
  std::vector<int> out;
  auto list = ring_.preference_list(ring::token_of(key), static_cast<uint32_t>(n_));
  for (const NodeId& id : list.primaries) out.push_back(std::stoi(id.substr(1)) - 1);  // "nK"
  return out;
}

std::vector<Probe> Prober::write_probes(int fault, int count, const std::vector<bool>& usable,
                                        std::mt19937_64& rng) {
  std::vector<int> nodes;
  for (int i = 0; i < static_cast<int>(usable.size()); ++i) {
    if (usable[i]) nodes.push_back(i);
  }
  std::vector<Probe> acked;
  if (nodes.empty()) return acked;
  for (int i = 0; i < count; ++i) {
    Probe probe{fmt::format("probe-{}-{}", fault, i), fmt::format("p{}-{}", fault, i)};
    int node = nodes[rng() % nodes.size()];
    if (clients_[node].put(probe.key, probe.value).is_ok()) acked.push_back(probe);
  }
  return acked;
}

bool Prober::replicas_agree(const std::string& key, const std::string& value) {
  std::vector<std::string> first;
  bool have_first = false;
  for (int node : primaries(key)) {
    auto local = clients_[node].get(key, client::ReadOptions{.local = true});
    if (!local.is_ok()) return false;
    std::vector<std::string> values = sorted(local->values);
    if (!value.empty() && std::find(values.begin(), values.end(), value) == values.end()) {
      return false;
    }
    if (have_first && values != first) return false;
    first = std::move(values);
    have_first = true;
  }
  return true;
}

bool Prober::quorum_reads_ok(int fault, const std::vector<bool>& running) {
  if (std::find(running.begin(), running.end(), true) == running.end()) return false;
  for (int i = 0; i < kQuorumProbeKeys; ++i) {
    int node = next_node_++ % static_cast<int>(clients_.size());
    while (!running[node]) node = next_node_++ % static_cast<int>(clients_.size());
    auto read = clients_[node].get(fmt::format("r3-{}-{}", fault, i),
                                   client::ReadOptions{.r = static_cast<uint8_t>(n_)});
    if (!read.is_ok()) return false;
  }
  return true;
}

bool Prober::no_hints_pending(const std::vector<bool>& running) {
  for (int node = 0; node < static_cast<int>(clients_.size()); ++node) {
    if (!running[node]) continue;
    auto status = clients_[node].node_status(0);
    if (!status.is_ok()) return false;
    for (const auto& [name, value] : status->counters) {
      if (name == "hints_pending" && value > 0) return false;
    }
  }
  return true;
}

Convergence Prober::converge(int fault, const std::vector<Probe>& probes,
                             const std::vector<bool>& running, SteadyClock::time_point healed,
                             std::chrono::milliseconds deadline, const Stopper& stopper) {
  Convergence c;
  c.probes = static_cast<int>(probes.size());
  auto elapsed_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - healed)
        .count();
  };
  auto next = SteadyClock::now();
  while (SteadyClock::now() < healed + deadline) {
    if (c.agree_ms < 0 && std::all_of(probes.begin(), probes.end(), [&](const Probe& p) {
          return replicas_agree(p.key, p.value);
        })) {
      c.agree_ms = elapsed_ms();
    }
    if (c.r3_ms < 0 && quorum_reads_ok(fault, running)) c.r3_ms = elapsed_ms();
    if (c.hints_ms < 0 && no_hints_pending(running)) c.hints_ms = elapsed_ms();
    if (c.agree_ms >= 0 && c.r3_ms >= 0 && c.hints_ms >= 0) break;
    next += kPollInterval;
    if (stopper.wait_until(std::min(next, healed + deadline))) break;
  }
  return c;
}

std::vector<FinalKey> Prober::final_read(const std::vector<std::string>& keys,
                                         std::chrono::milliseconds deadline) {
  auto until = SteadyClock::now() + deadline;
  std::vector<FinalKey> out;
  for (const std::string& key : keys) {
    FinalKey f;
    f.key = key;
    while (!f.read && SteadyClock::now() < until) {
      int node = next_node_++ % static_cast<int>(clients_.size());
      auto read = clients_[node].get(key, client::ReadOptions{.r = static_cast<uint8_t>(n_)});
      if (read.is_ok()) {
        f.read = true;
        f.values = read->values;
      } else {
        std::this_thread::sleep_for(kPollInterval);  // polling interval only
      }
    }
    while (f.read && !f.agree && SteadyClock::now() < until) {
      f.agree = replicas_agree(key, "");
      if (!f.agree) std::this_thread::sleep_for(kPollInterval);  // polling interval only
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace qkv::faults
