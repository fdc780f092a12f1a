// Cluster identity in gossip (issue 15): ring ids and hashes pinned, gossip of another
// cluster refused (not merged, not applied, counted, reported once), and two tables under
// one version of one cluster reported as a conflict.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gossip/gossip_core.h"
#include "gossip/ring_identity.h"
#include "tests/gossip/gossip_testing.h"

namespace qkv::gossip {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the helpers
using ::testing::Contains;

RingState ring_of(std::vector<NodeId> owners, uint64_t version, uint64_t cluster) {
  return RingState{version, 2, std::move(owners), {}, "a", cluster};
}

NodeState of_cluster(NodeState state, uint64_t cluster) {
  state.cluster_id = cluster;
  return state;
}

// Ids and hashes are compared between nodes of different releases and saved with the ring:
// their values must never change.
TEST(RingIdentityTest, ValuesArePinned) {
  EXPECT_EQ(first_cluster_id({"n1", "n2", "n3"}, 256, 3), 0xf0bdf2e264313656ull);
  EXPECT_EQ(ring_hash(RingState{1, 3, {"n1", "n2", "n3", "n1"}, {}, "n1", 7}),
            0xfe5a2e09618e514full);
}

TEST(RingIdentityTest, TheClusterIdIsTheInitialMembersPartitionsAndN) {
  const uint64_t id = first_cluster_id({"n1", "n2", "n3"}, 256, 3);
  EXPECT_EQ(first_cluster_id({"n3", "n1", "n2", "n1"}, 256, 3), id) << "order and repeats";
  EXPECT_NE(first_cluster_id({"n1", "n2", "n3", "n4"}, 256, 3), id) << "issue 15's 4th node";
  EXPECT_NE(first_cluster_id({"n1", "n2", "n3"}, 128, 3), id);
  EXPECT_NE(first_cluster_id({"n1", "n2", "n3"}, 256, 2), id);
  EXPECT_NE(first_cluster_id({"n1", "n23"}, 256, 3), first_cluster_id({"n12", "n3"}, 256, 3))
      << "ids are length-prefixed";
  EXPECT_NE(id, 0u);
}

TEST(RingIdentityTest, TheHashCoversTheTableNotTheClusterId) {
  const RingState ring{4, 3, {"a", "b", "c", "a"}, {}, "a", 9};
  const uint64_t h = ring_hash(ring);
  EXPECT_NE(h, 0u);
  EXPECT_EQ(ring_hash(RingState{}), 0u) << "no ring";
  RingState other = ring;
  other.cluster_id = 0;
  EXPECT_EQ(ring_hash(other), h) << "a ring from before cluster ids is the same table";
  for (auto change : std::vector<void (*)(RingState&)>{
           [](RingState& r) { r.version = 5; }, [](RingState& r) { r.n = 2; },
           [](RingState& r) { r.owners[3] = r.owners[1]; },
           [](RingState& r) {
             r.next_owners = {"a", "b", "c", "c"};
           },
           [](RingState& r) { r.claimant = r.owners[1]; }}) {
    RingState changed = ring;
    change(changed);
    EXPECT_NE(ring_hash(changed), h);
  }
  EXPECT_TRUE(same_cluster(0, 5));
  EXPECT_TRUE(same_cluster(5, 0));
  EXPECT_TRUE(same_cluster(5, 5));
  EXPECT_FALSE(same_cluster(5, 6));
}

TEST(ClusterIdentityTest, ANodeIsOfItsRingsCluster) {
  GossipCore a(GossipConfig{}, node("a"), ring_of({"a", "b"}, 1, 7), 1, at(0));
  EXPECT_EQ(a.cluster_id(), 7u);
  EXPECT_EQ(a.ring_hash(), ring_hash(a.ring()));
  GossipCore pending(GossipConfig{}, of_cluster(node("p"), 9), {}, 1, at(0));
  EXPECT_EQ(pending.cluster_id(), 9u) << "before its first ring: the one it will make";
  EXPECT_FALSE(pending.set_ring(ring_of({"p"}, 1, 8)).is_ok()) << "another cluster's ring";
  EXPECT_TRUE(pending.set_ring(ring_of({"p"}, 1, 9)).is_ok());
}

// The 4th node says it is of another cluster: its Syn is not merged; it gets a
// bare Ack (our state and ring) so it sees what it met, and is reported once.
TEST(ClusterIdentityTest, ASynFromAnotherClusterIsNotMergedAndGetsABareAck) {
  GossipCore a(GossipConfig{}, node("a"), ring_of({"a", "b"}, 3, 7), 1, at(0));
  (void)a.take_events();
  Syn syn{of_cluster(node("x"), 8), {Digest{"y", 1, 1, 1}}, 0};
  std::vector<Outgoing> out = a.on_message(syn, at(10));
  ASSERT_EQ(kinds(out), "A");
  EXPECT_EQ(out[0].address, "x:7000");
  const Ack& ack = as<Ack>(out[0]);
  EXPECT_EQ(ack.sender.id, "a");
  EXPECT_EQ(ack.sender.cluster_id, 7u);
  ASSERT_TRUE(ack.ring.has_value());
  EXPECT_EQ(*ack.ring, a.ring());
  EXPECT_EQ(ack.ring_version, 3u);
  EXPECT_EQ(ack.ring_hash, a.ring_hash());
  EXPECT_TRUE(ack.states.empty());
  EXPECT_TRUE(ack.requests.empty()) << "nothing of it is asked for";
  EXPECT_FALSE(a.members().contains("x"));
  EXPECT_EQ(a.stats().foreign_cluster_messages, 1u);
  EXPECT_EQ(a.take_events(), (std::vector<Event>{{Event::kForeignCluster, "x"}}));
  const Sighting& seen = a.sightings().at("x");
  EXPECT_EQ(seen.cluster_id, 8u);
  EXPECT_EQ(seen.peer_address, "x:7000");

  (void)a.on_message(syn, at(1010));
  EXPECT_EQ(a.stats().foreign_cluster_messages, 2u) << "counted every time";
  EXPECT_TRUE(a.take_events().empty()) << "reported once per peer and identity";
}

TEST(ClusterIdentityTest, AnAckFromAnotherClusterIsNotAppliedNorAnswered) {
  GossipCore p(config_with_seed("a:7000"), of_cluster(node("p"), 9), {}, 1, at(0));
  Ack ack;
  ack.sender = of_cluster(node("a"), 7);
  ack.states = {of_cluster(node("b"), 7)};
  ack.ring = ring_of({"a", "b"}, 3, 7);
  ack.ring_version = 3;
  EXPECT_TRUE(p.on_message(ack, at(10)).empty()) << "no Ack2";
  EXPECT_EQ(p.ring().version, 0u);
  EXPECT_FALSE(p.members().contains("a"));
  EXPECT_FALSE(p.members().contains("b"));
  EXPECT_EQ(p.take_events(), (std::vector<Event>{{Event::kForeignCluster, "a"}}));
  const Sighting& seen = p.sightings().at("a");
  ASSERT_TRUE(seen.ring.has_value()) << "what it met, for its error";
  EXPECT_EQ(seen.ring->owners, (std::vector<NodeId>{"a", "b"}));
  EXPECT_EQ(seen.ring_version, 3u);
  EXPECT_EQ(seen.ring_hash, ring_hash(*ack.ring));
}

TEST(ClusterIdentityTest, RelayedStatesAndRingsOfAnotherClusterAreRefused) {
  GossipCore a(GossipConfig{}, node("a"), ring_of({"a", "b"}, 3, 7), 1, at(0));
  (void)a.take_events();
  Ack2 ack2;
  ack2.states = {of_cluster(node("x"), 8), of_cluster(node("b"), 7), node("old")};
  ack2.ring = RingState{9, 2, {"x", "y"}, {}, "x", 8};
  EXPECT_TRUE(a.on_message(ack2, at(10)).empty());
  EXPECT_FALSE(a.members().contains("x"));
  EXPECT_TRUE(a.members().contains("b"));
  EXPECT_TRUE(a.members().contains("old")) << "0: a node from before cluster ids";
  EXPECT_EQ(a.stats().foreign_cluster_states, 1u);
  EXPECT_EQ(a.stats().foreign_cluster_rings, 1u);
  EXPECT_EQ(a.ring().version, 3u) << "a higher version of another cluster does not win";
  EXPECT_EQ(a.sightings().at("x").ring->owners, (std::vector<NodeId>{"x", "y"}))
      << "a ring without a sender is named by its claimant";
}

TEST(ClusterIdentityTest, AJoiningNodeTakesTheClusterOfTheRingItLearns) {
  GossipCore j(config_with_seed("a:7000"), node("j"), {}, 1, at(0));
  EXPECT_EQ(j.cluster_id(), 0u);
  Ack ack;
  ack.sender = of_cluster(node("a"), 7);
  ack.ring = ring_of({"a", "b"}, 3, 7);
  (void)j.on_message(ack, at(10));
  EXPECT_EQ(j.ring().version, 3u);
  EXPECT_EQ(j.cluster_id(), 7u);
  EXPECT_GT(j.self().version, 1u) << "a change of content others must learn";
  Syn foreign{of_cluster(node("x"), 8), {}, 0};
  EXPECT_EQ(kinds(j.on_message(foreign, at(20))), "A");
  EXPECT_FALSE(j.members().contains("x"));
}

// Two tables under one version of one cluster: never in a correct cluster. Each side sees
// it (the Syn's receiver and, through the Ack, its sender), neither replaces its table.
TEST(ClusterIdentityTest, AnotherTableUnderTheSameVersionIsARingConflict) {
  GossipCore a(config_with_seed("b:7000"), node("a"), ring_of({"a", "b"}, 4, 7), 1, at(0));
  GossipCore b(GossipConfig{}, node("b"), ring_of({"b", "a"}, 4, 7), 2, at(0));
  (void)a.take_events();
  (void)b.take_events();
  std::vector<Outgoing> syn = a.on_tick(at(0));
  ASSERT_EQ(kinds(syn), "S");
  std::vector<Outgoing> ack = b.on_message(syn[0].message, at(1));
  ASSERT_EQ(kinds(ack), "A") << "same cluster: gossip goes on";
  EXPECT_TRUE(b.members().contains("a"));
  EXPECT_EQ(b.stats().ring_conflicts, 1u);
  EXPECT_THAT(b.take_events(), Contains(Event{Event::kRingConflict, "a"}));
  (void)a.on_message(ack[0].message, at(2));
  EXPECT_EQ(a.stats().ring_conflicts, 1u);
  EXPECT_THAT(a.take_events(), Contains(Event{Event::kRingConflict, "b"}));
  EXPECT_EQ(a.ring().owners, (std::vector<NodeId>{"a", "b"}));
  EXPECT_EQ(b.ring().owners, (std::vector<NodeId>{"b", "a"}));
  EXPECT_EQ(b.sightings().at("a").ring_hash, a.ring_hash());

  // The same table (even one without a cluster id, from an older node) is no conflict.
  GossipCore c(GossipConfig{}, node("c"), ring_of({"a", "b"}, 4, 0), 3, at(0));
  (void)c.on_message(a.on_tick(at(1000)).at(0).message, at(1001));
  EXPECT_EQ(c.stats().ring_conflicts, 0u);
}

}  // namespace
}  // namespace qkv::gossip
