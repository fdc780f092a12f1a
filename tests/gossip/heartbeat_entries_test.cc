// Heartbeat entries (GossipCore): heartbeat-only news travels as (id, generation,
// heartbeat) entries, bounded and most out of date first, and counts as an arrival for the
// failure detector; full states only when something else changed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gossip/gossip_core.h"
#include "tests/gossip/gossip_testing.h"

namespace qkv::gossip {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the helpers

TEST(GossipCoreTest, HeartbeatOnlyNewsTravelsAsHeartbeatEntries) {
  GossipConfig config;
  config.states_per_message_max = 1;
  GossipCore b(config, node("b"), {}, 1, at(0));
  // b holds p0..p3 (content version 3) at heartbeat 20, and q at heartbeat 4.
  std::vector<NodeState> b_knows;
  for (int i = 0; i < 4; ++i) b_knows.push_back(node(name("p", i), 1, 3, 20));
  b_knows.push_back(node("q", 1, 3, 4));
  (void)b.on_message(Ack2{b_knows, {}}, at(0));
  // a holds the same content of each: older heartbeats of p0..p3, a newer one of q.
  GossipCore a(config, node("a"), {}, 2, at(0));
  std::vector<NodeState> a_knows;
  for (int i = 0; i < 4; ++i) a_knows.push_back(node(name("p", i), 1, 3, 10 + i));
  a_knows.push_back(node("q", 1, 3, 9));
  (void)a.on_message(Ack2{a_knows, {}}, at(0));

  Syn syn = as<Syn>(a.on_tick(at(1000))[0]);
  EXPECT_EQ(syn.digests[0], (Digest{"p0", 1, 3, 10}));  // digests carry the heartbeat
  std::vector<Outgoing> ack = b.on_message(syn, at(1000));
  ASSERT_EQ(kinds(ack), "A");
  const Ack& b_ack = as<Ack>(ack[0]);
  EXPECT_TRUE(b_ack.states.empty());
  EXPECT_TRUE(b_ack.requests.empty());
  // Most out of date first: p0 lags 10, p3 lags 7.
  EXPECT_EQ(b_ack.heartbeats,
            (std::vector<Heartbeat>{{"p0", 1, 20}, {"p1", 1, 20}, {"p2", 1, 20}, {"p3", 1, 20}}));
  EXPECT_EQ(b_ack.heartbeat_requests, (std::vector<Digest>{{"q", 1, 3, 4}}));

  std::vector<Outgoing> ack2 = a.on_message(ack[0].message, at(1000));
  ASSERT_EQ(kinds(ack2), "2");
  EXPECT_TRUE(as<Ack2>(ack2[0]).states.empty());
  EXPECT_EQ(as<Ack2>(ack2[0]).heartbeats, (std::vector<Heartbeat>{{"q", 1, 9}}));
  (void)b.on_message(ack2[0].message, at(1000));

  // Both hold the newest heartbeat of each, the content untouched, and no change reported.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a.members().at(name("p", i)), node(name("p", i), 1, 3, 20));
  EXPECT_EQ(b.members().at("q"), node("q", 1, 3, 9));
  EXPECT_EQ(a.stats().heartbeats_applied, 4u);
  EXPECT_EQ(b.stats().heartbeats_applied, 1u);
  for (GossipCore* core : {&a, &b}) {
    for (const Event& e : core->take_events()) EXPECT_EQ(e.kind, Event::kJoined) << e.id;
  }
}

TEST(GossipCoreTest, HeartbeatEntriesAreBoundedMostOutOfDateFirst) {
  GossipConfig config;
  config.heartbeats_per_message_max = 2;
  GossipCore b(config, node("b"), {}, 1, at(0));
  std::vector<NodeState> known;
  for (int i = 0; i < 4; ++i) known.push_back(node(name("p", i), 1, 1, 20));
  for (int i = 0; i < 4; ++i) known.push_back(node(name("q", i), 1, 1, 5));
  (void)b.on_message(Ack2{known, {}}, at(0));
  Syn syn{node("a"), {}, 0};
  for (int i = 0; i < 4; ++i)
    syn.digests.push_back({name("p", i), 1, 1, 16 - 2 * static_cast<uint64_t>(i)});
  for (int i = 0; i < 4; ++i)
    syn.digests.push_back({name("q", i), 1, 1, 30 + static_cast<uint64_t>(i)});
  const std::vector<Outgoing> out = b.on_message(syn, at(0));
  const Ack& ack = as<Ack>(out[0]);
  EXPECT_EQ(ack.heartbeats, (std::vector<Heartbeat>{{"p3", 1, 20}, {"p2", 1, 20}}));
  EXPECT_EQ(ack.heartbeat_requests, (std::vector<Digest>{{"q3", 1, 1, 5}, {"q2", 1, 1, 5}}));
}

// A change of content (status) still reaches others as a full state, with its heartbeat.
TEST(GossipCoreTest, AStatusChangeTravelsAsAFullStateWithItsHeartbeat) {
  GossipCore b(GossipConfig{}, node("b"), {}, 1, at(0));
  NodeState leaving = node("p", 1, 11, 12);  // p set leaving at 11; its heartbeat is 12
  leaving.status = Status::kLeaving;
  (void)b.on_message(Ack2{{leaving}, {}}, at(0));
  GossipCore a(GossipConfig{}, node("a"), {}, 2, at(0));
  (void)a.on_message(Ack2{{node("p", 1, 3, 10)}, {}}, at(0));
  (void)a.take_events();

  std::vector<Outgoing> ack = b.on_message(Syn{node("a"), {{"p", 1, 3, 10}}, 0}, at(1000));
  const Ack& b_ack = as<Ack>(ack[0]);
  EXPECT_EQ(b_ack.states, std::vector<NodeState>{leaving});
  EXPECT_TRUE(b_ack.heartbeats.empty());
  (void)a.on_message(ack[0].message, at(1000));
  EXPECT_EQ(a.members().at("p"), leaving);
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kJoined, "b"}, {Event::kChanged, "p"}}));

  // The own change: set_status moves version and heartbeat together, and the next Syn's
  // receiver gets the new status as the sender's state.
  a.set_status(Status::kLeaving);
  const NodeState self = a.self();
  EXPECT_EQ(self.version, self.heartbeat);
  std::vector<Outgoing> syn = a.on_tick(at(2000));
  ASSERT_FALSE(syn.empty());
  (void)b.on_message(syn[0].message, at(2000));
  EXPECT_EQ(b.members().at("a").status, Status::kLeaving);
  EXPECT_EQ(b.members().at("a").version, self.version);
  EXPECT_EQ(b.members().at("a").heartbeat, self.heartbeat + 1);
}

