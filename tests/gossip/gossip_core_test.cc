// GossipCore driven by hand: one exchange at a time, every message inspected.
#include "gossip/gossip_core.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/gossip/gossip_testing.h"

namespace qkv::gossip {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the helpers

TEST(GossipCoreTest, ANodeThatKnowsNoPeerSynsASeed) {
  GossipCore a(config_with_seed("b:7000"), node("a"), {}, 1, at(0));
  std::vector<Outgoing> out = a.on_tick(at(0));
  ASSERT_EQ(kinds(out), "S");
  EXPECT_EQ(out[0].address, "b:7000");
  const Syn& syn = as<Syn>(out[0]);
  EXPECT_EQ(syn.sender.id, "a");
  EXPECT_EQ(syn.sender.heartbeat, 2u);  // the round's heartbeat came first...
  EXPECT_EQ(syn.sender.version, 1u);    // ...and the content did not change
  EXPECT_TRUE(syn.digests.empty());
}

TEST(GossipCoreTest, ALoneSeedSendsNothing) {
  GossipCore seed(config_with_seed("s:7000"), node("s"), {}, 1, at(0));
  EXPECT_TRUE(seed.on_tick(at(0)).empty());
  GossipCore no_seeds(GossipConfig{}, node("x"), {}, 1, at(0));
  EXPECT_TRUE(no_seeds.on_tick(at(0)).empty());
  EXPECT_EQ(no_seeds.self().heartbeat, 2u);  // still heartbeats
  EXPECT_EQ(no_seeds.self().version, 1u);
}

TEST(GossipCoreTest, RoundsFollowTheCoresOwnSchedule) {
  GossipCore a(config_with_seed("b:7000"), node("a"), {}, 1, at(500));
  EXPECT_TRUE(a.on_tick(at(499)).empty());  // before the first round
  int rounds = 0;
  for (int64_t t = 500; t < 5500; t += 100) rounds += a.on_tick(at(t)).empty() ? 0 : 1;
  EXPECT_EQ(rounds, 5);  // 500, 1500, ..., 4500
  EXPECT_EQ(a.stats().rounds, 5u);
  EXPECT_EQ(a.self().heartbeat, 6u);
  EXPECT_EQ(a.self().version, 1u);
  // A stall does not cause a burst: one round, then the next a full interval later.
  EXPECT_EQ(a.on_tick(at(20'000)).size(), 1u);
  EXPECT_TRUE(a.on_tick(at(20'999)).empty());
  EXPECT_EQ(a.on_tick(at(21'000)).size(), 1u);
}

TEST(GossipCoreTest, ThreeWayExchangeReconcilesBothSides) {
  // a knows c (which b does not), b knows d (which a does not).
  GossipCore a(config_with_seed("b:7000"), node("a"), {}, 1, at(0));
  GossipCore b(GossipConfig{}, node("b"), {}, 2, at(0));
  ASSERT_TRUE(a.on_message(Ack2{{node("c", 1, 5)}, {}}, at(0)).empty());
  ASSERT_TRUE(b.on_message(Ack2{{node("d", 1, 7)}, {}}, at(0)).empty());
  // b also holds an old view of a; a holds nothing of b.
  ASSERT_TRUE(b.on_message(Ack2{{node("a", 1, 1)}, {}}, at(0)).empty());

  std::vector<Outgoing> syn = a.on_tick(at(1000));
  // a's only live peer is c (not a seed), so it gossips to c and to the seed b.
  ASSERT_EQ(kinds(syn), "SS");
  EXPECT_EQ(syn[0].address, "c:7000");
  EXPECT_EQ(syn[1].address, "b:7000");

  std::vector<Outgoing> ack = b.on_message(syn[1].message, at(1000));
  ASSERT_EQ(kinds(ack), "A");
  EXPECT_EQ(ack[0].address, "a:7000");
  const Ack& a_ack = as<Ack>(ack[0]);
  EXPECT_EQ(a_ack.sender.id, "b");
  ASSERT_EQ(a_ack.states.size(), 1u);  // d: a lacks it; a's own state is not sent back
  EXPECT_EQ(a_ack.states[0].id, "d");
  ASSERT_EQ(a_ack.requests.size(), 1u);  // c: b lacks it
  EXPECT_EQ(a_ack.requests[0], (Digest{"c", 0, 0}));
  EXPECT_EQ(b.members().at("a").heartbeat, 2u);  // the Syn's sender state was applied

  std::vector<Outgoing> ack2 = a.on_message(ack[0].message, at(1000));
  ASSERT_EQ(kinds(ack2), "2");
  EXPECT_EQ(ack2[0].address, "b:7000");
  ASSERT_EQ(as<Ack2>(ack2[0]).states.size(), 1u);
  EXPECT_EQ(as<Ack2>(ack2[0]).states[0], node("c", 1, 5));
  EXPECT_TRUE(b.on_message(ack2[0].message, at(1000)).empty());

  for (const GossipCore* core : {&a, &b}) {
    EXPECT_EQ(core->members().size(), 4u);
    EXPECT_EQ(core->members().at("c").version, 5u);
    EXPECT_EQ(core->members().at("d").version, 7u);
  }
}

TEST(GossipCoreTest, NoAck2WhenNothingWasRequested) {
  GossipCore a(config_with_seed("b:7000"), node("a"), {}, 1, at(0));
  GossipCore b(GossipConfig{}, node("b"), {}, 2, at(0));
  std::vector<Outgoing> ack = b.on_message(a.on_tick(at(0))[0].message, at(0));
  ASSERT_EQ(kinds(ack), "A");
  EXPECT_TRUE(as<Ack>(ack[0]).states.empty());
  EXPECT_TRUE(as<Ack>(ack[0]).requests.empty());
  EXPECT_TRUE(a.on_message(ack[0].message, at(0)).empty());
  EXPECT_TRUE(a.members().contains("b"));
}

TEST(GossipCoreTest, StaleStatesNeverOverwriteNewerOnes) {
  GossipCore a(GossipConfig{}, node("a"), {}, 1, at(0));
  (void)a.on_message(Ack2{{node("p", 2, 3)}, {}}, at(0));
  (void)a.on_message(Ack2{{node("p", 1, 1000)}, {}}, at(10));  // older generation
  (void)a.on_message(Ack2{{node("p", 2, 2)}, {}}, at(20));     // older version
  EXPECT_EQ(a.members().at("p"), node("p", 2, 3));
  (void)a.on_message(Ack2{{node("p", 2, 4)}, {}}, at(30));
  EXPECT_EQ(a.members().at("p").version, 4u);
}

TEST(GossipCoreTest, EventsAreEmittedOncePerChange) {
  GossipCore a(GossipConfig{}, node("a"), {}, 1, at(0));
  (void)a.on_message(Ack2{{node("p", 1, 1)}, {}}, at(0));
  (void)a.on_message(Ack2{{node("p", 1, 1)}, {}}, at(0));  // repeat
  (void)a.on_message(Ack2{{node("p", 1, 2)}, {}}, at(0));  // heartbeat only
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kJoined, "p"}}));
  EXPECT_TRUE(a.take_events().empty());

  NodeState leaving = node("p", 1, 3);
  leaving.status = Status::kLeaving;
  (void)a.on_message(Ack2{{leaving}, {}}, at(0));
  (void)a.on_message(Ack2{{leaving}, {}}, at(0));
  NodeState restarted = node("p", 2, 1);  // new generation: a change even if all else equal
  (void)a.on_message(Ack2{{restarted}, {}}, at(0));
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kChanged, "p"}, {Event::kChanged, "p"}}));
}

TEST(GossipCoreTest, ARemovedMemberIsDeclaredRemovedAndThatSpreadsUntilItRestarts) {
  // a learns that p was removed from the ring (qkvctl node remove); b only hears it from a.
  GossipCore a(GossipConfig{}, node("a"), {}, 1, at(0));
  GossipCore b(GossipConfig{}, node("b"), {}, 2, at(0));
  for (GossipCore* core : {&a, &b}) (void)core->on_message(Ack2{{node("p", 1, 5)}, {}}, at(0));
  (void)a.take_events();
  a.declare_removed("p");
  EXPECT_EQ(a.members().at("p").status, Status::kRemoved);
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kChanged, "p"}}));
  a.declare_removed("p");  // once
  a.declare_removed("a");  // never self
  a.declare_removed("q");  // unknown
  EXPECT_TRUE(a.take_events().empty());
  EXPECT_EQ(a.self().status, Status::kNormal);

  (void)b.on_message(Ack2{{a.members().at("p")}, {}}, at(10));
  EXPECT_EQ(b.members().at("p").status, Status::kRemoved) << "spreads as p's own change";
  (void)b.on_message(Ack2{{node("p", 1, 5)}, {}}, at(20));  // an old copy relayed
  EXPECT_EQ(b.members().at("p").status, Status::kRemoved);
  (void)b.on_message(Ack2{{node("p", 2, 1)}, {}}, at(30));  // p restarted (a new disk)
  EXPECT_EQ(b.members().at("p").status, Status::kNormal) << "a restart speaks for itself";
}

