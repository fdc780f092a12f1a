#include "node/config_checks.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::node {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

DaemonConfig with(uint32_t n, uint32_t r, uint32_t w, std::size_t members) {
  DaemonConfig c;
  c.node.n = n;
  c.node.r = r;
  c.node.w = w;
  for (std::size_t i = 0; i < members; ++i) {
    c.members.push_back(
        {fmt::format("n{}", i + 1), {"127.0.0.1", static_cast<uint16_t>(7101 + i)}, {}});
  }
  return c;
}

TEST(ConfigWarnings, NoneForTheDefaultsOnThreeMembers) {
  EXPECT_THAT(config_warnings(with(3, 2, 2, 3)), IsEmpty());
  EXPECT_THAT(config_warnings(with(3, 3, 1, 5)), IsEmpty());
}

TEST(ConfigWarnings, ReadsMayMissWritesWhenRPlusWIsNotAboveN) {
  EXPECT_THAT(config_warnings(with(3, 1, 2, 3)),
              ElementsAre("r=1 + w=2 <= n=3: a read may miss the latest acknowledged write even "
                          "with no failure (read-your-writes needs r + w > n)"));
  EXPECT_THAT(config_warnings(with(3, 1, 1, 3)), ElementsAre(HasSubstr("r=1 + w=1 <= n=3")));
}

TEST(ConfigWarnings, FewerMembersThanNButNotForANodeJoiningBySeeds) {
  EXPECT_THAT(config_warnings(with(3, 2, 2, 2)),
              ElementsAre("2 cluster members configured, fewer than n=3: keys get only 2 "
                          "replicas until more nodes join the ring"));
  EXPECT_THAT(config_warnings(with(3, 2, 2, 0)), IsEmpty());  // seeds only: the ring decides
  EXPECT_THAT(config_warnings(with(3, 1, 1, 1)),
              ElementsAre(HasSubstr("r=1 + w=1"), HasSubstr("1 cluster member configured")));
}

}  // namespace
}  // namespace qkv::node

namespace qkv::node {
namespace {

TEST(ConfigWarnings, InsecureWarnsOnlyForPortsBeyondLoopbackWithoutTls) {
  DaemonConfig c;
  c.tls.insecure = true;
  EXPECT_THAT(config_warnings(c), ::testing::IsEmpty()) << "everything on loopback";
  c.peer_listen = {"0.0.0.0", 7100};
  ASSERT_EQ(config_warnings(c).size(), 1u);
  EXPECT_THAT(config_warnings(c)[0],
              ::testing::HasSubstr("tls.insecure: peer_listen reachable beyond this machine"));
}

}  // namespace
}  // namespace qkv::node
