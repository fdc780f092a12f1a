#include "tests/sim/scale.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "common/assert.h"
#include "gossip/gossip_core.h"
#include "node/wire/replica_codec.h"
#include "ring/ring.h"

namespace qkv::sim {
namespace {

constexpr uint64_t kFnvPrime = 0x100000001b3ull;
constexpr uint32_t kRingPartitions = 256;
constexpr uint32_t kRingReplicas = 3;

NodeId id_of(int i) {
  return fmt::format("n{:04}", i);
}
std::string address_of(int i) {
  return id_of(i) + ":7000";
}

// Something to do at a time: a node's gossip tick, or a message arriving (from >= 0).
struct Pending {
  TimePoint at;
  uint64_t seq = 0;
  int to = 0;
  int from = -1;  // -1: a tick of `to`
  gossip::Message message;
};

struct Later {
  bool operator()(const Pending& a, const Pending& b) const {
    return std::tie(a.at, a.seq) > std::tie(b.at, b.seq);
  }
};

// What one node sent, cumulatively.
struct Counters {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t states = 0;
  uint64_t heartbeats = 0;
};

std::size_t states_in(const gossip::Message& m) {
  if (const auto* ack = std::get_if<gossip::Ack>(&m)) return ack->states.size();
  if (const auto* ack2 = std::get_if<gossip::Ack2>(&m)) return ack2->states.size();
  return 0;
}

std::size_t heartbeats_in(const gossip::Message& m) {
  if (const auto* ack = std::get_if<gossip::Ack>(&m)) return ack->heartbeats.size();
  if (const auto* ack2 = std::get_if<gossip::Ack2>(&m)) return ack2->heartbeats.size();
  return 0;
}

std::size_t size_of(const gossip::Message& m) {
  if (const auto* syn = std::get_if<gossip::Syn>(&m)) return syn->digests.size();
  return states_in(m) + heartbeats_in(m);
}

class ScaleSim {
 public:
  explicit ScaleSim(const ScaleConfig& config);
  ScaleResult run();

 private:
  struct Node {
    std::unique_ptr<gossip::GossipCore> core;
    bool running = false;
    Counters sent;
  };
  // The scenario being measured: which nodes must get the news, and who has it so far.
  struct Watch {
    std::function<bool(int)> has_it;
    std::vector<char> done;  // per node; 1 also for nodes that need not get it
    int remaining = 0;
    std::optional<TimePoint> finished;
  };

  uint64_t below(uint64_t n) { return rng_() % n; }  // raw engine: same on every platform
  bool chance(double p) { return p > 0 && static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }
  void hash(uint64_t v) { trace_hash_ = (trace_hash_ ^ v) * kFnvPrime; }

  void start_node(int i, TimePoint first_round, std::vector<std::string> seeds);
  void push(Pending p);
  void send(int from, std::vector<gossip::Outgoing> out);
  void after_call(int i);
  void process(Pending p);
  // Processes events up to `deadline`, or until the watch is satisfied; returns with
  // now_ at the last event processed (or at the deadline).
  void run_until(TimePoint deadline);
  void run_for(Duration d) { run_until(now_ + d); }

  // Applies `change` now, then runs until has_it holds on every running node (or
  // rounds_max); measures the window.
  ScenarioResult measure(std::string name, const std::function<void()>& change,
                         std::function<bool(int)> has_it);
  ScenarioResult window_result(std::string name, TimePoint start, TimePoint end,
                               const std::vector<Counters>& before) const;
  int pick_non_seed();

  // The scenarios (scale.h), each appending its result.
  void bootstrap(std::vector<ScenarioResult>& out);
  void steady(std::vector<ScenarioResult>& out);
  void join(std::vector<ScenarioResult>& out);
  void status(std::vector<ScenarioResult>& out);
  void ring(std::vector<ScenarioResult>& out);
  void crash(std::vector<ScenarioResult>& out);

