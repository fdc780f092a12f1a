// Conditional writes against five real qkvd processes (N=3): writers racing through
// different nodes meet at the key's first primary, and exactly one of them wins.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr int kNodes = 5;

class ConditionalWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_all();
    // Every node must hold every other up, or they could choose different first primaries.
    for (int i = 0; i < kNodes; ++i) {
      auto c = cluster_.client_of(i);
      ASSERT_TRUE(wait_for(
          [&] {
            auto members = c.members();
            if (!members.is_ok() || members->members.size() != kNodes) return false;
            for (const auto& m : members->members) {
              if (!m.up) return false;
            }
            return true;
          },
          std::chrono::seconds(20)))
          << "n" << i + 1 << " does not see every member up";
    }
  }

  // Runs `write(thread, client)` on one thread per client, each client through node
  // thread % kNodes; the statuses by thread.
  std::vector<Status> race(int threads, const std::function<Status(int, client::Client&)>& write) {
    std::vector<client::Client> clients;
    for (int t = 0; t < threads; ++t) clients.push_back(cluster_.client_of(t % kNodes, 10'000));
    std::vector<Status> statuses(threads, Status::ok());
    std::atomic<int> ready{0};
    std::vector<std::thread> runners;
    for (int t = 0; t < threads; ++t) {
      runners.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < threads) std::this_thread::yield();  // start together
        statuses[t] = write(t, clients[t]);
      });
    }
    for (auto& r : runners) r.join();
    return statuses;
  }

  ProcessCluster cluster_{kNodes};
};

int count(const std::vector<Status>& statuses, StatusCode code) {
  int n = 0;
  for (const Status& s : statuses) n += s.code() == code ? 1 : 0;
  return n;
}

TEST_F(ConditionalWriteTest, ManyRacingPutIfAbsentThroughEveryNodeExactlyOneWins) {
  constexpr int kThreads = 10;
  client::WriteOptions if_absent;
  if_absent.condition = proto::WriteCondition::kIfAbsent;
  auto statuses = race(kThreads, [&](int t, client::Client& c) {
    return c.put("lock", "owner-" + std::to_string(t), "", if_absent).status();
  });
  EXPECT_EQ(count(statuses, StatusCode::kOk), 1);
  EXPECT_EQ(count(statuses, StatusCode::kPreconditionFailed), kThreads - 1);
  int winner = -1;
  for (int t = 0; t < kThreads; ++t) {
    if (statuses[t].is_ok()) winner = t;
    if (!statuses[t].is_ok() && statuses[t].code() != StatusCode::kPreconditionFailed) {
      ADD_FAILURE() << "thread " << t << ": " << statuses[t].to_string();
    }
  }
  ASSERT_NE(winner, -1);
  // They met at one coordinator (the key's first primary), whichever node each was sent to.
  std::vector<uint64_t> coordinated;
  for (int i = 0; i < kNodes; ++i) {
    coordinated.push_back(node_counter(cluster_, i, "conditional_writes"));
  }
  EXPECT_EQ(std::count(coordinated.begin(), coordinated.end(), uint64_t{kThreads}), 1);
  EXPECT_EQ(std::count(coordinated.begin(), coordinated.end(), uint64_t{0}), kNodes - 1);
  client::ReadOptions all;
  all.r = 3;
  auto got = cluster_.client_of(3).get("lock", all);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_THAT(got->values, UnorderedElementsAre("owner-" + std::to_string(winner)));
}

TEST_F(ConditionalWriteTest, TwoPutIfUnchangedWithOneContextExactlyOneWins) {
  auto setup = cluster_.client_of(0);
  ASSERT_TRUE(setup.put("counter", "0").is_ok());
  auto read = setup.get("counter");
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  client::WriteOptions if_unchanged;
  if_unchanged.condition = proto::WriteCondition::kIfUnchanged;
  auto statuses = race(2, [&](int t, client::Client& c) {
    return c.put("counter", "1 by writer " + std::to_string(t), read->context, if_unchanged)
        .status();
  });
  EXPECT_EQ(count(statuses, StatusCode::kOk), 1)
      << statuses[0].to_string() << " / " << statuses[1].to_string();
  ASSERT_EQ(count(statuses, StatusCode::kPreconditionFailed), 1);
  const Status& loser = statuses[0].is_ok() ? statuses[1] : statuses[0];
  EXPECT_THAT(loser.message(), HasSubstr("put-if-unchanged refused"));
  client::ReadOptions all;
  all.r = 3;
  auto got = cluster_.client_of(4).get("counter", all);
  ASSERT_TRUE(got.is_ok());
  EXPECT_THAT(got->values,
              UnorderedElementsAre("1 by writer " + std::to_string(statuses[0].is_ok() ? 0 : 1)));
}

}  // namespace
}  // namespace qkv::testing
