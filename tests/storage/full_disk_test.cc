// RocksDbStorage on a full disk: a 2 MiB tmpfs the test mounts (root only).
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "node/storage/rocksdb_storage.h"
#include "tests/storage/temp_dir.h"

namespace qkv::storage {
namespace {

struct Acked {
  ring::Token token;
  std::string key;
  std::string value;
};

class FullDiskTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a 2 MiB tmpfs to fill needs root";
    if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=2m") != 0) {
      GTEST_SKIP() << "cannot mount a 2 MiB tmpfs on " << dir_.path() << ": "
                   << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    store_.reset();
    if (mounted_) QKV_ASSERT(::umount2(dir_.path().c_str(), MNT_DETACH) == 0);
  }

  // Grows the mount to 64 MiB: frees space for the store.
  void grow_disk() {
    ASSERT_EQ(::mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0)
        << std::strerror(errno);
  }

  RocksDbOptions options() const {
    RocksDbOptions options;
    options.write_buffer_bytes = GetParam();
    options.block_cache_bytes = 1 << 20;
    return options;
  }

  void open() {
    auto store = RocksDbStorage::open(db_dir(), options());
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    store_ = std::move(store).value();
  }

  // Writes n single-op batches, each of which must succeed.
  std::vector<Acked> write_some(int n) {
    std::vector<Acked> written;
    for (int i = 0; i < n; ++i) {
      const WriteOp op{next_token_++, "after", random_value()};
      Status status = store_->write({&op, 1});
      EXPECT_TRUE(status.is_ok()) << status.to_string();
      if (status.is_ok()) written.push_back({op.token, op.key, op.value});
    }
    return written;
  }

  // A failed batch is applied entirely or not at all.
  void expect_all_or_nothing(const std::vector<WriteOp>& batch) {
    std::size_t present = 0;
    for (const WriteOp& op : batch) {
      auto got = store_->get(op.token, op.key);
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      if (got->has_value()) {
        EXPECT_EQ(**got, op.value);
        ++present;
      }
    }
    EXPECT_TRUE(present == 0 || present == batch.size()) << present << " of " << batch.size();
  }

  // Writes batches of 4 incompressible 4 KiB values until one fails; returns its status.
  Status fill(std::vector<Acked>& acked, std::vector<WriteOp>& failed) {
    for (uint64_t n = 0; n < 10'000; ++n) {  // 160 MB: far past any 2 MiB disk
      std::vector<WriteOp> ops;
      for (int i = 0; i < 4; ++i) {
        ops.push_back({next_token_, "key" + std::to_string(next_token_), random_value()});
        next_token_ += 0x9e3779b97f4a7c15;
      }
      Status status = store_->write(ops);
      if (!status.is_ok()) {
        failed = ops;
        return status;
      }
      for (WriteOp& op : ops) acked.push_back({op.token, op.key, op.value});
    }
    return Status::ok();
  }

  void expect_readable(const std::vector<Acked>& acked) {
    for (const Acked& a : acked) {
      auto got = store_->get(a.token, a.key);
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      ASSERT_EQ(*got, a.value) << "acknowledged write lost: token " << a.token;
    }
  }

  std::string random_value() {
    std::string value(4096, '\0');
    for (char& c : value) {
      rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;
      c = static_cast<char>(rng_);
    }
    return value;
  }

  std::string db_dir() const { return dir_.sub("db"); }

  testing::TempDir dir_;
  bool mounted_ = false;
  std::unique_ptr<RocksDbStorage> store_;
  ring::Token next_token_ = 1;
  uint64_t rng_ = 88172645463325252u;
};

