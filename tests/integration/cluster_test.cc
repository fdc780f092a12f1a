// Three real qkvd processes on loopback, driven through the client SDK: what a user of the
// cluster relies on, including a node killed with SIGKILL.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/async_client.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

client::WriteOptions w(uint8_t quorum) {
  return {quorum, 0};
}
client::ReadOptions r(uint8_t quorum) {
  return {quorum, 0};
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { cluster_.start_all(); }
  ProcessCluster cluster_{3};
};

TEST_F(ClusterTest, QuorumWritesAndReadsSiblingsDeletesAndSurvivingAKill) {
  auto n1 = cluster_.client_of(0);
  auto n2 = cluster_.client_of(1);
  auto n3 = cluster_.client_of(2);

  // Put through node 1 with W=2, get through node 3 with R=2.
  ASSERT_TRUE(n1.put("fruit", "apple", "", w(2)).is_ok());
  auto got = n3.get("fruit", r(2));
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_THAT(got->values, UnorderedElementsAre("apple"));

  // Two puts with the same stale context give two siblings...
  std::string stale = got->context;
  ASSERT_TRUE(n1.put("fruit", "banana", stale, w(2)).is_ok());
  ASSERT_TRUE(n2.put("fruit", "cherry", stale, w(2)).is_ok());
  auto siblings = n3.get("fruit", r(3));
  ASSERT_TRUE(siblings.is_ok());
  EXPECT_THAT(siblings->values, UnorderedElementsAre("banana", "cherry"));
  // ...and a put with the merged context collapses them to one.
  ASSERT_TRUE(n3.put("fruit", "banana+cherry", siblings->context, w(2)).is_ok());
  auto merged = n1.get("fruit", r(3));
  EXPECT_THAT(merged->values, UnorderedElementsAre("banana+cherry"));

  // Delete then get: not found.
  ASSERT_TRUE(n2.del("fruit", merged->context, w(2)).is_ok());
  auto deleted = n1.get("fruit", r(2));
  ASSERT_TRUE(deleted.is_ok());
  EXPECT_FALSE(deleted->found());

  // kill -9 one node: W=2 and R=2 still succeed; W=3 fails naming 2 of 3.
  cluster_.kill9(2);
  EXPECT_TRUE(n1.put("after-kill", "v", "", w(2)).is_ok());
  auto after = n2.get("after-kill", r(2));
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  EXPECT_THAT(after->values, UnorderedElementsAre("v"));
  Status w3 = n1.put("after-kill", "v2", after->context, w(3)).status();
  EXPECT_EQ(w3.code(), StatusCode::kUnavailable);
  EXPECT_THAT(w3.message(), HasSubstr("2 of 3 replicas acknowledged"));
  auto r3 = n1.get("after-kill", r(3));
  EXPECT_EQ(r3.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r3.status().message(), HasSubstr("2 of 3 replicas answered"));

  // The killed node comes back with its data (it held the writes before the kill).
  cluster_.start(2);
  auto back = cluster_.client_of(2).get("after-kill", r(3));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_FALSE(back->values.empty());
}

