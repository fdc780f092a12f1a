// An in-memory cluster of GossipCores for tests: a fake transport that delivers Outgoing
// messages by address, and a fake clock that advances one gossip interval per round. All
// messages of a round are delivered (FIFO, to completion) at that round's time. Nothing
// here sleeps or starts threads; every random choice comes from the seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gossip/gossip_core.h"

namespace qkv::gossip::testing {

class Cluster {
 public:
  // Nodes "n00".."n<count-1>" at "n00:7000"...; node 0's address is the only seed, and
  // each node starts knowing only that address. Node i is seeded from seed and i.
  Cluster(std::size_t count, uint64_t seed, GossipConfig config = {});

  static NodeId id_of(std::size_t i);
  static std::string address_of(std::size_t i);

  // Advances the clock by one interval, ticks every running node (in index order), then
  // delivers until no message is in flight. Messages to stopped nodes are dropped.
  void round();
  // Runs rounds until done() holds (checked before each round); returns the number of
  // rounds run, or max_rounds + 1 if it never held.
  int run_until(const std::function<bool()>& done, int max_rounds);

  // Stops node i (no ticks, incoming messages dropped) or resumes it, state intact.
  void stop(std::size_t i) { nodes_[i].running = false; }
  void resume(std::size_t i) { nodes_[i].running = true; }
  // Replaces node i with a fresh process: generation + 1, version 1, knowing only the seed.
  void restart(std::size_t i);
  // Delivers one message now, as if it had been delayed in the network.
  void deliver_now(const Outgoing& message);

  GossipCore& core(std::size_t i) { return *nodes_[i].core; }
  std::size_t size() const { return nodes_.size(); }
  TimePoint now() const { return now_; }
  bool running(std::size_t i) const { return nodes_[i].running; }

  // True if every running node knows every node.
  bool all_know_all() const;
  // Events taken from node i since the start (they are drained after every call).
  const std::vector<Event>& events(std::size_t i) const { return nodes_[i].events; }
  // How many events of `kind` about `id` node i has seen.
  int count_events(std::size_t i, Event::Kind kind, const NodeId& id) const;

  // Every message sent, with its sender's index, in order (for determinism). Recorded only
  // after record_trace(true): a long run's trace is large.
  struct Sent {
    std::size_t from;
    Outgoing message;
    friend bool operator==(const Sent&, const Sent&) = default;
  };
  void record_trace(bool on) { recording_ = on; }
  const std::vector<Sent>& trace() const { return trace_; }
  // Called with every message sent (sender index, message), e.g. to check limits.
  void set_observer(std::function<void(std::size_t, const Outgoing&)> observer) {
    observer_ = std::move(observer);
  }
  // Messages sent per node in each round so far: sent_per_round()[r][i].
  const std::vector<std::vector<uint64_t>>& sent_per_round() const { return sent_per_round_; }

 private:
  struct Node {
    std::unique_ptr<GossipCore> core;
    bool running = true;
    std::vector<Event> events;
  };
  std::unique_ptr<GossipCore> make_core(std::size_t i, uint64_t generation) const;
  void send(std::size_t from, std::vector<Outgoing> out);
  void drain(std::size_t i);

  GossipConfig config_;
  uint64_t seed_;
  TimePoint now_{Duration(0)};
  std::vector<Node> nodes_;
  std::map<std::string, std::size_t> by_address_;
  std::vector<std::pair<std::size_t, Outgoing>> in_flight_;  // FIFO
  bool recording_ = false;
  std::vector<Sent> trace_;
  std::function<void(std::size_t, const Outgoing&)> observer_;
  std::vector<std::vector<uint64_t>> sent_per_round_;
};

}  // namespace qkv::gossip::testing