// Batches fail with io_error once the disk is full, the store keeps serving reads, and
// nothing acknowledged is lost; after a reopen with space freed, writes work again.
TEST_P(FullDiskTest, WritesFailWithIoErrorAndNothingAcknowledgedIsLost) {
  ASSERT_NO_FATAL_FAILURE(open());
  std::vector<Acked> acked;
  std::vector<WriteOp> failed;
  Status status = fill(acked, failed);
  ASSERT_EQ(status.code(), StatusCode::kIoError) << status.to_string();
  EXPECT_NE(status.message().find(db_dir()), std::string::npos) << status.message();
  ASSERT_GT(acked.size(), 100u);  // the disk did hold data before it filled
  expect_readable(acked);

  // While the disk is full, writes fail cleanly (io_error) — or, if RocksDB freed space
  // meanwhile (a flush or compaction finished), succeed and are then readable. Never a crash.
  const WriteOp small{0, "small", "v"};
  Status small_status = store_->write({&small, 1});
  EXPECT_TRUE(small_status.is_ok() || small_status.code() == StatusCode::kIoError)
      << small_status.to_string();
  if (small_status.is_ok()) acked.push_back(Acked{small.token, small.key, small.value});
  Status meta_status = store_->put_meta("incarnation", "1");
  EXPECT_TRUE(meta_status.is_ok() || meta_status.code() == StatusCode::kIoError)
      << meta_status.to_string();
  (void)store_->close();  // may report the failure; must not crash

  ASSERT_NO_FATAL_FAILURE(grow_disk());
  ASSERT_NO_FATAL_FAILURE(open());
  expect_readable(acked);
  expect_all_or_nothing(failed);
  std::vector<Acked> later = write_some(20);
  ASSERT_TRUE(store_->put_meta("incarnation", "2").is_ok());
  ASSERT_TRUE(store_->close().is_ok());
  ASSERT_NO_FATAL_FAILURE(open());
  expect_readable(acked);
  expect_readable(later);
  EXPECT_EQ(*store_->get_meta("incarnation"), "2");
}

// A node restarted on a disk that is still full: opening may fail, with io_error, but
// loses nothing; once space is freed the store opens with everything acknowledged.
TEST_P(FullDiskTest, ReopeningOnAStillFullDiskLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(open());
  std::vector<Acked> acked;
  std::vector<WriteOp> failed;
  ASSERT_EQ(fill(acked, failed).code(), StatusCode::kIoError);
  store_.reset();
  auto reopened = RocksDbStorage::open(db_dir(), options());
  if (reopened.is_ok()) {
    store_ = std::move(reopened).value();
    expect_readable(acked);
    store_.reset();
  } else {
    EXPECT_EQ(reopened.status().code(), StatusCode::kIoError) << reopened.status().to_string();
  }
  ASSERT_NO_FATAL_FAILURE(grow_disk());
  ASSERT_NO_FATAL_FAILURE(open());
  expect_readable(acked);
  expect_all_or_nothing(failed);
  expect_readable(write_some(5));
}

// A 64 MiB write buffer: the WAL fills the disk. 256 KiB: a memtable flush fills it.
INSTANTIATE_TEST_SUITE_P(WriteBuffers, FullDiskTest,
                         ::testing::Values(uint64_t{64} << 20, uint64_t{256} << 10),
                         [](const auto& info) {
                           return info.param > (uint64_t{1} << 20) ? "WalFills" : "FlushFills";
                         });

// A snapshot onto a full disk: the store lives on a roomy disk, the snapshot goes to the full
// 2 MiB tmpfs (another file system, so RocksDB copies the tables rather than linking them).
// It fails with io_error naming the snapshot's path, leaves no partial snapshot, and the
// store keeps serving.
TEST(FullDiskCheckpointTest, ACheckpointOntoAFullDiskIsIoErrorNamingItsPathAndLeavesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a 2 MiB tmpfs needs root";
  testing::TempDir home, small;
  if (::mount("tmpfs", small.path().c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
  }
  {
    RocksDbOptions options;
    options.block_cache_bytes = 1 << 20;
    auto store = RocksDbStorage::open(home.sub("db"), options);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    uint64_t rng = 88172645463325252u;
    for (ring::Token t = 0; t < 1500; ++t) {  // 6 MB of incompressible values
      std::string value(4096, '\0');
      for (char& c : value) rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, c = char(rng);
      const WriteOp op{t * 0x9e3779b97f4a7c15, "k", value};
      ASSERT_TRUE((*store)->write({&op, 1}).is_ok());
    }
    const std::string target = small.sub("snap");
    Status status = (*store)->checkpoint(target, {{"restored", "1"}});
    EXPECT_EQ(status.code(), StatusCode::kIoError) << status.to_string();
    EXPECT_NE(status.message().find(target), std::string::npos) << status.message();
    EXPECT_FALSE(std::filesystem::exists(target)) << "no partial snapshot may be left";
    const WriteOp after{1, "after", "v"};
    EXPECT_TRUE((*store)->write({&after, 1}).is_ok()) << "the store keeps serving";
  }
  ASSERT_EQ(::umount2(small.path().c_str(), MNT_DETACH), 0);
}

}  // namespace
}  // namespace qkv::storage
