// Group commit in the node core: the writes of a batch of events reach storage in one write,
// and nothing that depends on them leaves the node before that write is committed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/node.h"
#include "node/wire/replica_codec.h"
#include "tests/node/replica_testing.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

using GroupCommitTest = OneNodeOfThreeTest;

TEST_F(GroupCommitTest, WithoutABatchEveryEventCommitsItsOwnWriteBeforeItReturns) {
  replica_write("a", "1", 11);
  EXPECT_EQ(storage_.write_calls, 1u);
  ASSERT_EQ(transport_.sent_of<node::ReplicaWriteAck>().size(), 1u);
  replica_write("b", "2", 12);
  EXPECT_EQ(storage_.write_calls, 2u);
  EXPECT_EQ(transport_.sent_of<node::ReplicaWriteAck>().size(), 2u);
}

TEST_F(GroupCommitTest, TheWritesOfABatchReachStorageInOneWriteAndAreAckedAfterIt) {
  node_.begin_batch();
  replica_write("a", "1", 11);
  replica_write("b", "2", 12);
  replica_write("c", "3", 13);
  EXPECT_EQ(storage_.write_calls, 0u);
  EXPECT_TRUE(transport_.sent.empty()) << "no ack may leave before its write is committed";

  node_.commit_batch();
  EXPECT_EQ(storage_.write_calls, 1u);
  EXPECT_EQ(storage_.ops_written, 3u);
  auto acks = transport_.sent_of<node::ReplicaWriteAck>();
  ASSERT_EQ(acks.size(), 3u);
  for (const auto& [to, ack] : acks) {
    EXPECT_EQ(to, "n2");
    EXPECT_TRUE(ack.status.is_ok());
  }
  EXPECT_THAT(stored_values("b"), UnorderedElementsAre("2"));
}

TEST_F(GroupCommitTest, ACoordinatorSendsItsPutToTheOthersOnlyOnceItsOwnCopyIsCommitted) {
  node_.begin_batch();
  client_put("k", "v", 5);
  // A dot must not reach another replica while the node that made it could still lose it.
  EXPECT_TRUE(transport_.sent_of<node::ReplicaWrite>().empty());
  EXPECT_TRUE(stored_values("k").empty());

  node_.commit_batch();
  EXPECT_THAT(stored_values("k"), UnorderedElementsAre("v"));
  auto writes = transport_.sent_of<node::ReplicaWrite>();
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_THAT(std::vector<NodeId>({writes[0].first, writes[1].first}),
              UnorderedElementsAre("n2", "n3"));
  EXPECT_TRUE(transport_.replies.empty()) << "W=2 waits for one more ack";
}

TEST_F(GroupCommitTest, ReadsAndWritesInABatchBuildOnItsStagedWrites) {
  node_.begin_batch();
  client_put("cart", "milk", 5);
  client_put("cart", "eggs", 6);  // no context: concurrent with the first, a sibling
  node_.on_peer_message(node::PeerMessage{"n2", 21, node::ReplicaRead{"cart"}}, now_);
  auto reads = transport_.sent_of<node::ReplicaReadReply>();
  ASSERT_EQ(reads.size(), 1u);
  ASSERT_TRUE(reads[0].second.state.has_value());
  EXPECT_THAT(reads[0].second.state->values(), UnorderedElementsAre("milk", "eggs"));

  node_.commit_batch();
  EXPECT_EQ(storage_.write_calls, 1u);
  EXPECT_EQ(storage_.ops_written, 1u) << "only the key's latest state is written";
  EXPECT_THAT(stored_values("cart"), UnorderedElementsAre("milk", "eggs"));
  // Each put went out with its own state: the second one's holds both siblings.
  auto writes = transport_.sent_of<node::ReplicaWrite>();
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_THAT(writes[3].second.state.values(), UnorderedElementsAre("milk", "eggs"));
}

TEST_F(GroupCommitTest, AFailedCommitAnswersEveryWriteWaitingOnItWithTheError) {
  storage_.fail_writes = true;
  node_.begin_batch();
  replica_write("a", "1", 11);
  client_put("k", "v", 5);
  node_.commit_batch();

  auto acks = transport_.sent_of<node::ReplicaWriteAck>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].second.status.code(), StatusCode::kIoError);
  EXPECT_TRUE(transport_.sent_of<node::ReplicaWrite>().empty())
      << "a put this node failed to store is not sent on";
  ASSERT_EQ(transport_.replies.size(), 1u);
  EXPECT_EQ(transport_.replies[0].request_id, 5u);
  EXPECT_EQ(transport_.replies[0].status.code(), StatusCode::kIoError);
  EXPECT_THAT(transport_.replies[0].status.message(), HasSubstr("No space left"));
  EXPECT_EQ(node_.counters().storage_errors, 1u);
  EXPECT_EQ(node_.in_flight(), 0u);

  // The staged states are gone with the failed write: reads see storage again.
  storage_.fail_writes = false;
  node_.on_peer_message(node::PeerMessage{"n2", 22, node::ReplicaRead{"k"}}, now_);
  auto reads = transport_.sent_of<node::ReplicaReadReply>();
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_FALSE(reads[0].second.state.has_value());
}

}  // namespace
}  // namespace qkv::testing