  ScaleConfig config_;
  gossip::GossipConfig gossip_;
  std::mt19937_64 rng_;
  TimePoint now_{Duration(0)};
  std::vector<Node> nodes_;
  std::map<std::string, int> by_address_;
  std::vector<Pending> heap_;  // a min-heap by (at, seq), via Later
  uint64_t next_seq_ = 0;
  std::optional<Watch> watch_;
  std::set<int> picked_;            // nodes a scenario changed or crashed
  NodeId crashed_;                  // the crash scenario's node, once crashed
  std::vector<char> convicted_;     // per node: has its verdict on crashed_ gone down
  uint64_t false_convictions_ = 0;  // kDown verdicts about any other node
  uint64_t deliveries_ = 0;
  uint64_t trace_hash_ = 0xcbf29ce484222325ull;
};

ScaleSim::ScaleSim(const ScaleConfig& config) : config_(config), rng_(config.seed) {
  QKV_ASSERT(config_.nodes >= 2);
  QKV_ASSERT(config_.seed_nodes >= 1 && config_.seed_nodes <= config_.nodes);
  QKV_ASSERT(config_.interval.count() > 0);
  QKV_ASSERT(config_.delay_min.count() >= 0 && config_.delay_min <= config_.delay_max);
  QKV_ASSERT(config_.loss >= 0 && config_.loss < 1);
  QKV_ASSERT(config_.steady_rounds >= 1 && config_.quiet_rounds >= 0);
  QKV_ASSERT(config_.rounds_max >= 1);
  gossip_.interval = config_.interval;
  gossip_.states_per_message_max = config_.states_per_message_max;
  // The default (4,096) unless the cluster needs more: --nodes 5000 measures gossip, not the
  // refusal of members past the limit.
  gossip_.members_max = std::max(gossip_.members_max, static_cast<std::size_t>(config_.nodes) + 64);
  gossip_.heartbeats_per_message_max = gossip_.members_max;
  for (int i = 0; i < config_.seed_nodes; ++i) gossip_.seeds.push_back(address_of(i));
  nodes_.resize(static_cast<std::size_t>(config_.nodes) + 1);  // the last one joins later
  convicted_.assign(nodes_.size(), 0);
  for (int i = 0; i <= config_.nodes; ++i) by_address_[address_of(i)] = i;
}

void ScaleSim::start_node(int i, TimePoint first_round, std::vector<std::string> seeds) {
  gossip::NodeState self;
  self.id = id_of(i);
  self.generation = 1;
  self.version = 1;
  self.peer_address = address_of(i);
  self.client_address = id_of(i) + ":9000";
  self.zone = fmt::format("zone-{}", i % 3);
  self.status = gossip::Status::kNormal;
  Node& n = nodes_[i];
  gossip::GossipConfig config = gossip_;
  config.seeds = std::move(seeds);
  n.core = std::make_unique<gossip::GossipCore>(std::move(config), std::move(self),
                                                gossip::RingState{}, rng_(), first_round);
  n.running = true;
  push({first_round, 0, i, -1, {}});
}

void ScaleSim::push(Pending p) {
  p.seq = next_seq_++;
  heap_.push_back(std::move(p));
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void ScaleSim::send(int from, std::vector<gossip::Outgoing> out) {
  Counters& c = nodes_[from].sent;
  for (gossip::Outgoing& o : out) {
    ++c.messages;
    c.states += states_in(o.message);
    c.heartbeats += heartbeats_in(o.message);
    if (config_.measure_bytes) {
      node::PeerMessage frame{id_of(from), 0, node::Gossip{std::move(o.message)}};
      c.bytes += node::encode(frame).size() * sizeof(capnp::word);
      o.message = std::move(std::get<node::Gossip>(frame.body).message);
    }
    auto it = by_address_.find(o.address);
    QKV_ASSERT(it != by_address_.end());
    if (chance(config_.loss)) continue;
    const uint64_t span = static_cast<uint64_t>((config_.delay_max - config_.delay_min).count());
    const Duration delay = config_.delay_min + Duration(static_cast<int64_t>(below(span + 1)));
    push({now_ + delay, 0, it->second, from, std::move(o.message)});
  }
}

void ScaleSim::after_call(int i) {
  for (const gossip::Event& e : nodes_[i].core->take_events()) {
    if (e.kind != gossip::Event::kDown) continue;
    if (e.id == crashed_) {
      convicted_[i] = 1;
    } else {
      ++false_convictions_;
    }
  }
  if (watch_ && !watch_->done[i] && watch_->has_it(i)) {
    watch_->done[i] = 1;
    if (--watch_->remaining == 0) watch_->finished = now_;
  }
}

void ScaleSim::process(Pending p) {
  Node& n = nodes_[p.to];
  if (!n.running) return;  // a crashed node: its ticks stop, messages to it vanish
  if (p.from < 0) {
    send(p.to, n.core->on_tick(now_));
    push({now_ + config_.interval, 0, p.to, -1, {}});
  } else {
    ++deliveries_;
    hash(static_cast<uint64_t>(now_.time_since_epoch().count()));
    hash(static_cast<uint64_t>(p.from) << 32 | static_cast<uint64_t>(p.to));
    hash(p.message.index() << 32 | size_of(p.message));
    send(p.to, n.core->on_message(p.message, now_));
  }
  after_call(p.to);
}

void ScaleSim::run_until(TimePoint deadline) {
  while (!heap_.empty() && heap_.front().at <= deadline) {
    if (watch_ && watch_->finished) return;
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Pending p = std::move(heap_.back());
    heap_.pop_back();
    now_ = p.at;
    process(std::move(p));
  }
  if (!(watch_ && watch_->finished)) now_ = deadline;
}

ScenarioResult ScaleSim::measure(std::string name, const std::function<void()>& change,
                                 std::function<bool(int)> has_it) {
  std::vector<Counters> before;
  for (const Node& n : nodes_) before.push_back(n.sent);
  const TimePoint start = now_;
  change();
  Watch w{std::move(has_it), std::vector<char>(nodes_.size(), 1), 0, std::nullopt};
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (!nodes_[i].running || w.has_it(i)) continue;
    w.done[i] = 0;
    ++w.remaining;
  }
  if (w.remaining == 0) w.finished = now_;
  watch_ = std::move(w);
  run_until(start + config_.rounds_max * config_.interval);
  const std::optional<TimePoint> finished = watch_->finished;
  watch_.reset();
  ScenarioResult r = window_result(std::move(name), start, finished.value_or(now_), before);
  r.converged = finished.has_value();
  return r;
}

ScenarioResult ScaleSim::window_result(std::string name, TimePoint start, TimePoint end,
                                       const std::vector<Counters>& before) const {
  ScenarioResult r;
  r.name = std::move(name);
  const double ms = static_cast<double>((end - start).count());
  const double interval = static_cast<double>(config_.interval.count());
  r.seconds = ms / 1000;
  r.rounds = static_cast<int>((end - start + config_.interval - Duration(1)) / config_.interval);
  // Rates over at least one round: a change that spreads within a round costs a round.
  const double rounds = std::max(ms / interval, 1.0);
  uint64_t bytes = 0, states = 0, heartbeats = 0, busiest = 0;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].running) continue;
    ++r.nodes;
    const uint64_t m = nodes_[i].sent.messages - before[i].messages;
    r.messages += m;
    busiest = std::max(busiest, m);
    bytes += nodes_[i].sent.bytes - before[i].bytes;
    states += nodes_[i].sent.states - before[i].states;
    heartbeats += nodes_[i].sent.heartbeats - before[i].heartbeats;
  }
  const double node_rounds = rounds * r.nodes;
  r.messages_per_node_round = static_cast<double>(r.messages) / node_rounds;
  r.messages_per_node_round_max = static_cast<double>(busiest) / rounds;
  r.bytes_per_node_round = static_cast<double>(bytes) / node_rounds;
  r.states_per_node_round = static_cast<double>(states) / node_rounds;
  r.heartbeats_per_node_round = static_cast<double>(heartbeats) / node_rounds;
  return r;
}

