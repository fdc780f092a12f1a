#include "tests/gossip/cluster.h"

#include <cstdio>
#include <deque>
#include <utility>

namespace qkv::gossip::testing {

Cluster::Cluster(std::size_t count, uint64_t seed, GossipConfig config)
    : config_(std::move(config)), seed_(seed) {
  config_.seeds = {address_of(0)};
  for (std::size_t i = 0; i < count; ++i) {
    by_address_[address_of(i)] = i;
    nodes_.push_back(Node{make_core(i, 1), true, {}});
  }
}

NodeId Cluster::id_of(std::size_t i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "n%02zu", i);
  return buf;
}

std::string Cluster::address_of(std::size_t i) {
  return id_of(i) + ":7000";
}

std::unique_ptr<GossipCore> Cluster::make_core(std::size_t i, uint64_t generation) const {
  NodeState self;
  self.id = id_of(i);
  self.generation = generation;
  self.version = 1;
  self.peer_address = address_of(i);
  self.client_address = id_of(i) + ":9000";
  self.zone = i % 2 == 0 ? "zone-a" : "zone-b";
  self.status = Status::kNormal;
  // Distinct, reproducible per-node seeds: the base seed spread by a golden-ratio multiple.
  const uint64_t node_seed = seed_ ^ (0x9E3779B97F4A7C15ull * (i + 1) + generation);
  return std::make_unique<GossipCore>(config_, std::move(self), RingState{}, node_seed, now_);
}

void Cluster::round() {
  now_ += config_.interval;
  sent_per_round_.emplace_back(nodes_.size(), 0);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].running) continue;
    send(i, nodes_[i].core->on_tick(now_));
    drain(i);
  }
  std::deque<std::pair<std::size_t, Outgoing>> queue(in_flight_.begin(), in_flight_.end());
  in_flight_.clear();
  while (!queue.empty()) {
    auto [from, message] = std::move(queue.front());
    queue.pop_front();
    (void)from;
    auto it = by_address_.find(message.address);
    if (it == by_address_.end() || !nodes_[it->second].running) continue;
    const std::size_t to = it->second;
    send(to, nodes_[to].core->on_message(message.message, now_));
    drain(to);
    for (auto& m : in_flight_) queue.push_back(std::move(m));
    in_flight_.clear();
  }
}

int Cluster::run_until(const std::function<bool()>& done, int max_rounds) {
  for (int r = 0; r < max_rounds; ++r) {
    if (done()) return r;
    round();
  }
  return done() ? max_rounds : max_rounds + 1;
}

void Cluster::restart(std::size_t i) {
  const uint64_t generation = nodes_[i].core->self().generation + 1;
  nodes_[i].core = make_core(i, generation);
  nodes_[i].running = true;
}

void Cluster::deliver_now(const Outgoing& message) {
  auto it = by_address_.find(message.address);
  if (it == by_address_.end()) return;
  const std::size_t to = it->second;
  // Replies of a delayed message are not followed: the test looks at the receiver only.
  (void)nodes_[to].core->on_message(message.message, now_);
  drain(to);
}

bool Cluster::all_know_all() const {
  for (const Node& node : nodes_) {
    if (node.running && node.core->members().size() != nodes_.size()) return false;
  }
  return true;
}

int Cluster::count_events(std::size_t i, Event::Kind kind, const NodeId& id) const {
  int count = 0;
  for (const Event& e : nodes_[i].events) count += (e.kind == kind && e.id == id) ? 1 : 0;
  return count;
}

void Cluster::send(std::size_t from, std::vector<Outgoing> out) {
  for (Outgoing& message : out) {
    if (!sent_per_round_.empty()) ++sent_per_round_.back()[from];
    if (observer_) observer_(from, message);
    if (recording_) trace_.push_back({from, message});
    in_flight_.emplace_back(from, std::move(message));
  }
}

void Cluster::drain(std::size_t i) {
  for (Event& e : nodes_[i].core->take_events()) nodes_[i].events.push_back(std::move(e));
}

}  // namespace qkv::gossip::testing