TEST(GossipCoreTest, DistributeRingSendsTheRingToEveryLiveMemberInOneHop) {
  RingState ring{2, 3, {"a", "b", "c"}, {}, "a"};
  GossipCore a(GossipConfig{}, node("a"), ring, 1, at(0));
  NodeState gone = node("d", 1, 1);
  gone.status = Status::kRemoved;
  (void)a.on_message(Ack2{{node("b"), node("c"), gone, node("e")}, {}}, at(0));
  a.convict("e");
  std::vector<Outgoing> out = a.distribute_ring();
  ASSERT_EQ(kinds(out), "22") << "b and c; not the removed d, not the convicted e, not self";
  EXPECT_EQ(out[0].address, "b:7000");
  EXPECT_EQ(out[1].address, "c:7000");

  // c, a gossip round or more behind, takes the ring from the one message.
  GossipCore c(GossipConfig{}, node("c"), {}, 3, at(0));
  EXPECT_TRUE(c.on_message(out[1].message, at(5)).empty());
  EXPECT_EQ(c.ring(), ring);
  EXPECT_TRUE(GossipCore(GossipConfig{}, node("x"), {}, 4, at(0)).distribute_ring().empty())
      << "no ring, nothing to send";
}

TEST(GossipCoreTest, ARefusedConnectionConvictsAtOnceUntilTheNodeSpeaksOrRestarts) {
  GossipCore a(GossipConfig{}, node("a"), {}, 1, at(0));
  (void)a.on_message(Ack2{{node("p", 1, 1)}, {}}, at(0));
  (void)a.take_events();
  a.convict("p");
  EXPECT_FALSE(a.is_up("p", at(10))) << "no waiting for phi to climb";
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kDown, "p"}}));
  // Its old heartbeats, passed on by others, prove nothing.
  (void)a.on_message(Ack2{{node("p", 1, 2)}, {}}, at(20));
  EXPECT_FALSE(a.is_up("p", at(20)));
  // A restart (higher generation) clears it.
  (void)a.on_message(Ack2{{node("p", 2, 1)}, {}}, at(30));
  EXPECT_TRUE(a.is_up("p", at(30)));
  // So does a message from the node itself.
  a.convict("p");
  EXPECT_FALSE(a.is_up("p", at(40)));
  (void)a.on_message(Syn{node("p", 2, 2), {}, 0}, at(50));
  EXPECT_TRUE(a.is_up("p", at(50)));
  a.convict("unknown");  // ignored
  a.convict("a");        // self: ignored
  EXPECT_TRUE(a.is_up("a", at(60)));
  // And direct evidence from the link layer (it answered a ping on our connection).
  a.convict("p");
  EXPECT_FALSE(a.is_up("p", at(70)));
  a.absolve("p");
  EXPECT_TRUE(a.is_up("p", at(70)));
  a.absolve("q");  // not convicted, not a member: nothing happens
}

