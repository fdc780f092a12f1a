// qkv-sim --scale: the gossip and ring cores alone on 1,000+ simulated nodes, measuring how
// fast membership news spreads and what it costs (docs/testing.md, "Scale mode").
//
// One GossipCore per node on a simulated network (each message delayed delay_min..delay_max
// ms, dropped with probability `loss`) and a simulated clock. Every node ticks once per
// gossip interval at its own phase (drawn uniformly in [0, interval)); the first
// `seed_nodes` nodes are the seeds, and every node starts knowing only their addresses.
// Scenarios, run one after the other in one cluster:
//   bootstrap  all nodes start at once; until every node knows every member
//   steady     a fixed window of quiet rounds (no change): the background cost
//   join       a new node starts configured with one seed; until every node lists it
//   status     a node sets its status to leaving; until every node holds that state
//   ring       a seed commits a new ring (ring::Ring::claim over all members, Q=256,
//              n=3); until every node has adopted it
//   crash      a node stops ticking and answering (messages to it vanish, no refused
//              connection); until every other node's verdict on it is down (phi >=
//              phi_convict, evaluated once per round: the kDown event)
// Each reports the simulated time from the change to the last node having it, in gossip
// rounds (intervals, rounded up), and what live nodes sent meanwhile: messages (Syn, Ack,
// Ack2) per node per round, the busiest node's rate, bytes per node per round as the real
// codec (node/wire) frames them, and the full states and heartbeat entries carried.
//
// Determinism: one thread; events ordered by (time, sequence); every random choice (phases,
// delays, losses, each core's seed) drawn from one std::mt19937_64 seeded by `seed`; only
// ordered containers are iterated. Same seed and build -> same figures; `trace_hash`
// fingerprints every delivery (time, sender, receiver, kind, size).
//
// Cost: O(n^2) memory (every node holds every member, and a failure-detector window per
// member): about 1.1 GB at 1,000 nodes, 4.5 GB at 2,000. Thread-safety: none needed (pure
// function of the config).
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"

namespace qkv::sim {

// The scenarios that may follow bootstrap (which always runs); they run in the order of
// the comment above, whatever the order here.
inline const std::set<std::string> kScaleScenarios = {"steady", "join", "status", "ring", "crash"};

struct ScaleConfig {
  uint64_t seed = 1;
  int nodes = 1000;         // the initial cluster (the join scenario adds one); >= 2
  int seed_nodes = 3;       // gossip seeds, nodes 0..seed_nodes-1; 1..nodes
  Duration interval{1000};  // gossip interval; one round
  Duration delay_min{1};    // one-way message delay, uniform in [delay_min, delay_max]
  Duration delay_max{50};
  double loss = 0;                           // probability a message is dropped; [0, 1)
  std::size_t states_per_message_max = 256;  // GossipConfig's (its default)
  int steady_rounds = 10;                    // the steady window (also settles the detectors); >= 1
  int quiet_rounds = 3;       // between scenarios, so one's traffic does not bleed into the next
  int rounds_max = 300;       // a scenario not done by then is reported as not converged
  bool measure_bytes = true;  // encode every message with the real codec (~15% more time)
  std::set<std::string> scenarios = kScaleScenarios;  // which follow bootstrap; a subset
};

struct ScenarioResult {
  std::string name;
  bool converged = false;
  int nodes = 0;          // nodes that had to get the news
  double seconds = 0;     // simulated time from the change to the last of them having it
  int rounds = 0;         // ceil(seconds / interval); the window's length for "steady"
  uint64_t messages = 0;  // sent by live nodes during the window
  double messages_per_node_round = 0;
  double messages_per_node_round_max = 0;  // the busiest node over the window
  double bytes_per_node_round = 0;         // 0 unless measure_bytes
  double states_per_node_round = 0;        // NodeStates carried (Ack/Ack2), per node per round
  double heartbeats_per_node_round = 0;    // heartbeat entries carried (Ack/Ack2), the same
  // crash only: the observers' failure-detector mean interval between heartbeat arrivals
  // (newer heartbeats, in states or heartbeat entries) of the crashed node, when it crashed:
  // the average and the largest.
  // Conviction waits 8 ln(10) = 18.4 of these after the last arrival.
  double heartbeat_interval_ms_mean = 0;
  double heartbeat_interval_ms_max = 0;
};

struct ScaleResult {
  ScaleConfig config;
  std::vector<ScenarioResult> scenarios;  // in the order above
  uint64_t false_convictions = 0;         // kDown verdicts about a live node, over the run
  uint64_t members_refused = 0;           // summed GossipStats::members_refused
  uint64_t deliveries = 0;                // messages delivered
  uint64_t trace_hash = 0;

  // The scenario called `name`. REQUIRES: it exists.
  const ScenarioResult& at(const std::string& name) const;
};

// Runs every scenario. REQUIRES: the config's stated ranges (asserted).
ScaleResult run_scale(const ScaleConfig& config);

// The bounds a healthy gossip layer keeps, as messages naming the scenario and the figure
// (empty: all hold):
// - every scenario converged (within rounds_max), no live node was ever convicted, and no
//   member was refused;
// - bootstrap, join, status and ring reached every node within 3 * log2(n) rounds (push-pull
//   anti-entropy spreads in O(log n) rounds: Demers et al. 1987; van Renesse et al. 2008);
// - live nodes sent at most 4 messages per node per round on average in every window
//   (about 1 Syn, 1 Ack and 1 Ack2 each: never the O(n) of flooding);
// - crash: every live node convicted the crashed one within kCrashRoundsMax rounds.
std::vector<std::string> check_scale(const ScaleResult& result);

// phi reaches 8 after 8 ln 10 = 18.4 mean heartbeat inter-arrival times of silence; the
// mean is ~1.5-1.7 intervals here at 256 to 2,000 nodes, up to ~2.8 for the unluckiest
// observer (news of a heartbeat reaches an observer every round or two, as heartbeat
// entries that states_per_message_max does not ration), plus the time for the last
// heartbeat to spread. Measured: 41-53 rounds (docs/testing.md).
inline constexpr int kCrashRoundsMax = 80;

// A human-readable table, one row per scenario, and a headline.
std::string scale_table(const ScaleResult& result);
// The same as a JSON object (config, scenarios, totals, trace hash in hex).
std::string scale_json(const ScaleResult& result);

}  // namespace qkv::sim