int ScaleSim::pick_non_seed() {
  // A running node of the initial cluster that is not a seed (if any is not), not yet picked.
  const int first = config_.seed_nodes < config_.nodes ? config_.seed_nodes : 0;
  const auto span = static_cast<uint64_t>(config_.nodes - first);
  for (int attempt = 0;; ++attempt) {
    const int i = first + static_cast<int>(below(span));
    if ((nodes_[i].running && !picked_.contains(i)) || attempt > 1000) {
      picked_.insert(i);
      return i;
    }
  }
}

void ScaleSim::bootstrap(std::vector<ScenarioResult>& out) {
  const int n = config_.nodes;
  out.push_back(measure(
      "bootstrap",
      [&] {
        for (int i = 0; i < n; ++i) {
          const auto phase = static_cast<int64_t>(below(config_.interval.count()));
          start_node(i, now_ + Duration(phase), gossip_.seeds);
        }
      },
      [&](int i) { return nodes_[i].core->members().size() == static_cast<std::size_t>(n); }));
}

void ScaleSim::steady(std::vector<ScenarioResult>& out) {
  std::vector<Counters> before;
  for (const Node& node : nodes_) before.push_back(node.sent);
  const TimePoint start = now_;
  run_for(config_.steady_rounds * config_.interval);
  out.push_back(window_result("steady", start, now_, before));
  out.back().converged = true;
}