TEST(GossipCoreTest, StatesAboutSelfAreNeverTaken) {
  GossipCore a(GossipConfig{}, node("a", 5, 10), {}, 1, at(0));
  (void)a.on_message(Ack2{{node("a", 6, 1)}, {}}, at(0));   // another process with our id
  (void)a.on_message(Ack2{{node("a", 5, 99)}, {}}, at(0));  // newer version than ours
  (void)a.on_message(Ack2{{node("a", 4, 99)}, {}}, at(0));  // older: harmless, not counted
  EXPECT_EQ(a.self(), node("a", 5, 10));
  EXPECT_EQ(a.stats().foreign_self_states, 2u);
  // A Syn that claims to come from us is not answered.
  EXPECT_TRUE(a.on_message(Syn{node("a", 6, 1), {}, 0}, at(0)).empty());
  EXPECT_EQ(a.stats().foreign_self_states, 3u);
  EXPECT_TRUE(a.take_events().empty());
}

TEST(GossipCoreTest, HeartbeatsAboutSelfAreNeverTaken) {
  GossipCore a(GossipConfig{}, node("a", 5, 10), {}, 1, at(0));
  Ack2 beats;
  beats.heartbeats = {{"a", 5, 11}, {"a", 6, 1}, {"a", 5, 10}, {"a", 4, 99}};
  (void)a.on_message(beats, at(0));
  EXPECT_EQ(a.self(), node("a", 5, 10));
  EXPECT_EQ(a.stats().foreign_self_states, 2u);  // the newer heartbeat and generation
  EXPECT_EQ(a.stats().heartbeats_applied, 0u);
  (void)a.on_tick(at(0));  // the own heartbeat comes from the own rounds only
  EXPECT_EQ(a.self(), node("a", 5, 10, 11));
}

