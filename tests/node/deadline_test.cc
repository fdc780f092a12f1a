// Deadlines that travel (node/deadline.h): forwards, replica reads and writes carry their
// sender's deadline, and a request that arrives past it is dropped unanswered.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "causal/sibling_set.h"
#include "node/node.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;

const proto::GetResponse& body(const proto::ClientResponse& r) {
  return std::get<proto::GetResponse>(r.body);
}

TEST(NodeTest, AForwardThatArrivesPastItsDeadlineIsDroppedNotCoordinated) {
  // A forward stuck in a link (or a paused node's socket) arrives after the forwarding node
  // told its client "may have been applied": starting it now would write it behind the
  // client's back. Deadlines travel with the Forward (wall clock, within clock_skew_max).
  TestCluster::Options options;
  options.wall_clock = true;
  TestCluster cluster(options);
  const std::string key = "k";
  NodeId primary = cluster.primaries(key)[0];
  const auto now_ms = static_cast<uint64_t>(cluster.now().time_since_epoch().count());
  const uint64_t skew = 1000;  // NodeConfig::clock_skew_max's default
  auto forward = [&](uint64_t id, uint64_t deadline, const std::string& value) {
    return node::PeerMessage{
        "n9", id,
        node::Forward{proto::ClientRequest{id, 500, proto::PutRequest{key, value, "", 2}}},
        deadline};
  };
  cluster.node(primary).on_peer_message(forward(1, now_ms - skew - 1, "late"), cluster.now());
  cluster.deliver();
  EXPECT_EQ(cluster.node(primary).counters().forwards_expired, 1u);
  EXPECT_EQ(cluster.node(primary).counters().coordinated_puts, 0u) << "never started";
  EXPECT_FALSE(cluster.get(primary, key, 3).status.is_ok()) << "nothing was written";
  // Within the clock-skew tolerance it is taken, as is one with time left.
  cluster.node(primary).on_peer_message(forward(2, now_ms - skew + 1, "skewed"), cluster.now());
  cluster.node(primary).on_peer_message(forward(3, now_ms + 400, "fresh"), cluster.now());
  cluster.deliver();
  EXPECT_EQ(cluster.node(primary).counters().forwards_expired, 1u);
  EXPECT_EQ(cluster.node(primary).counters().coordinated_puts, 2u);
}

TEST(NodeTest, AForwarderStampsItsDeadlineOnTheForward) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  options.wall_clock = true;
  TestCluster cluster(options);
  std::string key = cluster.key_not_replicated_by("n4");
  // The primaries are silent: the write's one attempt has its whole deadline (1000 ms).
  for (const auto& p : cluster.primaries(key)) cluster.set_blackholed(p, true);
  cluster.send("n4", proto::PutRequest{key, "v", "", 2});
  auto stamped = cluster.last_forward_deadline();
  ASSERT_TRUE(stamped.has_value());
  EXPECT_EQ(*stamped, static_cast<uint64_t>(cluster.now().time_since_epoch().count()) + 1000u);
}

TEST(NodeTest, ACoordinatorStampsTheRequestDeadlineOnReplicaWrites) {
  TestCluster::Options options;
  options.wall_clock = true;
  TestCluster cluster(options);
  const std::string key = "k";
  const NodeId primary = cluster.primaries(key)[0];
  const auto sent_at = static_cast<uint64_t>(cluster.now().time_since_epoch().count());
  cluster.send(primary, proto::PutRequest{key, "v", "", 2});
  ASSERT_TRUE(cluster.last_replica_write_deadline().has_value());
  EXPECT_EQ(*cluster.last_replica_write_deadline(), sent_at + 1000u)
      << "the request's whole deadline (request_timeout 1000 ms)";
}

TEST(NodeTest, ACoordinatorStampsTheRequestDeadlineOnReplicaReads) {
  TestCluster::Options options;
  options.wall_clock = true;
  TestCluster cluster(options);
  const std::string key = "k";
  const auto sent_at = static_cast<uint64_t>(cluster.now().time_since_epoch().count());
  cluster.send(cluster.primaries(key)[0], proto::GetRequest{key, 2, false, 0});
  ASSERT_TRUE(cluster.last_replica_read_deadline().has_value());
  EXPECT_EQ(*cluster.last_replica_read_deadline(), sent_at + 1000u)
      << "the request's whole deadline (request_timeout 1000 ms)";
}

TEST(NodeTest, AReplicaWriteOrReadThatArrivesPastItsDeadlineIsDroppedUnanswered) {
  // A replica write stuck in a link, or in a paused node's socket, arrives after its
  // coordinator gave up: applying it now would write behind the client's back (and a hint
  // delivery will be sent again). It is dropped, counted, and not acknowledged.
  TestCluster::Options options;
  options.wall_clock = true;
  TestCluster cluster(options);
  const std::string key = "k";
  const NodeId replica = cluster.primaries(key)[1];
  const auto now_ms = static_cast<uint64_t>(cluster.now().time_since_epoch().count());
  const uint64_t skew = 1000;  // NodeConfig::clock_skew_max's default
  auto state = causal::SiblingSet().update({}, causal::Actor{"n9", 1}, std::string("late"));
  const uint64_t sent_before = cluster.messages_sent();
  cluster.node(replica).on_peer_message(
      node::PeerMessage{"n9", 5, node::ReplicaWrite{key, state, {}}, now_ms - skew - 1},
      cluster.now());
  cluster.node(replica).on_peer_message(
      node::PeerMessage{"n9", 6, node::ReplicaRead{key}, now_ms - skew - 1}, cluster.now());
  cluster.deliver();
  EXPECT_EQ(cluster.node(replica).counters().replica_writes_expired, 1u);
  EXPECT_EQ(cluster.node(replica).counters().replica_reads_expired, 1u);
  EXPECT_EQ(cluster.messages_sent(), sent_before) << "no ack, no read reply";
  auto got = cluster.request(replica, proto::GetRequest{key, 0, /*local=*/true});
  EXPECT_TRUE(body(got).values.empty()) << "the late write was not applied";
  // Within the skew tolerance it is applied.
  cluster.node(replica).on_peer_message(
      node::PeerMessage{"n9", 7, node::ReplicaWrite{key, state, {}}, now_ms - skew + 1},
      cluster.now());
  cluster.deliver();
  EXPECT_EQ(cluster.node(replica).counters().replica_writes_expired, 1u);
}

}  // namespace
}  // namespace qkv::testing
