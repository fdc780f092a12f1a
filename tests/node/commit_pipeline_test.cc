// The commit pipeline (node/committer.h): with a committer, a group commit's storage write
// runs off the node core's thread and the node goes on — reads see the committing states,
// the next batch stages on them and starts once the commit has ended, nothing that depends
// on a commit leaves before its end, and a failed commit fails what was staged meanwhile.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "node/node.h"
#include "node/storage_thread.h"
#include "node/wire/replica_codec.h"
#include "tests/node/replica_testing.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Writes a submitted batch to storage at once, as the storage thread may well do before the
// node core hears of it, and reports the write's end only at release() (or wait()).
class ManualCommitter final : public node::Committer {
 public:
  explicit ManualCommitter(storage::Storage& storage) : storage_(storage) {}
  void submit(std::vector<storage::WriteOp> ops) override {
    EXPECT_FALSE(written_.has_value()) << "a second commit while one is in flight";
    ++submits;
    written_ = storage_.write(ops);
  }
  std::optional<Status> poll() override {
    if (!released_) return std::nullopt;
    released_ = false;
    return std::exchange(written_, std::nullopt);
  }
  Status wait() override {
    ++waits;
    released_ = false;
    EXPECT_TRUE(written_.has_value());
    return std::exchange(written_, std::nullopt).value_or(Status::ok());
  }
  bool in_flight() const { return written_.has_value(); }
  void release() { released_ = true; }

  int submits = 0;
  int waits = 0;

 private:
  storage::Storage& storage_;
  std::optional<Status> written_;
  bool released_ = false;
};

// One node of three (a primary of every key) with its commits written by ManualCommitter.
class CommitPipelineTest : public OneNodeOfThreeTest {
 protected:
  CommitPipelineTest() { node_.set_committer(&committer_); }

  // The committer's write ends and the node hears of it.
  void end_commit() {
    committer_.release();
    node_.on_commit_done(now_);
  }
  std::vector<uint64_t> acked() const {
    std::vector<uint64_t> out;
    for (const auto& [to, m] : transport_.sent) {
      if (std::holds_alternative<node::ReplicaWriteAck>(m.body)) out.push_back(m.request_id);
    }
    return out;
  }

  ManualCommitter committer_{storage_};
};

TEST_F(CommitPipelineTest, AWriteIsAckedAtItsCommitsEndAndTheNextBatchWaitsForIt) {
  replica_write("a", "1", 11);
  EXPECT_EQ(committer_.submits, 1);
  EXPECT_TRUE(node_.commit_in_flight());
  EXPECT_TRUE(acked().empty()) << "no ack before the node hears its commit ended";

  replica_write("b", "2", 12);
  replica_write("c", "3", 13);
  EXPECT_EQ(committer_.submits, 1) << "one commit in flight at a time";

  end_commit();
  EXPECT_THAT(acked(), ::testing::ElementsAre(11u));
  EXPECT_EQ(committer_.submits, 2) << "what was staged meanwhile starts as the first ends";
  EXPECT_THAT(stored_values("c"), UnorderedElementsAre("3"));

  end_commit();
  EXPECT_THAT(acked(), ::testing::ElementsAre(11u, 12u, 13u));
  EXPECT_FALSE(node_.commit_in_flight());
  EXPECT_EQ(storage_.write_calls, 2u);
  EXPECT_EQ(node_.counters().storage_commits, 2u);
}

TEST_F(CommitPipelineTest, ASpuriousCommitDoneChangesNothing) {
  node_.on_commit_done(now_);
  replica_write("a", "1", 11);
  node_.on_commit_done(now_);  // the write has not ended
  EXPECT_TRUE(acked().empty());
  end_commit();
  EXPECT_THAT(acked(), ::testing::ElementsAre(11u));
}

TEST_F(CommitPipelineTest, ReadsAndWritesDuringACommitBuildOnItsStates) {
  client_put("cart", "milk", 5);
  EXPECT_TRUE(transport_.sent_of<node::ReplicaWrite>().empty())
      << "a dot leaves only once the node that made it has it committed";
  client_put("cart", "eggs", 6);  // concurrent with the first: a sibling, not a lost update
  node_.on_peer_message(node::PeerMessage{"n2", 21, node::ReplicaRead{"cart"}}, now_);
  auto reads = transport_.sent_of<node::ReplicaReadReply>();
  ASSERT_EQ(reads.size(), 1u);
  ASSERT_TRUE(reads[0].second.state.has_value());
  EXPECT_THAT(reads[0].second.state->values(), UnorderedElementsAre("milk", "eggs"));

  end_commit();
  auto writes = transport_.sent_of<node::ReplicaWrite>();
  ASSERT_EQ(writes.size(), 2u) << "the first put goes out to n2 and n3, the second waits";
  EXPECT_THAT(writes[0].second.state.values(), UnorderedElementsAre("milk"));
  end_commit();
  writes = transport_.sent_of<node::ReplicaWrite>();
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_THAT(writes[3].second.state.values(), UnorderedElementsAre("milk", "eggs"));
  EXPECT_THAT(stored_values("cart"), UnorderedElementsAre("milk", "eggs"));

  // A replica write that changes nothing is acked at once when no commit is in flight...
  auto state = causal::SiblingSet().update({}, causal::Actor{"n2", 9}, "x");
  node_.on_peer_message(node::PeerMessage{"n2", 31, node::ReplicaWrite{"k", state, {}}}, now_);
  end_commit();
  node_.on_peer_message(node::PeerMessage{"n2", 32, node::ReplicaWrite{"k", state, {}}}, now_);
  EXPECT_THAT(acked(), ::testing::ElementsAre(31u, 32u));
  // ...and only after the commit of the state it joined with when one is.
  node_.on_peer_message(node::PeerMessage{"n2", 33, node::ReplicaWrite{"j", state, {}}}, now_);
  node_.on_peer_message(node::PeerMessage{"n2", 34, node::ReplicaWrite{"j", state, {}}}, now_);
  EXPECT_THAT(acked(), ::testing::ElementsAre(31u, 32u));
  end_commit();
  EXPECT_THAT(acked(), ::testing::ElementsAre(31u, 32u, 33u, 34u));
  EXPECT_FALSE(node_.commit_in_flight()) << "an ack alone needs no storage write";
}

