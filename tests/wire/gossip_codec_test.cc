// Gossip messages survive the codec, heartbeats and content versions included, and nodes
// from before heartbeat entries (no contentVersion, heartbeats or heartbeatEntries on the
// wire) read and are read as they always were (proto/gossip.capnp).
#include "node/wire/gossip_codec.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "node/wire/replica_codec.h"

namespace qkv::node {
namespace {

gossip::NodeState state(const std::string& id, uint64_t generation, uint64_t version,
                        uint64_t heartbeat) {
  gossip::NodeState s{
      id, generation, version, id + ":7000", id + ":9000", "z1", gossip::Status::kLeaving};
  s.ring_version = 3;
  s.transfers_done = 2;
  s.heartbeat = heartbeat;
  s.http_address = id + ":7200";
  return s;
}

gossip::Message round_trip(const gossip::Message& m) {
  auto decoded = decode_peer_message(encode(PeerMessage{"n1", 0, Gossip{m}}));
  EXPECT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  return std::get<Gossip>(decoded.value().body).message;
}

// Decodes what fill_gossip wrote after `edit` changed the wire form.
template <typename Edit>
gossip::Message read_edited(const gossip::Message& m, Edit edit) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::PeerMessage>();
  fill_gossip(root, m);
  edit(root);
  auto decoded = read_gossip(root.asReader());
  EXPECT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  return std::move(decoded).value();
}

TEST(GossipCodecTest, EveryGossipMessageRoundTripsWithHeartbeats) {
  const gossip::RingState ring{4, 1, {"n1", "n2"}, {}, "n1"};
  const gossip::Syn syn{state("n1", 3, 7, 42), {{"n2", 1, 5, 9}, {"n3", 2, 6, 6}}, 4};
  EXPECT_EQ(round_trip(syn), gossip::Message(syn));
  gossip::Syn old_syn = syn;
  old_syn.heartbeat_entries = false;
  EXPECT_EQ(round_trip(old_syn), gossip::Message(old_syn));

  gossip::Ack ack{
      state("n2", 1, 5, 50), {state("n4", 2, 8, 8)}, {{"n5", 1, 2, 3}, {"n6"}}, ring, true};
  ack.heartbeats = {{"n7", 1, 77}, {"n8", 5, 1'000'000'000'000}};
  ack.heartbeat_requests = {{"n9", 1, 2, 30}};
  EXPECT_EQ(round_trip(ack), gossip::Message(ack));
  ack.heartbeat_entries = false;
  EXPECT_EQ(round_trip(ack), gossip::Message(ack));

  gossip::Ack2 ack2{{state("n4", 2, 8, 9)}, std::nullopt, {{"n7", 1, 78}}};
  EXPECT_EQ(round_trip(ack2), gossip::Message(ack2));
}

TEST(GossipCodecTest, ARemovalTransitionKeepsItsRemovedMembers) {
  // qkvctl node remove: the transition names the members it removes without a handoff, so
  // no receiver asks them for data; stored rings (meta "ring") keep them too.
  gossip::RingState ring{5, 2, {"n1", "n2", "n3", "n1"}, {"n1", "n2", "n1", "n2"}, "n1"};
  ring.removed = {"n3"};
  gossip::Ack2 ack2{{}, ring, {}};
  EXPECT_EQ(round_trip(ack2), gossip::Message(ack2));
  auto stored = decode_ring_state(encode_ring_state(ring));
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(*stored, ring);
  ring.removed = {"bad id!"};
  EXPECT_FALSE(decode_ring_state(encode_ring_state(ring)).is_ok());
}

TEST(GossipCodecTest, WhatOlderNodesReadIsTheHeartbeat) {
  // Nodes from before contentVersion order states and digests by `version` alone: it
  // carries the heartbeat, so they still see every heartbeat of every node.
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::PeerMessage>();
  fill_gossip(root, gossip::Syn{state("n1", 3, 7, 42), {{"n2", 1, 5, 9}, {"n3", 1, 6}}, 0});
  auto syn = root.asReader().getGossipSyn();
  EXPECT_EQ(syn.getSender().getVersion(), 42u);
  EXPECT_EQ(syn.getSender().getContentVersion(), 7u);
  EXPECT_EQ(syn.getDigests()[0].getVersion(), 9u);
  EXPECT_EQ(syn.getDigests()[1].getVersion(), 6u);  // a heartbeat below the version
  EXPECT_TRUE(syn.getHeartbeatEntries());
}

TEST(GossipCodecTest, WhatOlderNodesSendReadsAsVersionEqualsHeartbeat) {
  // An older node sets neither contentVersion nor heartbeatEntries nor the heartbeat lists:
  // its `version` moves at every heartbeat and change, so it is both.
  auto strip_state = [](wire::NodeState::Builder s) { s.setContentVersion(0); };
  auto strip_digests = [](auto list) {
    for (auto d : list) d.setContentVersion(0);
  };

  const gossip::Message syn = read_edited(gossip::Syn{state("n1", 3, 7, 42), {{"n2", 1, 5, 9}}, 0},
                                          [&](wire::PeerMessage::Builder b) {
                                            auto s = b.getGossipSyn();
                                            strip_state(s.getSender());
                                            strip_digests(s.getDigests());
                                            s.setHeartbeatEntries(false);
                                          });
  const gossip::Syn expected_syn{state("n1", 3, 42, 42), {{"n2", 1, 9, 9}}, 0, false};
  EXPECT_EQ(syn, gossip::Message(expected_syn));

  gossip::Ack ack{state("n2", 1, 5, 50), {state("n4", 2, 8, 11)}, {{"n5", 1, 2, 3}}, {}, false};
  const gossip::Message old_ack = read_edited(ack, [&](wire::PeerMessage::Builder b) {
    auto a = b.getGossipAck();
    strip_state(a.getSender());
    for (auto s : a.getStates()) strip_state(s);
    strip_digests(a.getRequests());
    a.setHeartbeatEntries(false);
  });
  gossip::Ack expected_ack{
      state("n2", 1, 50, 50), {state("n4", 2, 11, 11)}, {{"n5", 1, 3, 3}}, {}, false};
  expected_ack.heartbeat_entries = false;
  EXPECT_EQ(old_ack, gossip::Message(expected_ack));
}

// Cluster identity (gossip/ring_identity.h) travels in new fields: a node from before
// them sends none, which reads as 0, unknown, and is accepted by everyone.
TEST(GossipCodecTest, ClusterIdsAndRingHashesRoundTripAndOlderNodesReadAsUnknown) {
  gossip::NodeState sender = state("n1", 3, 7, 42);
  sender.cluster_id = 0xfeedface12345678;
  gossip::RingState ring{4, 1, {"n1", "n2"}, {"n2", "n1"}, "n1", 0xfeedface12345678};
  gossip::Syn syn{sender, {{"n2", 1, 5, 9}}, 4};
  syn.ring_hash = 0xabcdef;
  EXPECT_EQ(round_trip(syn), gossip::Message(syn));
  gossip::Ack ack{sender, {sender}, {}, ring, false};
  ack.ring_version = 4;
  ack.ring_hash = 0x1234;
  EXPECT_EQ(round_trip(ack), gossip::Message(ack));
  gossip::Ack2 ack2{{sender}, ring, {}};
  EXPECT_EQ(round_trip(ack2), gossip::Message(ack2));
  auto stored = decode_ring_state(encode_ring_state(ring));
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(stored->cluster_id, ring.cluster_id) << "saved with the ring";

  const gossip::Message old = read_edited(ack, [](wire::PeerMessage::Builder b) {
    auto a = b.getGossipAck();
    a.getSender().setClusterId(0);
    a.getRing().setClusterId(0);
    a.setRingVersion(0);
    a.setRingHash(0);
  });
  const auto& read = std::get<gossip::Ack>(old);
  EXPECT_EQ(read.sender.cluster_id, 0u);
  EXPECT_EQ(read.ring->cluster_id, 0u);
  EXPECT_EQ(read.ring_version, 0u);
  EXPECT_EQ(read.ring_hash, 0u);
}

TEST(GossipCodecTest, HeartbeatEntriesWithBadIdsAreCorruption) {
  gossip::Ack2 ack2;
  ack2.heartbeats = {{"bad id", 1, 2}};
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::PeerMessage>();
  fill_gossip(root, ack2);
  EXPECT_FALSE(read_gossip(root.asReader()).is_ok());
  gossip::Ack ack;
  ack.sender = state("n1", 1, 1, 1);
  ack.heartbeat_requests = {{"", 1, 1, 1}};
  fill_gossip(root, ack);
  EXPECT_FALSE(read_gossip(root.asReader()).is_ok());
}

}  // namespace
}  // namespace qkv::node
