// Suspect replicas (node/liveness.h): a peer whose link is silent for a ping interval —
// a partition, or a node starved of CPU for a moment — is still sent requests, and
// coordinators take stand-ins beside it at once. Before, a suspect counted as down: with no
// fallback left (3 nodes, N=3) a write needing it failed at once though it would have acked.
#include <gtest/gtest.h>

#include "node/node.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

TEST(SuspicionTest, ASuspectButResponsiveReplicaStillAcksAWriteThatNeedsIt) {
  TestCluster cluster;  // n1 n2 n3, N=3: no fallbacks
  cluster.node("n1").set_suspicion([](const NodeId& id) { return id == "n2"; });
  auto put = cluster.put("n1", "k", "v", "", /*w=*/3);
  EXPECT_TRUE(put.status.is_ok()) << put.status.to_string();
  EXPECT_EQ(cluster.node("n1").counters().coordinator_hints, 0u) << "n2 has it: no hint";
  auto got = cluster.get("n1", "k", /*r=*/3);
  EXPECT_TRUE(got.status.is_ok()) << "a read needing the suspect is answered too";
}

TEST(SuspicionTest, ASuspectReplicaGetsAStandInAtOnceWhileItIsStillAsked) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  const std::string key = "suspect-key";
  const auto primaries = cluster.primaries(key);
  const NodeId coordinator = primaries[0], suspect = primaries[1];
  cluster.node(coordinator).set_suspicion([&](const NodeId& id) { return id == suspect; });
  // The suspect is black-holed (a real partition): the stand-in answers in its place, long
  // before the stand-in alarm.
  cluster.set_blackholed(suspect, true);
  const uint64_t id = cluster.send(coordinator, proto::PutRequest{key, "v", "", 3});
  auto answer = cluster.response(id);
  ASSERT_TRUE(answer) << "answered without waiting for any alarm";
  EXPECT_TRUE(answer->status.is_ok()) << answer->status.to_string();
  EXPECT_EQ(cluster.node(coordinator).counters().hinted_writes, 1u);
}

}  // namespace
}  // namespace qkv::testing
