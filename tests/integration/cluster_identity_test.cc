// Issue 15 with real qkvd processes: a 3-node cluster runs; a 4th node is started with
// --members listing four nodes (itself among them) and a seed into the cluster. Before,
// it built a version-1 ring of its own beside the cluster's, silently, and writes landed on
// the wrong replicas. Now it makes no ring, logs why and exits 2 (node/first_ring.h); the
// cluster refuses its gossip, says so, and its writes stay where they belong.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

// Puts `count` keys through node `via` at W=3 and reads each back at R=3 through the next
// node: every replica of each key has it.
void write_and_read_back(const ProcessCluster& cluster, int via, const std::string& prefix,
                         int count) {
  auto writer = cluster.client_of(via);
  auto reader = cluster.client_of((via + 1) % 3);
  for (int k = 0; k < count; ++k) {
    const std::string key = prefix + std::to_string(k);
    client::WriteOptions w;
    w.w = 3;
    ASSERT_TRUE(writer.put(key, "v-" + key, {}, w).is_ok()) << key;
    client::ReadOptions r;
    r.r = 3;
    auto got = reader.get(key, r);
    ASSERT_TRUE(got.is_ok()) << key << ": " << got.status().to_string();
    ASSERT_EQ(got->values.size(), 1u) << key;
    EXPECT_EQ(got->values[0], "v-" + key);
  }
}

TEST(ClusterIdentityProcessTest, ANodeWithItsOwnMembersMakesNoCompetingRingAndExitsTwo) {
  ProcessCluster cluster(4, {}, /*initial=*/3);
  for (int i = 0; i < 3; ++i) cluster.start(i);
  for (int i = 0; i < 3; ++i) {
    auto client = cluster.client_of(i, 500);
    ASSERT_TRUE(wait_for(
        [&] {
          auto status = client.node_status(0);
          return status.is_ok() && status->ring_version != 0;
        },
        seconds(20)))
        << cluster.log_of(i);
  }
  write_and_read_back(cluster, 0, "before-", 20);

  std::string members;
  for (int i = 0; i < 4; ++i) {
    members += fmt::format("{}n{}={}", i ? "," : "", i + 1, cluster.peer_address(i));
  }
  const std::vector<std::string> n4 = {"--node-id",       "n4",
                                       "--data-dir",      cluster.dir() + "/n4",
                                       "--client-listen", cluster.client_address(3),
                                       "--peer-listen",   cluster.peer_address(3),
                                       "--http-listen",   cluster.http_address(3),
                                       "--partitions",    "64",
                                       "--members",       members,
                                       "--seeds",         cluster.peer_address(0)};
  for (int attempt = 0; attempt < 2; ++attempt) {  // and again after a restart: it saved no ring
    RunResult run = run_qkvd(cluster.qkvd_path(), n4);
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_THAT(run.output, HasSubstr("event=first_ring_refused"));
    EXPECT_THAT(run.output, HasSubstr("configured members (n1,n2,n3,n4)"));
    EXPECT_THAT(run.output, HasSubstr("has the members n1,n2,n3"));
    EXPECT_THAT(run.output, Not(HasSubstr("event=ring_changed"))) << "it never made a ring";
  }

  uint64_t refused = 0;
  std::string logs;
  std::set<uint64_t> clusters;
  for (int i = 0; i < 3; ++i) {
    refused += node_counter(cluster, i, "gossip_foreign_cluster");
    logs += cluster.log_of(i);
    auto seen = cluster.client_of(i).members();
    ASSERT_TRUE(seen.is_ok());
    EXPECT_EQ(seen->ring_version, 1u);
    clusters.insert(seen->cluster_id);
    for (const auto& m : seen->members) EXPECT_NE(m.id, "n4") << "merged into membership";
  }
  EXPECT_GT(refused, 0u) << "shown in status";
  EXPECT_EQ(clusters.size(), 1u) << "one cluster, as members shows it";
  EXPECT_NE(*clusters.begin(), 0u);
  EXPECT_THAT(logs, HasSubstr("level=error node=n"));
  EXPECT_THAT(logs, HasSubstr("event=gossip_foreign_cluster peer=n4"));
  for (int via = 0; via < 3; ++via) {
    write_and_read_back(cluster, via, fmt::format("after-{}-", via), 10);
  }
}

}  // namespace
}  // namespace qkv::testing