TEST(GossipCoreTest, InvalidIdsAreRejected) {
  GossipCore a(GossipConfig{}, node("a"), {}, 1, at(0));
  (void)a.on_message(Ack2{{node("bad id"), node("")}, {}}, at(0));
  EXPECT_TRUE(a.on_message(Syn{node("no/slash"), {}, 0}, at(0)).empty());
  EXPECT_EQ(a.members().size(), 1u);
  EXPECT_EQ(a.stats().rejected_states, 3u);
}

TEST(GossipCoreTest, AckStatesAreBoundedMostOutOfDateFirst) {
  GossipConfig config;
  config.states_per_message_max = 3;
  GossipCore b(config, node("b"), {}, 1, at(0));
  std::vector<NodeState> known;
  for (int i = 0; i < 10; ++i) known.push_back(node(name("p", i), 1, 10 + i));
  (void)b.on_message(Ack2{known, {}}, at(0));
  // The Syn's sender knows p0..p7 at version 10 (so lags p7 by 7, p6 by 6...), p8 and p9
  // not at all; it is ahead on p0 and p1, and knows q0..q4 that b lacks.
  Syn syn{node("a"), {}, 0};
  for (int i = 0; i < 8; ++i) syn.digests.push_back({name("p", i), 1, 10});
  syn.digests[0].version = 50;
  syn.digests[1].version = 60;
  for (int i = 0; i < 5; ++i) syn.digests.push_back({name("q", i), 1, 1});
  std::vector<Outgoing> out = b.on_message(syn, at(0));
  ASSERT_EQ(kinds(out), "A");
  const Ack& ack = as<Ack>(out[0]);
  ASSERT_EQ(ack.states.size(), 3u);
  EXPECT_EQ(ack.states[0].id, "p8");  // unknown to the sender first, in id order
  EXPECT_EQ(ack.states[1].id, "p9");
  EXPECT_EQ(ack.states[2].id, "p7");  // then the largest version gap
  ASSERT_EQ(ack.requests.size(), 3u);
  EXPECT_EQ(ack.requests[0], (Digest{"q0", 0, 0}));  // unknown to b first
  EXPECT_EQ(ack.requests[1], (Digest{"q1", 0, 0}));
  EXPECT_EQ(ack.requests[2], (Digest{"q2", 0, 0}));
}