TEST_F(CommitPipelineTest, AFailedCommitFailsWhatWasStagedWhileItWasInFlight) {
  storage_.fail_writes = true;
  client_put("k", "v", 5);
  replica_write("a", "1", 11);   // staged on top of the failing batch
  client_put("k", "w", 6);       // built on the failing batch's state of k
  storage_.fail_writes = false;  // the next write would succeed: it must not be made
  end_commit();

  ASSERT_EQ(transport_.replies.size(), 2u);
  for (const auto& reply : transport_.replies) {
    EXPECT_EQ(reply.status.code(), StatusCode::kIoError);
    EXPECT_THAT(reply.status.message(), HasSubstr("No space left"));
  }
  auto acks = transport_.sent_of<node::ReplicaWriteAck>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].second.status.code(), StatusCode::kIoError);
  EXPECT_TRUE(transport_.sent_of<node::ReplicaWrite>().empty());
  EXPECT_EQ(committer_.submits, 1);
  EXPECT_FALSE(node_.commit_in_flight());
  EXPECT_EQ(node_.in_flight(), 0u);
  EXPECT_TRUE(stored_values("k").empty());
  EXPECT_TRUE(stored_values("a").empty());

  // The pipeline goes on: the next write is committed, on storage's state of the key.
  client_put("k", "x", 7);
  end_commit();
  EXPECT_THAT(stored_values("k"), UnorderedElementsAre("x"));
  EXPECT_EQ(transport_.sent_of<node::ReplicaWrite>().size(), 2u);
}

TEST_F(CommitPipelineTest, TreeBuildsWaitForTheCommitInFlight) {
  // A commit's write may land before a tree build's scan while its end (which adds the
  // write to the tree) comes after: the build waits for the end, or the write counts twice.
  uint64_t keys = 0;
  for (int tick = 0; tick < 200; ++tick) {
    client_put("key" + std::to_string(tick), "v", 100 + tick);
    ++keys;
    now_ += Duration(5);
    node_.on_tick(now_);
  }
  node_.commit_now();
  EXPECT_GT(committer_.waits, 0);
  uint64_t entries = 0;
  for (uint32_t p = 0; p < ring_->partition_count(); ++p) {
    const auto* tree = node_.anti_entropy().tree(p);
    ASSERT_NE(tree, nullptr);
    entries += tree->entries();
  }
  EXPECT_EQ(entries, keys);
}

TEST_F(CommitPipelineTest, CommitNowLeavesEverythingStagedInStorage) {
  client_put("a", "1", 5);
  client_put("b", "2", 6);  // staged behind the commit in flight
  node_.commit_now();
  EXPECT_FALSE(node_.commit_in_flight());
  EXPECT_THAT(stored_values("a"), UnorderedElementsAre("1"));
  EXPECT_THAT(stored_values("b"), UnorderedElementsAre("2"));
  EXPECT_EQ(transport_.sent_of<node::ReplicaWrite>().size(), 4u);
}

// qkvd's committer: the write on a thread of its own, its end announced by on_done.
TEST(StorageThreadTest, WritesOnItsThreadAndAnnouncesEachEnd) {
  storage::MemoryStorage storage;
  std::atomic<int> done{0};
  std::atomic<std::thread::id> writer;
  node::StorageThread thread(storage, [&] {
    writer = std::this_thread::get_id();
    ++done;
  });
  thread.submit({storage::WriteOp{1, "a", "x"}});
  // Wait on the condition, with a deadline.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::optional<Status> status;
  while (!(status = thread.poll()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->is_ok());
  EXPECT_NE(writer.load(), std::this_thread::get_id());
  EXPECT_EQ(storage.get(1, "a").value(), std::optional<std::string>("x"));
  EXPECT_FALSE(thread.poll().has_value()) << "a status is taken once";

  thread.submit({storage::WriteOp{2, "b", "y"}});
  EXPECT_TRUE(thread.wait().is_ok());
  EXPECT_EQ(storage.get(2, "b").value(), std::optional<std::string>("y"));
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (done.load() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(done.load(), 2);
}

}  // namespace
}  // namespace qkv::testing