void ScaleSim::join(std::vector<ScenarioResult>& out) {
  // As an operator starts a node: configured with one seed's address.
  const int joiner = config_.nodes;
  const NodeId id = id_of(joiner);
  out.push_back(measure(
      "join", [&] { start_node(joiner, now_ + Duration(1), {address_of(0)}); },
      [&](int i) { return nodes_[i].core->members().contains(id); }));
}

void ScaleSim::status(std::vector<ScenarioResult>& out) {
  const int leaver = pick_non_seed();
  const NodeId id = id_of(leaver);
  out.push_back(measure(
      "status", [&] { nodes_[leaver].core->set_status(gossip::Status::kLeaving); },
      [&](int i) {
        auto it = nodes_[i].core->members().find(id);
        return it != nodes_[i].core->members().end() &&
               it->second.status == gossip::Status::kLeaving;
      }));
}

void ScaleSim::ring(std::vector<ScenarioResult>& out) {
  // The ring core's claim over every member, committed at a seed as an operator would.
  std::vector<NodeId> members;
  for (const auto& [id, state] : nodes_[0].core->members()) members.push_back(id);
  auto claimed = ring::Ring::claim(std::move(members), kRingPartitions, kRingReplicas);
  QKV_ASSERT(claimed.is_ok());
  const gossip::RingState ring{
      nodes_[0].core->ring().version + 1, kRingReplicas, claimed->owners(), {}, {}};
  out.push_back(measure(
      "ring", [&] { QKV_ASSERT(nodes_[0].core->set_ring(ring).is_ok()); },
      [&](int i) { return nodes_[i].core->ring().version >= ring.version; }));
}

void ScaleSim::crash(std::vector<ScenarioResult>& out) {
  const int victim = pick_non_seed();
  const NodeId id = id_of(victim);
  // What conviction waits for: each observer's mean interval between news of the victim.
  double sum = 0, max = 0;
  int observers = 0;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].running || static_cast<int>(i) == victim) continue;
    const double mean = nodes_[i].core->failure_detector().mean_interval_ms(id);
    sum += mean;
    max = std::max(max, mean);
    ++observers;
  }
  out.push_back(measure(
      "crash",
      [&] {
        nodes_[victim].running = false;
        crashed_ = id;
      },
      [&](int i) { return convicted_[i] != 0; }));
  out.back().heartbeat_interval_ms_mean = sum / observers;
  out.back().heartbeat_interval_ms_max = max;
}

ScaleResult ScaleSim::run() {
  ScaleResult result;
  result.config = config_;
  const Duration quiet = config_.quiet_rounds * config_.interval;
  using Step = void (ScaleSim::*)(std::vector<ScenarioResult>&);
  const std::pair<const char*, Step> steps[] = {{"steady", &ScaleSim::steady},
                                                {"join", &ScaleSim::join},
                                                {"status", &ScaleSim::status},
                                                {"ring", &ScaleSim::ring},
                                                {"crash", &ScaleSim::crash}};
  bootstrap(result.scenarios);
  for (const auto& [name, step] : steps) {
    if (!config_.scenarios.contains(name)) continue;
    (this->*step)(result.scenarios);
    run_for(quiet);
  }
  for (const Node& node : nodes_) {
    if (node.core) result.members_refused += node.core->stats().members_refused;
  }
  result.false_convictions = false_convictions_;
  result.deliveries = deliveries_;
  for (const ScenarioResult& s : result.scenarios) {
    hash(static_cast<uint64_t>(s.seconds * 1000));
    hash(s.messages);
  }
  result.trace_hash = trace_hash_;
  return result;
}

}  // namespace

const ScenarioResult& ScaleResult::at(const std::string& name) const {
  for (const ScenarioResult& s : scenarios) {
    if (s.name == name) return s;
  }
  QKV_ASSERT(false && "no such scenario");
  return scenarios.front();
}

ScaleResult run_scale(const ScaleConfig& config) {
  return ScaleSim(config).run();
}

}  // namespace qkv::sim