TEST(GossipCoreTest, Ack2IsBoundedAndAnswersOnlyWhatItHasNewer) {
  GossipConfig config;
  config.states_per_message_max = 2;
  GossipCore a(config, node("a"), {}, 1, at(0));
  std::vector<NodeState> known;
  for (int i = 0; i < 4; ++i) known.push_back(node(name("p", i), 1, 10));
  (void)a.on_message(Ack2{known, {}}, at(0));
  Ack ack{node("b"),
          {},
          {{"p0", 1, 10}, {"p1", 1, 3}, {"p2", 0, 0}, {"p3", 1, 9}, {"zz", 0, 0}},
          {},
          false};
  std::vector<Outgoing> out = a.on_message(ack, at(0));
  ASSERT_EQ(kinds(out), "2");
  const Ack2& ack2 = as<Ack2>(out[0]);
  ASSERT_EQ(ack2.states.size(), 2u);
  EXPECT_EQ(ack2.states[0].id, "p2");  // b lacks it
  EXPECT_EQ(ack2.states[1].id, "p1");  // b is 7 behind (p3 only 1; p0 not at all; zz unknown)
}

// The heartbeat apart from the content (van Renesse, Minsky and Hayden 1998; Cassandra's
// HeartBeatState): members whose only news is a newer heartbeat travel as heartbeat entries
// in the Ack and the Ack2, not as full states, and states_per_message_max does not ration
// them.
TEST(GossipCoreTest, MembersAreBounded) {
  GossipConfig config;
  config.members_max = 3;
  GossipCore a(config, node("a"), {}, 1, at(0));
  (void)a.on_message(Ack2{{node("p"), node("q"), node("r")}, {}}, at(0));
  EXPECT_EQ(a.members().size(), 3u);
  EXPECT_EQ(a.stats().members_refused, 1u);
  EXPECT_FALSE(a.members().contains("r"));
  // A full node does not request states of nodes it could not keep.
  std::vector<Outgoing> out = a.on_message(Syn{node("q", 1, 2), {{"s", 1, 1}}, 0}, at(0));
  EXPECT_TRUE(as<Ack>(out[0]).requests.empty());
}

