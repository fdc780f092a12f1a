// Helpers for tests that drive GossipCore by hand (gossip_core_test.cc and its siblings).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "gossip/gossip_core.h"

namespace qkv::gossip::testing {

inline TimePoint at(int64_t ms) {
  return TimePoint(Duration(ms));
}

// Runs a round every second after `t` ms until one yields events (at most until 100 s);
// returns that round's time and its events.
inline std::pair<int64_t, std::vector<Event>> tick_until_events(GossipCore& core, int64_t t) {
  std::vector<Event> events;
  while (events.empty() && t < 100'000) {
    t += 1000;
    (void)core.on_tick(at(t));
    events = core.take_events();
  }
  return {t, events};
}

// A state at (generation, version, heartbeat); heartbeat 0 means "= version", as a
// member's copy holds it (GossipCore keeps heartbeat >= version).
inline NodeState node(const std::string& id, uint64_t generation = 1, uint64_t version = 1,
                      uint64_t heartbeat = 0) {
  NodeState s{id, generation, version, id + ":7000", id + ":9000", "z1", Status::kNormal};
  s.heartbeat = heartbeat == 0 ? version : heartbeat;
  return s;
}

inline GossipConfig config_with_seed(const std::string& seed) {
  GossipConfig config;
  config.seeds = {seed};
  return config;
}

template <typename T>
const T& as(const Outgoing& out) {
  EXPECT_TRUE(std::holds_alternative<T>(out.message));
  return std::get<T>(out.message);
}

// "p3" for ("p", 3). (Not `"p" + std::to_string(i)`: GCC 12 warns falsely on it, -Wrestrict.)
inline std::string name(const char* prefix, int i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

// The message kinds in `out`, in order: "S" Syn, "A" Ack, "2" Ack2.
inline std::string kinds(const std::vector<Outgoing>& out) {
  std::string k;
  for (const Outgoing& o : out) k += "SA2"[o.message.index()];
  return k;
}

}  // namespace qkv::gossip::testing
