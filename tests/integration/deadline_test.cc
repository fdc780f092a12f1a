// Deadlines travel (issue 20): a write whose client was told it timed out is never
// coordinated later. A primary is paused with SIGSTOP while a forward to it sits in its
// socket; once resumed, past the forward's deadline, it drops the forward (counted as
// forwards_expired) and the key stays unwritten.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "ring/ring.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

TEST(DeadlineProcessTest, AWriteToAPausedPrimaryIsDroppedOnceItsDeadlinePassed) {
  ProcessCluster cluster(4);  // N=3: each key has a node that forwards it
  cluster.start_all();
  const std::string key = "paused-primary";
  auto ring = ring::Ring::claim({"n1", "n2", "n3", "n4"}, 64, 3);
  ASSERT_TRUE(ring.is_ok());
  const ring::PreferenceList list = ring->preference_list(ring::token_of(key), 3);
  auto index = [](const NodeId& id) { return std::stoi(id.substr(1)) - 1; };
  const int primary = index(list.primaries[0]);  // the forwarder's first choice
  const int forwarder = index(list.fallbacks[0]);
  // Every link is up and answering pings before the pause (nothing is suspect yet).
  ASSERT_TRUE(cluster.client_of(forwarder).put("warm-up", "v").is_ok());
  const uint64_t coordinated_before = node_counter(cluster, primary, "coordinated_puts");

  cluster.pause(primary);
  const auto sent = std::chrono::steady_clock::now();
  Status put = cluster.client_of(forwarder, /*timeout_ms=*/400).put(key, "late").status();
  EXPECT_FALSE(put.is_ok()) << "the primary is paused: the client hears of no outcome";
  // Past the forward's deadline (under 400 ms) plus clock_skew_max_ms (1 s), by a margin.
  ASSERT_TRUE(wait_for(
      [&] { return std::chrono::steady_clock::now() - sent > std::chrono::milliseconds(2000); },
      std::chrono::seconds(3)));
  cluster.resume(primary);

  EXPECT_TRUE(wait_for([&] { return node_counter(cluster, primary, "forwards_expired") >= 1; },
                       std::chrono::seconds(10)))
      << "the late forward is dropped, not coordinated";
  EXPECT_EQ(node_counter(cluster, primary, "coordinated_puts"), coordinated_before);
  auto got = cluster.client_of(primary).get(key, {3, 0});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_TRUE(got->values.empty()) << "the write the client was told timed out never happened";
}

}  // namespace
}  // namespace qkv::testing
