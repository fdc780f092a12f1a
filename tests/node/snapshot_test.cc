// Where a snapshot may go (node/snapshot.h): a client names the directory, so only new ones
// strictly inside the node's snapshot_dir are allowed; and what a snapshot holds.
#include "node/snapshot.h"

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
  auto taken = take_snapshot(store, dir.sub("snap"));
  ASSERT_TRUE(taken.is_ok()) << taken.status().to_string();
  EXPECT_EQ(taken->path, dir.sub("snap"));
  EXPECT_EQ(taken->files, 1u);
  EXPECT_GT(taken->bytes, 0u);
  auto copy = storage::MemoryStorage::open_checkpoint(dir.sub("snap"));
  ASSERT_TRUE(copy.is_ok());
  EXPECT_EQ((*copy)->get_meta(kRestoredKey).value(), std::optional<std::string>("1"));
  EXPECT_EQ(store.get_meta(kRestoredKey).value(), std::nullopt);
}

}  // namespace
}  // namespace qkv::node