TEST(GossipCoreTest, RingSpreadsOnlyUpwards) {
  GossipCore a(config_with_seed("b:7000"), node("a"), RingState{3, 2, {"a", "b"}, {}, {}}, 1,
               at(0));
  GossipCore b(GossipConfig{}, node("b"), RingState{1, 2, {"b", "b"}, {}, {}}, 2, at(0));
  EXPECT_EQ(a.set_ring(RingState{3, 2, {"b", "a"}, {}, {}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.set_ring(RingState{2, 2, {"b", "a"}, {}, {}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.ring(), (RingState{3, 2, {"a", "b"}, {}, {}}));

  // a's Syn says 3; b (at 1) asks for it; a sends it in the Ack2.
  std::vector<Outgoing> ack = b.on_message(a.on_tick(at(0))[0].message, at(0));
  EXPECT_TRUE(as<Ack>(ack[0]).want_ring);
  EXPECT_FALSE(as<Ack>(ack[0]).ring.has_value());
  std::vector<Outgoing> ack2 = a.on_message(ack[0].message, at(0));
  ASSERT_EQ(kinds(ack2), "2");
  (void)b.on_message(ack2[0].message, at(0));
  EXPECT_EQ(b.ring(), a.ring());
  EXPECT_EQ(b.take_events(),
            (std::vector<Event>{{Event::kJoined, "a"}, {Event::kRingChanged, ""}}));

  // An older or equal ring never replaces it, from any message.
  (void)b.on_message(Ack2{{}, RingState{2, 2, {"x", "y"}, {}, {}}}, at(0));
  (void)b.on_message(Ack2{{}, RingState{3, 2, {"x", "y"}, {}, {}}}, at(0));
  EXPECT_EQ(b.ring(), (RingState{3, 2, {"a", "b"}, {}, {}}));
  EXPECT_TRUE(b.take_events().empty());

  // A local change with a higher version is adopted and announced.
  ASSERT_TRUE(b.set_ring(RingState{4, 2, {"b", "a"}, {}, {}}).is_ok());
  EXPECT_EQ(b.take_events(), (std::vector<Event>{{Event::kRingChanged, ""}}));
  // A Syn from a node ahead of a (ring 4 against a's 3) gets an Ack that asks for it.
  GossipConfig to_a = config_with_seed("a:7000");
  GossipCore c(to_a, node("c"), RingState{4, 2, {"b", "a"}, {}, {}}, 3, at(0));
  std::vector<Outgoing> a_ack = a.on_message(c.on_tick(at(0))[0].message, at(0));
  EXPECT_TRUE(as<Ack>(a_ack[0]).want_ring);
}

TEST(GossipCoreTest, SetStatusBumpsTheVersionAndAnnouncesChanges) {
  GossipCore a(GossipConfig{}, node("a"), {}, 1, at(0));
  a.set_status(Status::kNormal);  // unchanged: nothing
  EXPECT_EQ(a.self(), node("a", 1, 1, 1));
  EXPECT_TRUE(a.take_events().empty());
  (void)a.on_tick(at(0));  // heartbeat 2
  a.set_status(Status::kLeaving);
  // One clock: the change takes the next heartbeat value as its version.
  EXPECT_EQ(a.self().version, 3u);
  EXPECT_EQ(a.self().heartbeat, 3u);
  EXPECT_EQ(a.self().status, Status::kLeaving);
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kChanged, "a"}}));
  (void)a.on_tick(at(1000));
  EXPECT_EQ(a.self().version, 3u);
  EXPECT_EQ(a.self().heartbeat, 4u);
  a.set_ring_progress(5, 0);
  EXPECT_EQ(a.self().version, 5u);
  EXPECT_EQ(a.self().heartbeat, 5u);
  a.set_ring_progress(5, 0);  // unchanged: nothing
  EXPECT_EQ(a.self().heartbeat, 5u);
}