// Within a generation a state moves the heartbeat if its heartbeat is newer, and the content
// only if its version lies past the heartbeat held: before that the content is the same.
TEST(GossipCoreTest, AStateWhoseOnlyNewsIsItsHeartbeatIsNotAChange) {
  GossipCore a(GossipConfig{}, node("a"), {}, 1, at(0));
  (void)a.on_message(Ack2{{node("p", 1, 5, 500)}, {}}, at(0));
  (void)a.take_events();
  (void)a.on_message(Ack2{{node("p", 1, 5, 501)}, {}}, at(0));
  EXPECT_EQ(a.members().at("p"), node("p", 1, 5, 501));
  // As a node from before heartbeat entries relays it: version = heartbeat.
  (void)a.on_message(Ack2{{node("p", 1, 498)}, {}}, at(0));  // not newer: nothing
  EXPECT_EQ(a.members().at("p"), node("p", 1, 5, 501));
  (void)a.on_message(Ack2{{node("p", 1, 502)}, {}}, at(0));
  EXPECT_EQ(a.members().at("p").heartbeat, 502u);
  EXPECT_TRUE(a.take_events().empty());
  // A stale generation never overwrites, whatever its heartbeat.
  (void)a.on_message(Ack2{{node("p", 0, 9, 9999)}, {}}, at(0));
  EXPECT_EQ(a.members().at("p").generation, 1u);
  EXPECT_EQ(a.members().at("p").heartbeat, 502u);
}

