// Backup and restore with real qkvd processes (issue 19): qkvctl snapshot's request takes a
// RocksDB checkpoint of a loaded node; the node, killed and restored from it with
// qkvd --restore-from, takes a new incarnation and, after a repair, holds every
// acknowledged write again — those made after the snapshot included.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>

#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

void write_keys(client::Client& client, const std::string& prefix, int count,
                std::set<std::string>& acked) {
  for (int i = 0; i < count; ++i) {
    std::string key = fmt::format("{}-{}", prefix, i);
    ASSERT_TRUE(client.put(key, "value of " + key).is_ok()) << key;
    acked.insert(key);
  }
}

TEST(SnapshotTest, ARestoredNodeTakesANewActorAndServesEveryAcknowledgedWrite) {
  ProcessCluster cluster(3, {"--aae-exchange-interval-ms", "3600000"});
  cluster.start_all();
  auto n1 = cluster.client_of(0);
  std::set<std::string> acked;
  write_keys(n1, "before", 1500, acked);
  const uint64_t old_incarnation = n1.node_status(0)->incarnation;

  // The default snapshot_dir: "snapshots" beside the data directory (<dir>/n1).
  auto taken = n1.snapshot(0, "");
  ASSERT_TRUE(taken.is_ok()) << taken.status().to_string();
  EXPECT_THAT(taken->path, HasSubstr(cluster.dir() + "/snapshots/n1-"));
  EXPECT_GT(taken->bytes, 1500u * 10);
  EXPECT_GT(taken->files, 2u);
  EXPECT_TRUE(std::filesystem::exists(taken->path + "/CURRENT"));

  // A client cannot make the node write elsewhere, nor over an existing directory.
  for (const std::string& bad : {std::string("relative/dir"), std::string("/tmp/qkv-elsewhere"),
                                 cluster.dir() + "/snapshots/../n2", taken->path}) {
    auto refused = n1.snapshot(0, bad);
    ASSERT_FALSE(refused.is_ok()) << bad;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << bad;
  }

  write_keys(n1, "after", 1500, acked);  // n1 takes these too: the snapshot has none

  cluster.kill9(0);  // the node is lost; its snapshot is restored into an empty directory
  std::filesystem::remove_all(cluster.dir() + "/n1");
  cluster.set_node_flags(0, {"--restore-from", taken->path});
  cluster.start(0);
  cluster.set_node_flags(0, {});
  const std::string log = cluster.log_of(0);
  EXPECT_THAT(log, HasSubstr("event=data_restored"));
  EXPECT_THAT(log, HasSubstr("event=restored_start"));
  const uint64_t new_incarnation = cluster.client_of(0).node_status(0)->incarnation;
  EXPECT_NE(new_incarnation, old_incarnation) << "a restored node must never reuse a dot";
  EXPECT_NE(new_incarnation, old_incarnation + 1) << "nor take the original's next one";
  EXPECT_EQ(cluster.missing_on(0, acked).size(), 1500u) << "n1 lost exactly the later writes";

  // Every acknowledged write is served through the restored node at once (the other
  // replicas have the later ones) ...
  auto restored = cluster.client_of(0);
  for (const auto& key : acked) {
    auto got = restored.get(key, {2, 0});
    ASSERT_TRUE(got.is_ok() && got->found()) << key;
  }
  // ... and after a repair the restored node holds every one itself.
  ASSERT_TRUE(restored.repair(0, std::nullopt).is_ok());
  std::set<std::string> missing = acked;
  EXPECT_TRUE(wait_for(
      [&] {
        missing = cluster.missing_on(0, missing);
        return missing.empty();
      },
      seconds(60)))
      << missing.size() << " keys still missing on the restored n1";

  // A second restore into the now non-empty data directory is refused: it never overwrites.
  cluster.kill9(0);
  cluster.set_node_flags(0, {"--restore-from", taken->path});
  cluster.launch(0);
  EXPECT_EQ(cluster.wait_exit(0, std::chrono::seconds(20)), 1);
  EXPECT_THAT(cluster.log_of(0), HasSubstr("is not empty: a restore never overwrites data"));
}

}  // namespace
}  // namespace qkv::testing
