// The cluster client's routing (client/routing.h) and resolvers (client/resolvers.h), sans-I/O.
#include "client/routing.h"

#include <gtest/gtest.h>

#include "client/resolvers.h"
#include "ring/ring.h"
#include "ring/token.h"

namespace qkv::client {
namespace {

TimePoint at(int64_t ms) {
  return TimePoint(Duration(ms));
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresAndProbesOnceAfterTheCooldown) {
  CircuitBreaker breaker(BreakerOptions{3, 1000});
  breaker.on_failure(at(0));
  breaker.on_failure(at(1));
  breaker.on_success();  // an answer resets the count: failures must be consecutive
  breaker.on_failure(at(2));
  breaker.on_failure(at(3));
  EXPECT_TRUE(breaker.allow(at(4)));
  breaker.on_failure(at(4));
  EXPECT_EQ(breaker.state(at(5)), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(breaker.allow(at(1003)));
  EXPECT_EQ(breaker.opened(), 1u);

  // Half-open: one probe at a time.
  EXPECT_EQ(breaker.state(at(1004)), CircuitBreaker::State::kHalfOpen);
  EXPECT_TRUE(breaker.allow(at(1004)));
  EXPECT_FALSE(breaker.allow(at(1005))) << "a second request while the probe is out";
  breaker.on_failure(at(1010));  // the probe failed: open for another cool-down
  EXPECT_FALSE(breaker.allow(at(2009)));
  EXPECT_TRUE(breaker.allow(at(2010)));
  breaker.on_success();  // the probe answered: closed
  EXPECT_EQ(breaker.state(at(2011)), CircuitBreaker::State::kClosed);
  EXPECT_TRUE(breaker.allow(at(2011)));
  EXPECT_TRUE(breaker.allow(at(2011)));
  EXPECT_EQ(breaker.opened(), 1u);
}

proto::MemberInfo member(const char* id, bool up) {
  proto::MemberInfo m;
  m.id = id;
  m.client_address = std::string("addr-") + id;
  m.status = "normal";
  m.up = up;
  return m;
}

struct Cluster {
  proto::RingResponse ring;
  proto::MembersResponse members;
};

Cluster five_nodes() {
  auto ring = ring::Ring::claim({"n1", "n2", "n3", "n4", "n5"}, 64, 3);
  EXPECT_TRUE(ring.is_ok());
  Cluster c;
  c.ring = proto::RingResponse{64, 3, ring->owners()};
  for (const char* id : {"n1", "n2", "n3", "n4", "n5"})
    c.members.members.push_back(member(id, true));
  return c;
}

TEST(Topology, AKeyGoesToItsPrimariesInPreferenceOrderThenToEveryOtherMember) {
  Cluster c = five_nodes();
  auto topology = Topology::make(c.ring, c.members);
  ASSERT_TRUE(topology.is_ok());
  auto ring = ring::Ring::claim({"n1", "n2", "n3", "n4", "n5"}, 64, 3);
  for (std::string key : {"a", "cart:42", "user/7"}) {
    const auto list = ring->preference_list(ring::token_of(key), 3);
    const auto route = topology->route(key);
    ASSERT_EQ(route.size(), 5u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(route[i], "addr-" + list.primaries[i]) << key;
  }
}

TEST(Topology, PrimariesTheReporterSawDownGoLastAmongPrimaries) {
  Cluster c = five_nodes();
  auto ring = ring::Ring::claim({"n1", "n2", "n3", "n4", "n5"}, 64, 3);
  const auto list = ring->preference_list(ring::token_of("k"), 3);
  for (auto& m : c.members.members) m.up = m.id != list.primaries[0];
  auto topology = Topology::make(c.ring, c.members);
  ASSERT_TRUE(topology.is_ok());
  const auto route = topology->route("k");
  EXPECT_EQ(route[0], "addr-" + list.primaries[1]);
  EXPECT_EQ(route[1], "addr-" + list.primaries[2]);
  EXPECT_EQ(route[2], "addr-" + list.primaries[0]);
}

TEST(Topology, MembersWithoutAnAddressOrRemovedAreNotRoutedTo) {
  Cluster c = five_nodes();
  c.members.members[0].client_address.clear();
  c.members.members[1].status = "removed";
  auto topology = Topology::make(c.ring, c.members);
  ASSERT_TRUE(topology.is_ok());
  for (std::string key : {"a", "b", "c", "d"}) {
    const auto route = topology->route(key);
    EXPECT_EQ(route.size(), 3u) << key;
    for (const auto& address : route) {
      EXPECT_NE(address, "addr-n1");
      EXPECT_NE(address, "addr-n2");
    }
  }
}

TEST(Topology, ARingNoNodeCouldHaveIsCorruptionNotACrash) {
  Cluster c = five_nodes();
  for (auto bad : {proto::RingResponse{0, 3, {}}, proto::RingResponse{3, 3, {"a", "b", "c"}},
                   proto::RingResponse{2, 3, {"a", ""}}, proto::RingResponse{4, 3, {"a", "b"}}}) {
    auto topology = Topology::make(bad, c.members);
    EXPECT_EQ(topology.status().code(), StatusCode::kCorruption);
  }
  EXPECT_FALSE(Topology().known());
  EXPECT_TRUE(Topology().route("k").empty());
}

Sibling value(std::string v, int64_t ts, std::string node) {
  return Sibling{std::move(v), false, ts, std::move(node), 0};
}

TEST(Resolvers, LastWriterWinsTakesTheLatestAndATombstoneDeletes) {
  Resolver lww = last_writer_wins();
  EXPECT_EQ(lww({value("old", 100, "n1"), value("new", 200, "n2"), value("mid", 150, "n3")}),
            "new");
  // A tie is broken by the node, so every client picks the same value.
  EXPECT_EQ(lww({value("x", 100, "n1"), value("y", 100, "n2")}), "y");
  EXPECT_EQ(lww({value("y", 100, "n2"), value("x", 100, "n1")}), "y");
  // The latest is a delete: the key is deleted.
  EXPECT_EQ(lww({value("v", 100, "n1"), Sibling{"", true, 300, "n2", 0}}), std::nullopt);
  EXPECT_EQ(lww({value("v", 400, "n1"), Sibling{"", true, 300, "n2", 0}}), "v");
}

TEST(Resolvers, SetUnionMergesElementsAndAnAddSurvivesAConcurrentDelete) {
  Resolver merge = set_union();
  EXPECT_EQ(merge({value("apple\npear", 1, "n1"), value("pear\nfig", 2, "n2")}),
            "apple\nfig\npear");
  EXPECT_EQ(merge({value("apple", 1, "n1"), Sibling{"", true, 5, "n2", 0}}), "apple");
  EXPECT_EQ(merge({Sibling{"", true, 1, "n1", 0}, Sibling{"", true, 2, "n2", 0}}), std::nullopt);
  EXPECT_EQ(set_union(',')({value("a,b", 1, "n1"), value("c,,a", 1, "n2")}), "a,b,c");
}

}  // namespace
}  // namespace qkv::client