// A newer heartbeat, from a heartbeat entry or a state, is a heartbeat arrival for the failure
// detector (and nothing else is), so a node heard of only by heartbeat entries stays up and
// is convicted on the usual schedule once they stop.
TEST(GossipCoreTest, HeartbeatEntriesAreArrivalsForTheFailureDetector) {
  GossipCore a(GossipConfig{}, node("a"), {}, 1, at(0));
  (void)a.on_message(Ack2{{node("p", 1, 3)}, {}}, at(0));
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kJoined, "p"}}));
  EXPECT_EQ(a.failure_detector().window_size("p"), 1u);  // the seed interval
  for (uint64_t t = 1; t <= 10; ++t) {
    Ack2 beat;
    beat.heartbeats = {{"p", 1, 3 + t}};
    (void)a.on_message(beat, at(static_cast<int64_t>(t) * 1000));
    (void)a.on_tick(at(static_cast<int64_t>(t) * 1000));
  }
  (void)a.on_message(Ack2{{node("p", 1, 3, 14)}, {}}, at(11'000));
  EXPECT_EQ(a.members().at("p"), node("p", 1, 3, 14));
  EXPECT_EQ(a.failure_detector().window_size("p"), 12u);  // the seed and 11 arrivals
  EXPECT_TRUE(a.take_events().empty()) << "heartbeats are not changes";

  // Not arrivals: a repeat, an older heartbeat, another generation (older: stale; newer: a
  // restart, which comes as a state), an unknown member.
  Ack2 stale;
  stale.heartbeats = {{"p", 1, 14}, {"p", 1, 9}, {"p", 0, 99}, {"p", 2, 99}, {"x", 1, 99}};
  (void)a.on_message(stale, at(11'500));
  (void)a.on_message(Ack2{{node("p", 1, 3, 14), node("p", 1, 2, 12)}, {}}, at(11'600));
  EXPECT_EQ(a.members().at("p"), node("p", 1, 3, 14));
  EXPECT_FALSE(a.members().contains("x"));
  EXPECT_EQ(a.failure_detector().window_size("p"), 12u);
  EXPECT_EQ(a.stats().heartbeats_applied, 10u);

  // Silence from 11 s: mean (2 s + 11 * 1 s) / 12, so phi reaches 8 after 8 ln(10) * 13/12 s
  // = 19.95 s, at the first round at or after 30.95 s.
  auto [t, events] = tick_until_events(a, 11'000);
  EXPECT_EQ(t, 31'000);
  EXPECT_EQ(events, (std::vector<Event>{{Event::kDown, "p"}}));
  // A heartbeat entry brings it back, as a newer state would.
  Ack2 back;
  back.heartbeats = {{"p", 1, 40}};
  (void)a.on_message(back, at(32'000));
  (void)a.on_tick(at(32'000));
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kUp, "p"}}));
}

// A node from before heartbeat entries (Syn/Ack::heartbeat_entries false: its decoder drops
// them) gets full states and is asked for states, as before they existed.
TEST(GossipCoreTest, APeerWithoutHeartbeatEntriesGetsFullStates) {
  GossipCore b(GossipConfig{}, node("b"), {}, 1, at(0));
  (void)b.on_message(Ack2{{node("p", 1, 3, 20), node("q", 1, 3, 4)}, {}}, at(0));
  Syn syn{node("o"), {{"p", 1, 10}, {"q", 1, 9}}, 0, /*heartbeat_entries=*/false};
  const std::vector<Outgoing> out = b.on_message(syn, at(0));
  const Ack& ack = as<Ack>(out[0]);
  EXPECT_EQ(ack.states, std::vector<NodeState>{node("p", 1, 3, 20)});
  EXPECT_TRUE(ack.heartbeats.empty());
  EXPECT_EQ(ack.requests, (std::vector<Digest>{{"q", 1, 3, 4}}));
  EXPECT_TRUE(ack.heartbeat_requests.empty());

  // And an old node's Ack asking for q gets q's full state in the Ack2.
  GossipCore a(GossipConfig{}, node("a"), {}, 2, at(0));
  (void)a.on_message(Ack2{{node("q", 1, 3, 9)}, {}}, at(0));
  Ack old_ack{node("o"), {}, {{"q", 1, 4}}, {}, false};
  old_ack.heartbeat_entries = false;
  const std::vector<Outgoing> ack2 = a.on_message(old_ack, at(0));
  ASSERT_EQ(kinds(ack2), "2");
  EXPECT_EQ(as<Ack2>(ack2[0]).states, std::vector<NodeState>{node("q", 1, 3, 9)});
  EXPECT_TRUE(as<Ack2>(ack2[0]).heartbeats.empty());
}

}  // namespace
}  // namespace qkv::gossip