TEST(GossipCoreTest, VerdictsFlipOncePerOutageAndSkipLocalPauses) {
  GossipCore a(GossipConfig{}, node("a"), {}, 1, at(0));
  uint64_t v = 1;
  for (int64_t t = 0; t <= 10'000; t += 1000) {
    (void)a.on_message(Ack2{{node("p", 1, v++)}, {}}, at(t));
    (void)a.on_tick(at(t));
  }
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kJoined, "p"}}));
  EXPECT_TRUE(a.is_up("p", at(10'000)));
  EXPECT_TRUE(a.is_up("a", at(10'000)));
  EXPECT_FALSE(a.is_up("nobody", at(10'000)));

  // p goes silent at 10 s; a keeps ticking each second. The window holds the 2 s seed and
  // ten 1 s intervals (mean 12/11 s), so conviction comes when silence >= 8 ln(10) * 12/11 s
  // = 20.09 s, i.e. at the first round at or after 30.09 s: 31 s.
  auto [t, events] = tick_until_events(a, 10'000);
  EXPECT_EQ(t, 31'000);
  EXPECT_EQ(events, (std::vector<Event>{{Event::kDown, "p"}}));
  EXPECT_FALSE(a.is_up("p", at(31'000)));
  for (t += 1000; t < 40'000; t += 1000) (void)a.on_tick(at(t));
  EXPECT_TRUE(a.take_events().empty());  // no repeats while it stays down

  (void)a.on_message(Ack2{{node("p", 1, v++)}, {}}, at(40'000));
  (void)a.on_tick(at(40'000));
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kUp, "p"}}));

  // Now a itself stalls for 60 s (p too, from its view): the first round after the stall
  // convicts no one, the next one does if the silence goes on.
  (void)a.on_message(Ack2{{node("p", 1, v++)}, {}}, at(41'000));
  (void)a.on_tick(at(41'000));
  (void)a.on_tick(at(101'000));
  EXPECT_TRUE(a.take_events().empty());
  EXPECT_EQ(a.stats().local_pauses, 1u);
  (void)a.on_tick(at(102'000));
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kDown, "p"}}));
}

TEST(GossipCoreTest, DownPeersAndRemovedNodesInTargetChoice) {
  GossipCore a(GossipConfig{}, node("a"), {}, 7, at(0));
  NodeState removed = node("r");
  removed.status = Status::kRemoved;
  (void)a.on_message(Ack2{{node("d"), removed}, {}}, at(0));
  // After 30 s of silence both are down; with no live peer, d (down) is tried every round
  // (probability down/(live+1) = 1), r (removed) never.
  (void)a.on_tick(at(30'000));
  for (int64_t t = 31'000; t < 60'000; t += 1000) {
    std::vector<Outgoing> out = a.on_tick(at(t));
    ASSERT_EQ(kinds(out), "S");
    EXPECT_EQ(out[0].address, "d:7000");
  }
}

// Rounds in which `a` sends Syns, peers kept alive by a fresh version of each every round.
std::vector<std::vector<std::string>> syn_targets(GossipCore& a,
                                                  const std::vector<std::string>& peers,
                                                  int rounds) {
  std::vector<std::vector<std::string>> out;
  for (int r = 0; r < rounds; ++r) {
    Ack2 heartbeats;
    for (const std::string& p : peers) heartbeats.states.push_back(node(p, 1, r + 1));
    (void)a.on_message(heartbeats, at(r * 1000));
    std::vector<std::string> targets;
    for (const Outgoing& o : a.on_tick(at(r * 1000))) targets.push_back(o.address);
    out.push_back(targets);
  }
  return out;
}

TEST(GossipCoreTest, NoExtraSeedSynWhenTheLivePeerIsTheOnlySeed) {
  GossipCore a(config_with_seed("b:7000"), node("a"), {}, 11, at(0));
  for (const auto& targets : syn_targets(a, {"b"}, 50)) {
    EXPECT_EQ(targets, std::vector<std::string>{"b:7000"});
  }
}

TEST(GossipCoreTest, SeedSynsFollowCassandrasProbability) {
  // Live peers b (the seed), c, d, e. When the live pick is not the seed (3/4 of rounds) a
  // seed Syn follows with probability seeds/(live+down) = 1/4: 3/16 of rounds have two Syns.
  GossipCore a(config_with_seed("b:7000"), node("a"), {}, 12, at(0));
  int doubles = 0;
  for (const auto& targets : syn_targets(a, {"b", "c", "d", "e"}, 2000)) {
    ASSERT_GE(targets.size(), 1u);
    ASSERT_LE(targets.size(), 2u);
    if (targets.size() == 2) {
      ++doubles;
      EXPECT_NE(targets[0], "b:7000");  // the live pick was not the seed...
      EXPECT_EQ(targets[1], "b:7000");  // ...so the seed is added, never twice
    }
  }
  EXPECT_GT(doubles, 2000 * 3 / 16 * 8 / 10);  // 375 expected; +-20%, ~5 sd
  EXPECT_LT(doubles, 2000 * 3 / 16 * 12 / 10);
}

TEST(GossipCoreTest, FewerLivePeersThanSeedsAlwaysConsidersASeed) {
  // Seeds b and c; only b is known and live. Since 1 < 2 seeds, a seed Syn is considered
  // even though b is a seed: with probability 2/1 (always), to the seed not already chosen.
  GossipConfig config;
  config.seeds = {"b:7000", "c:7000"};
  GossipCore a(config, node("a"), {}, 13, at(0));
  for (const auto& targets : syn_targets(a, {"b"}, 50)) {
    EXPECT_EQ(targets, (std::vector<std::string>{"b:7000", "c:7000"}));
  }
}

}  // namespace
}  // namespace qkv::gossip