TEST_F(ClusterTest, OversizedInputGetsAClearErrorAndTheNodeKeepsServing) {
  client::Options options;
  options.nodes = {cluster_.client_address(0)};
  // Lift the client's own check to see the node's answer.
  options.limits.value_bytes_max = 20u << 20;
  options.limits.frame_bytes_max = 40u << 20;
  client::Client raw(options);
  Status big = raw.put("big", std::string((16u << 20) + 1, 'x')).status();
  EXPECT_EQ(big.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(big.message(), HasSubstr("value_bytes_max is 16777216"));

  // The SDK refuses before sending, naming the limit.
  auto sdk = cluster_.client_of(0);
  Status local = sdk.put(std::string(65537, 'k'), "v").status();
  EXPECT_THAT(local.message(), HasSubstr("key_bytes_max is 65536"));

  // A frame over the node's frame_bytes_max (32 MiB) is refused and the node lives on.
  options.limits.value_bytes_max = 40u << 20;
  options.limits.frame_bytes_max = 80u << 20;
  client::Client huge(options);
  Status frame = huge.put("huge", std::string(33u << 20, 'x')).status();
  EXPECT_FALSE(frame.is_ok());
  EXPECT_THAT(frame.message(), HasSubstr("frame_bytes_max"));

  EXPECT_TRUE(sdk.put("small", "fine").is_ok());
  EXPECT_THAT(sdk.get("small")->values, UnorderedElementsAre("fine"));
  EXPECT_FALSE(sdk.get("big")->found());
}

TEST_F(ClusterTest, GracefulStopKeepsDataAndIncarnationAKillTakesANewIncarnation) {
  auto n1 = cluster_.client_of(0);
  ASSERT_TRUE(n1.put("durable", "yes", "", w(3)).is_ok());
  uint64_t first = cluster_.client_of(0).node_status(0)->incarnation;

  EXPECT_EQ(cluster_.terminate(0), 0) << cluster_.log_of(0);
  EXPECT_THAT(cluster_.log_of(0), HasSubstr("level=info node=n1 event=stopped clean=true"));
  cluster_.start(0);
  EXPECT_EQ(cluster_.client_of(0).node_status(0)->incarnation, first)
      << "a clean stop keeps the incarnation";
  auto got = cluster_.client_of(0).get("durable", r(1));
  ASSERT_TRUE(got.is_ok());
  EXPECT_THAT(got->values, UnorderedElementsAre("yes"));

  cluster_.kill9(0);
  cluster_.start(0);
  const uint64_t after_crash = cluster_.client_of(0).node_status(0)->incarnation;
  EXPECT_NE(after_crash, first) << "after a crash the node must never reuse a dot";
  EXPECT_NE(after_crash, first + 1) << "a new random one, not the next (node/incarnation.h)";
  EXPECT_THAT(cluster_.log_of(0), HasSubstr("event=unclean_restart"));
  EXPECT_THAT(cluster_.client_of(0).get("durable", r(1))->values, UnorderedElementsAre("yes"));
}

// Outcomes of 40 requests pipelined on one AsyncClient connection to node 0.
struct Burst {
  int answered = 0, ok = 0, overloaded = 0;
  std::string overloaded_message;  // the last one
};

// Issues `issue(client, i, done)` for i in 0..39 and runs `io` until all are answered (at
// most 20 s).
template <typename Issue>
Burst pipelined_burst(boost::asio::io_context& io, client::AsyncOptions options, Issue issue) {
  client::AsyncClient client(io, std::move(options));
  Burst burst;
  auto done = [&burst](const Status& status) {
    ++burst.answered;
    if (status.is_ok()) ++burst.ok;
    if (status.code() == StatusCode::kOverloaded) {
      ++burst.overloaded;
      burst.overloaded_message = status.message();
    }
  };
  for (int i = 0; i < 40; ++i) issue(client, i, done);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (burst.answered < 40 && std::chrono::steady_clock::now() < until) {
    io.run_for(std::chrono::milliseconds(50));
  }
  return burst;
}

template <typename T>
Status status_of(const Result<T>& result) {
  return result.is_ok() ? Status::ok() : result.status();
}

// Three nodes whose config sets `[limits]` as given, and AsyncClient options for node 0
// that report overloaded refusals instead of sending them again.
class LoadSheddingTest : public ::testing::Test {
 protected:
  void start(const std::string& limits) {
    const std::string path = write_config("[limits]\n" + limits + "\n");
    cluster_ = std::make_unique<ProcessCluster>(3, std::vector<std::string>{"--config", path});
    cluster_->start_all();
    std::remove(path.c_str());
    options_.node = cluster_->client_address(0);
    options_.retry_overloaded = false;
  }

  std::unique_ptr<ProcessCluster> cluster_;
  boost::asio::io_context io_;
  client::AsyncOptions options_;
};

TEST_F(LoadSheddingTest, AConnectionPastItsInFlightLimitGetsOverloadedAtOnceAndTheNodeServesOn) {
  // [limits] client_requests_per_connection_max = 2: a client pipelining 40 writes on one
  // connection has all but a few refused at once, with a typed error naming the limit.
  start("client_requests_per_connection_max = 2");
  auto put_burst = [&](const std::string& prefix) {
    return pipelined_burst(io_, options_, [&](client::AsyncClient& c, int i, auto done) {
      c.put(fmt::format("{}{}", prefix, i), "v", "", w(2),
            [done](Result<client::WriteResult> r) { done(status_of(r)); });
    });
  };
  Burst burst = put_burst("k");
  ASSERT_EQ(burst.answered, 40) << "every request is answered, none waits into a timeout";
  EXPECT_GE(burst.ok, 2);
  EXPECT_GT(burst.overloaded, 0) << "40 pipelined writes in one read exceed a limit of 2";
  EXPECT_EQ(burst.ok + burst.overloaded, 40);
  EXPECT_THAT(burst.overloaded_message, HasSubstr("client_requests_per_connection_max is 2"));
  // With the SDK's default, refused requests are sent again after a backoff: all succeed.
  options_.retry_overloaded = true;
  EXPECT_EQ(put_burst("r").ok, 40) << "the SDK backs off and sends refused requests again";
  // The node keeps serving: a request after the answers came back is taken.
  auto sdk = cluster_->client_of(0);
  EXPECT_TRUE(sdk.put("after", "v").is_ok());
}

TEST_F(LoadSheddingTest, AConnectionOverItsRateLimitGetsOverloadedNamingIt) {
  // [limits] client_requests_per_second_max = 10: a burst of 40 pipelined gets on one
  // connection finds 10 tokens; the rest are refused at once, naming the limit.
  start("client_requests_per_second_max = 10");
  Burst burst = pipelined_burst(io_, options_, [](client::AsyncClient& c, int i, auto done) {
    c.get(fmt::format("k{}", i), {}, [done](Result<client::GetResult> r) { done(status_of(r)); });
  });
  ASSERT_EQ(burst.answered, 40);
  EXPECT_GE(burst.ok, 10) << "a burst of one second's worth is admitted (not found is ok)";
  EXPECT_LE(burst.ok, 15) << "and little more: the rest came within the same second";
  EXPECT_EQ(burst.ok + burst.overloaded, 40);
  EXPECT_THAT(burst.overloaded_message, HasSubstr("client_requests_per_second_max 10"));
  // Another connection has a bucket of its own.
  EXPECT_TRUE(cluster_->client_of(0).get("other").is_ok());
}

TEST_F(LoadSheddingTest, PastInFlightMaxTheNodeStopsReadingClientsAndServesEveryRequestLater) {
  // [limits] in_flight_max = 4: puts answered at W=1 stay in flight until their other
  // replicas ack. 40 pipelined puts put the node past the bound: it stops reading client
  // connections until they drain (backpressure), and refuses none of them (a refusal
  // would show as overloaded; client_pause_ms_max = 0: however long the pause lasts).
  start("in_flight_max = 4\nclient_pause_ms_max = 0");
  Burst burst = pipelined_burst(io_, options_, [&](client::AsyncClient& c, int i, auto done) {
    c.put(fmt::format("k{}", i), "v", "", w(1),
          [done](Result<client::WriteResult> r) { done(status_of(r)); });
  });
  ASSERT_EQ(burst.answered, 40);
  EXPECT_EQ(burst.ok, 40) << "backpressure delays requests; it refuses none";
  EXPECT_GE(node_counter(*cluster_, 0, "client_read_pauses"), 1u);
  // Reading resumed once the rounds drained: new connections and requests are served, and
  // every write is there.
  auto sdk = cluster_->client_of(0);
  for (int i = 0; i < 40; ++i) {
    auto got = sdk.get(fmt::format("k{}", i), r(3));
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_THAT(got->values, UnorderedElementsAre("v"));
  }
}

TEST_F(LoadSheddingTest, APauseLongerThanClientPauseMsMaxRefusesWithOverloadedAtOnce) {
  // Both other replicas are stopped (SIGSTOP: their sockets still take bytes), so every
  // put answered at W=1 stays in flight until its sloppy alarm, half the 2 s deadline.
  // Four such puts reach in_flight_max: the node pauses its clients, and 50 ms later reads
  // them again and refuses their puts at once, naming the limit, instead of leaving them
  // in a socket buffer for the second the overload lasts.
  start("in_flight_max = 4\nclient_pause_ms_max = 50");
  cluster_->pause(1);
  cluster_->pause(2);
  client::AsyncClient client(io_, options_);
  auto put = [&](const std::string& key) {
    std::optional<Status> outcome;
    const auto sent = std::chrono::steady_clock::now();
    client.put(key, "v", "", w(1), [&](Result<client::WriteResult> r) { outcome = status_of(r); });
    while (!outcome && std::chrono::steady_clock::now() < sent + std::chrono::seconds(20)) {
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    return std::pair{outcome.value_or(Status::timeout("no answer in 20 s")),
                     std::chrono::steady_clock::now() - sent};
  };
  std::vector<std::string> acked;
  std::pair<Status, std::chrono::steady_clock::duration> refused{Status::ok(), {}};
  for (int i = 0; i < 8 && refused.first.is_ok(); ++i) {
    refused = put(fmt::format("k{}", i));
    if (refused.first.is_ok()) acked.push_back(fmt::format("k{}", i));
  }
  ASSERT_EQ(refused.first.code(), StatusCode::kOverloaded) << refused.first.to_string();
  EXPECT_EQ(acked.size(), 4u) << "the fifth put finds the node at in_flight_max";
  EXPECT_THAT(refused.first.message(), HasSubstr("in_flight_max is 4"));
  EXPECT_THAT(refused.first.message(), HasSubstr("client_pause_ms_max 50 ms"));
  EXPECT_LT(refused.second, std::chrono::milliseconds(800))
      << "refused after the 50 ms pause, long before the rounds end at their sloppy alarm";
  cluster_->resume(1);
  cluster_->resume(2);
  // The replicas ack, the node is back under the bound and serves again; nothing acked
  // before the refusal was lost.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  Status after = Status::overloaded("not tried");
  while (!after.is_ok() && std::chrono::steady_clock::now() < until) after = put("after").first;
  EXPECT_TRUE(after.is_ok()) << after.to_string();
  EXPECT_GE(node_counter(*cluster_, 0, "client_shedding_spells"), 1u);
  EXPECT_GE(node_counter(*cluster_, 0, "overloaded_backpressure"), 1u);
  auto sdk = cluster_->client_of(0);
  for (const auto& key : acked) {
    auto got = sdk.get(key, r(3));
    ASSERT_TRUE(got.is_ok()) << key << ": " << got.status().to_string();
    EXPECT_THAT(got->values, UnorderedElementsAre("v"));
  }
}

TEST(QkvdConfigTest, BadConfigsExitWithAClearError) {
  ProcessCluster cluster(1);
  auto bad = run_qkvd(cluster.qkvd_path(), {"--node-id", "n1", "--data-dir", cluster.dir() + "/x",
                                            "--members", "n1=127.0.0.1:7100", "--w", "5"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("w=5"));

  auto not_member = run_qkvd(
      cluster.qkvd_path(),
      {"--node-id", "n9", "--data-dir", cluster.dir() + "/x", "--members", "n1=127.0.0.1:7100"});
  EXPECT_EQ(not_member.exit_code, 2);
  EXPECT_THAT(not_member.output, HasSubstr("'n9' is not among cluster.members"));

  auto no_file = run_qkvd(cluster.qkvd_path(), {"--config", cluster.dir() + "/missing.toml"});
  EXPECT_EQ(no_file.exit_code, 2);
  EXPECT_THAT(no_file.output, HasSubstr("cannot read config file"));
}

}  // namespace
}  // namespace qkv::testing
