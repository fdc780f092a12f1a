// Where a snapshot may go (node/snapshot.h): a client names the directory, so only new ones
// strictly inside the node's snapshot_dir are allowed; and what a snapshot holds.
#include "node/snapshot.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "node/incarnation.h"
#include "node/storage/memory_storage.h"
#include "tests/storage/temp_dir.h"

namespace qkv::node {
namespace {

using ::testing::HasSubstr;

TEST(SnapshotPathTest, OnlyNewDirectoriesStrictlyInsideTheRootAreAllowed) {
  storage::testing::TempDir dir;
  const std::string root = dir.sub("snapshots");
  std::filesystem::create_directories(root + "/taken");
  std::filesystem::create_directories(dir.sub("outside"));
  std::filesystem::create_directory_symlink(dir.sub("outside"), root + "/link");

  EXPECT_EQ(snapshot_path(root, root + "/monday", "n1", 5).value(), root + "/monday");
  EXPECT_EQ(snapshot_path(root, root + "/a/b", "n1", 5).value(), root + "/a/b");
  EXPECT_EQ(snapshot_path(root, "", "n1", 1234).value(), root + "/n1-1234") << "named by the node";
  for (const std::string& bad :
       {std::string("relative"), root, root + "/", root + "/..", root + "/../outside/x",
        dir.sub("snapshots-evil/x"), std::string("/etc/x"), root + "/link/x", root + "/taken"}) {
    auto refused = snapshot_path(root, bad, "n1", 5);
    ASSERT_FALSE(refused.is_ok()) << bad;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr(bad)) << "the error names the path";
  }
  auto off = snapshot_path("", "/x", "n1", 5);
  EXPECT_EQ(off.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(off.status().message(), HasSubstr("snapshot_dir is empty"));
}

TEST(SnapshotPathTest, ASnapshotIsMarkedAndMeasured) {
  storage::testing::TempDir dir;
  storage::MemoryStorage store;
  const storage::WriteOp op{7, "k", "v"};
  ASSERT_TRUE(store.write({&op, 1}).is_ok());
  auto taken = take_snapshot(store, dir.sub("snap"), 1'700'000'000'000);
  ASSERT_TRUE(taken.is_ok()) << taken.status().to_string();
  EXPECT_EQ(taken->path, dir.sub("snap"));
  EXPECT_EQ(taken->files, 1u);
  EXPECT_GT(taken->bytes, 0u);
  auto copy = storage::MemoryStorage::open_checkpoint(dir.sub("snap"));
  ASSERT_TRUE(copy.is_ok());
  EXPECT_EQ((*copy)->get_meta(kRestoredKey).value(), std::optional<std::string>("1"));
  EXPECT_EQ(store.get_meta(kRestoredKey).value(), std::nullopt);
  EXPECT_EQ(snapshot_time(**copy).value(), std::optional<int64_t>(1'700'000'000'000));
}

TEST(SnapshotPathTest, ARestoreOfOneOlderThanTheTombstoneGraceIsRefused) {
  // Deletes made after it may have been reaped everywhere: its values would come back.
  storage::testing::TempDir dir;
  storage::MemoryStorage store;
  const int64_t taken_at = 1'700'000'000'000;
  ASSERT_TRUE(take_snapshot(store, dir.sub("snap"), taken_at).is_ok());
  auto copy = storage::MemoryStorage::open_checkpoint(dir.sub("snap"));
  ASSERT_TRUE(copy.is_ok());
  TombstoneConfig tombstones;  // grace 24 h
  const int64_t day = tombstones.grace.count();
  EXPECT_TRUE(check_restore_age(**copy, tombstones, taken_at + day - 1, false).is_ok());
  Status old = check_restore_age(**copy, tombstones, taken_at + day, false);
  EXPECT_EQ(old.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(old.message(),
              ::testing::HasSubstr(
                  fmt::format("the snapshot is {} ms old, older than tombstones.grace_ms", day)));
  EXPECT_THAT(old.message(), ::testing::HasSubstr("--restore-older-than-grace"));
  EXPECT_TRUE(check_restore_age(**copy, tombstones, taken_at + day, true).is_ok())
      << "a whole cluster restored from one moment";
  tombstones.reap = false;
  EXPECT_TRUE(check_restore_age(**copy, tombstones, taken_at + day, false).is_ok());
  tombstones.reap = true;
  EXPECT_EQ(check_restore_age(store, tombstones, taken_at, false).code(),
            StatusCode::kInvalidArgument)
      << "no time in it: of unknown age";
}

}  // namespace
}  // namespace qkv::node
