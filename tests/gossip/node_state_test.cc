// NodeState / RingState ordering, and the pinned wire values of Status.
#include "gossip/node_state.h"

#include <gtest/gtest.h>

namespace qkv::gossip {
namespace {

NodeState state(uint64_t generation, uint64_t version) {
  return NodeState{"n1", generation,     version, "10.0.0.1:7000", "10.0.0.1:9000",
                   "z1", Status::kNormal};
}

TEST(NodeStateTest, StatusValuesArePinned) {
  // persisted: a renumbering must fail here, not corrupt a mixed-version cluster.
  EXPECT_EQ(static_cast<int>(Status::kJoining), 0);
  EXPECT_EQ(static_cast<int>(Status::kNormal), 1);
  EXPECT_EQ(static_cast<int>(Status::kLeaving), 2);
  EXPECT_EQ(static_cast<int>(Status::kRemoved), 3);
}

TEST(NodeStateTest, StatusNames) {
  EXPECT_EQ(status_name(Status::kJoining), "joining");
  EXPECT_EQ(status_name(Status::kNormal), "normal");
  EXPECT_EQ(status_name(Status::kLeaving), "leaving");
  EXPECT_EQ(status_name(Status::kRemoved), "removed");
  EXPECT_EQ(status_name(static_cast<Status>(9)), "unknown");
}

TEST(NodeStateTest, HigherGenerationWinsWhateverTheVersion) {
  EXPECT_TRUE(state(2, 1).newer_than(state(1, 1'000'000)));
  EXPECT_FALSE(state(1, 1'000'000).newer_than(state(2, 1)));
}

TEST(NodeStateTest, SameGenerationHigherVersionWins) {
  EXPECT_TRUE(state(3, 8).newer_than(state(3, 7)));
  EXPECT_FALSE(state(3, 7).newer_than(state(3, 8)));
  EXPECT_FALSE(state(3, 7).newer_than(state(3, 7)));  // equal is not newer
}

TEST(NodeStateTest, SubstanceIgnoresTheVersion) {
  NodeState a = state(1, 1);
  NodeState b = a;
  b.version = 99;
  EXPECT_FALSE(a.differs_in_substance(b));
  for (int field = 0; field < 6; ++field) {
    NodeState c = a;
    if (field == 0) c.generation = 2;
    if (field == 1) c.status = Status::kLeaving;
    if (field == 2) c.peer_address = "10.0.0.2:7000";
    if (field == 3) c.client_address = "10.0.0.2:9000";
    if (field == 4) c.zone = "z2";
    if (field == 5) c.http_address = "10.0.0.2:7200";
    EXPECT_TRUE(a.differs_in_substance(c)) << "field " << field;
  }
}

TEST(RingStateTest, OnlyAHigherVersionIsNewer) {
  RingState a{3, 3, {"n1", "n2"}, {}, {}};
  RingState b{3, 3, {"n2", "n1"}, {}, {}};
  EXPECT_FALSE(b.newer_than(a));  // equal versions keep the current ring
  b.version = 4;
  EXPECT_TRUE(b.newer_than(a));
  EXPECT_FALSE(a.newer_than(b));
}

}  // namespace
}  // namespace qkv::gossip
