#include "client/ring_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::client {
namespace {

using ::testing::HasSubstr;

proto::MemberInfo member(std::string id, uint64_t ring_version, bool up = true) {
  proto::MemberInfo m;
  m.id = std::move(id);
  m.client_address = "127.0.0.1:7001";
  m.ring_version = ring_version;
  m.up = up;
  return m;
}

// A member's own status: in a transition (a next ring) when `started` is not 0, with
// `done` of `total` inbound ranges copied.
NodeTransfers answered(std::string id, uint64_t ring_version, uint64_t started = 0,
                       std::size_t done = 0, std::size_t total = 0) {
  NodeTransfers n;
  n.node_id = std::move(id);
  n.ring_version = ring_version;
  n.transfer_started_unix_ms = started;
  for (std::size_t i = 0; i < total; ++i) {
    proto::TransferProgress t;
    t.partition = static_cast<uint32_t>(i);
    t.done = i < done;
    n.transfers.push_back(t);
  }
  return n;
}

TEST(RingSettling, SettledWhenEveryUpMemberIsOnOneVersionOutOfTransition) {
  RingSettling s = ring_settling({member("n1", 7), member("n2", 7), member("n3", 5, false)},
                                 {answered("n1", 7), answered("n2", 7)});
  EXPECT_TRUE(s.settled);  // n3 is down: it holds up nothing
  EXPECT_EQ(s.ring_version, 7u);
  EXPECT_EQ(s.members_up, 2u);
  EXPECT_EQ(settling_line(s), "ring version 7 on every member: done");
}

TEST(RingSettling, ATransitionWithRangesLeftIsNotSettled) {
  RingSettling s = ring_settling(
      {member("n1", 6), member("n2", 6), member("n4", 6)},
      {answered("n1", 6, 1000), answered("n2", 6, 1000), answered("n4", 6, 1000, 12, 64)});
  EXPECT_FALSE(s.settled);
  EXPECT_TRUE(s.in_transition);
  EXPECT_EQ(s.ranges_done, 12u);
  EXPECT_EQ(s.ranges_total, 64u);
  EXPECT_EQ(settling_line(s), "[===>                ] 12/64 ranges transferred, ring version 6");
  // Every range copied, but the claimant has not switched the ring yet: still a transition.
  s = ring_settling({member("n1", 6), member("n4", 6)},
                    {answered("n1", 6, 1000), answered("n4", 6, 1000, 64, 64)});
  EXPECT_FALSE(s.settled);
}

TEST(RingSettling, AMemberBehindOrSilentKeepsItUnsettled) {
  // Just after a commit: the claimant has the new ring, the others not yet.
  RingSettling s = ring_settling({member("n1", 7), member("n2", 6), member("n3", 6)},
                                 {answered("n1", 7), answered("n2", 6), answered("n3", 6)});
  EXPECT_FALSE(s.settled);
  EXPECT_EQ(s.behind, (std::vector<std::string>{"n2", "n3"}));
  EXPECT_EQ(settling_line(s), "ring version 7, waiting for n2, n3 to apply it");
  s = ring_settling({member("n1", 7), member("n2", 7)}, {answered("n1", 7)});
  EXPECT_FALSE(s.settled);
  EXPECT_EQ(s.unanswered, std::vector<std::string>{"n2"});
  EXPECT_THAT(settling_line(s), HasSubstr("no status from n2"));
  EXPECT_FALSE(ring_settling({}, {}).settled);
}

TEST(ArrowBar, FillsInProportionWithAHeadAndIsFullOnlyWhenDone) {
  EXPECT_EQ(arrow_bar(0, 10, 10), "[>         ]");
  EXPECT_EQ(arrow_bar(5, 10, 10), "[=====>    ]");
  EXPECT_EQ(arrow_bar(9, 10, 10), "[=========>]");
  EXPECT_EQ(arrow_bar(99, 100, 10), "[=========>]");
  EXPECT_EQ(arrow_bar(10, 10, 10), "[==========]");
  EXPECT_EQ(arrow_bar(0, 0, 4), "[====]");
}

TEST(SettlingJson, HasEveryField) {
  auto j = settling_json(ring_settling({member("n1", 3)}, {answered("n1", 3)}));
  for (const char* field : {"settled", "ring_version", "members_up", "in_transition", "ranges_done",
                            "ranges_total", "behind", "unanswered"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  EXPECT_TRUE(j["settled"].get<bool>());
}

TEST(LeaveCheck, CountsTheOwnersLeftAfterTheStagedChanges) {
  proto::RingResponse ring;
  ring.n = 3;
  ring.owners = {"n1", "n2", "n3", "n1", "n2", "n3"};
  EXPECT_EQ(members_after_leave(ring, std::nullopt, "n3"), 2u);
  EXPECT_EQ(members_after_leave(ring, std::nullopt, "n9"), 3u);
  // A join of n4 is staged: the plan's table has four owners.
  proto::RingAdminResponse plan;
  plan.ownership = {{"n1", 2, 2}, {"n2", 2, 1}, {"n3", 2, 2}, {"n4", 0, 1}};
  EXPECT_EQ(members_after_leave(ring, plan, "n3"), 3u);
  // A leave of n2 is staged already: n2 owns nothing after it.
  plan.ownership = {{"n1", 2, 3}, {"n2", 2, 0}, {"n3", 2, 3}};
  EXPECT_EQ(members_after_leave(ring, plan, "n3"), 1u);
}

TEST(LeaveCheck, NamesTheShortfallOnlyBelowN) {
  EXPECT_EQ(leave_below_n("n3", 3, 3), std::nullopt);
  EXPECT_EQ(leave_below_n("n3", 2, 3),
            "n3 leaving leaves 2 ring members, fewer than n=3 replicas per key: keys would have "
            "2 replicas, and quorums over 2 (r, w, pr) could never be met");
  EXPECT_THAT(*leave_below_n("n2", 1, 2), HasSubstr("leaves 1 ring member, fewer than n=2"));
}

}  // namespace
}  // namespace qkv::client
