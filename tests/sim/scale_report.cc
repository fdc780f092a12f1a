// scale_table and scale_json (scale.h): the figures of a scale run, for people and tools.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/sim/scale.h"

namespace qkv::sim {

std::string scale_table(const ScaleResult& result) {
  const ScaleConfig& c = result.config;
  std::string out = fmt::format(
      "qkv-sim --scale: nodes={} seeds={} seed={} interval={}ms delay={}..{}ms loss={} "
      "states_per_message_max={}\n",
      c.nodes, c.seed_nodes, c.seed, c.interval.count(), c.delay_min.count(), c.delay_max.count(),
      c.loss, c.states_per_message_max);
  out += fmt::format("{:<10} {:>6} {:>9} {:>7} {:>7} {:>10} {:>10} {:>11} {:>11} {:>11}\n",
                     "scenario", "nodes", "seconds", "rounds", "log2n", "msgs/n/r", "busiest/r",
                     "bytes/n/r", "states/n/r", "beats/n/r");
  for (const ScenarioResult& s : result.scenarios) {
    const std::string rounds =
        s.converged ? fmt::format("{}", s.rounds) : fmt::format(">{}", s.rounds);
    out += fmt::format(
        "{:<10} {:>6} {:>9.3f} {:>7} {:>7.2f} {:>10.2f} {:>10.1f} {:>11.0f} {:>11.1f} {:>11.1f}\n",
        s.name, s.nodes, s.seconds, rounds, std::log2(static_cast<double>(s.nodes)),
        s.messages_per_node_round, s.messages_per_node_round_max, s.bytes_per_node_round,
        s.states_per_node_round, s.heartbeats_per_node_round);
  }
  for (const ScenarioResult& s : result.scenarios) {
    if (s.name != "crash") continue;
    out += fmt::format(
        "crash: observers heard a newer heartbeat of the crashed node every {:.0f} ms on average "
        "({:.0f} ms at most); phi convicts after 18.4 such intervals of silence\n",
        s.heartbeat_interval_ms_mean, s.heartbeat_interval_ms_max);
  }
  out += fmt::format("deliveries {}, false convictions {}, members refused {}, trace {:016x}\n",
                     result.deliveries, result.false_convictions, result.members_refused,
                     result.trace_hash);
  return out;
}

std::string scale_json(const ScaleResult& result) {
  const ScaleConfig& c = result.config;
  nlohmann::ordered_json j;
  j["config"] = {{"nodes", c.nodes},
                 {"seed_nodes", c.seed_nodes},
                 {"seed", c.seed},
                 {"interval_ms", c.interval.count()},
                 {"delay_min_ms", c.delay_min.count()},
                 {"delay_max_ms", c.delay_max.count()},
                 {"loss", c.loss},
                 {"states_per_message_max", c.states_per_message_max},
                 {"bytes_measured", c.measure_bytes},
                 {"scenarios", c.scenarios}};
  nlohmann::ordered_json scenarios = nlohmann::ordered_json::array();
  for (const ScenarioResult& s : result.scenarios) {
    scenarios.push_back({{"name", s.name},
                         {"converged", s.converged},
                         {"nodes", s.nodes},
                         {"seconds", s.seconds},
                         {"rounds", s.rounds},
                         {"messages", s.messages},
                         {"messages_per_node_round", s.messages_per_node_round},
                         {"messages_per_node_round_max", s.messages_per_node_round_max},
                         {"bytes_per_node_round", s.bytes_per_node_round},
                         {"states_per_node_round", s.states_per_node_round},
                         {"heartbeats_per_node_round", s.heartbeats_per_node_round}});
    if (s.name == "crash") {
      scenarios.back()["heartbeat_interval_ms_mean"] = s.heartbeat_interval_ms_mean;
      scenarios.back()["heartbeat_interval_ms_max"] = s.heartbeat_interval_ms_max;
    }
  }
  j["scenarios"] = std::move(scenarios);
  j["deliveries"] = result.deliveries;
  j["false_convictions"] = result.false_convictions;
  j["members_refused"] = result.members_refused;
  j["trace_hash"] = fmt::format("{:016x}", result.trace_hash);
  return j.dump(2);
}

std::vector<std::string> check_scale(const ScaleResult& result) {
  std::vector<std::string> out;
  for (const ScenarioResult& s : result.scenarios) {
    if (!s.converged) {
      out.push_back(fmt::format("{}: not every node had it after {} rounds", s.name, s.rounds));
      continue;
    }
    const double log_rounds_max = 3 * std::log2(static_cast<double>(s.nodes));
    if (s.name != "steady" && s.name != "crash" && s.rounds > log_rounds_max) {
      out.push_back(fmt::format("{}: {} rounds to reach all {} nodes, more than 3*log2(n) = {:.1f}",
                                s.name, s.rounds, s.nodes, log_rounds_max));
    }
    if (s.name == "crash" && s.rounds > kCrashRoundsMax) {
      out.push_back(fmt::format("crash: {} rounds until every node convicted it, more than {}",
                                s.rounds, kCrashRoundsMax));
    }
    if (s.messages_per_node_round > 4) {
      out.push_back(fmt::format("{}: {:.2f} messages per node per round, more than 4", s.name,
                                s.messages_per_node_round));
    }
  }
  if (result.false_convictions > 0) {
    out.push_back(fmt::format("{} verdicts of down about live nodes", result.false_convictions));
  }
  if (result.members_refused > 0) {
    out.push_back(fmt::format("{} members refused", result.members_refused));
  }
  return out;
}

}  // namespace qkv::sim
