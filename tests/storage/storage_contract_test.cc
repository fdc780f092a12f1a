// The Storage contract (node/storage/storage.h), run against every implementation.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "node/storage/memory_storage.h"
#include "node/storage/rocksdb_storage.h"
#include "tests/storage/temp_dir.h"

namespace qkv::storage {
namespace {

using namespace std::string_literals;
using Entry = std::tuple<ring::Token, std::string, std::string>;
using HintEntry = std::tuple<NodeId, ring::Token, std::string, std::string>;

struct MemoryFactory {
  testing::TempDir dir;  // where checkpoints go
  std::unique_ptr<Storage> make() { return std::make_unique<MemoryStorage>(); }
  Result<std::unique_ptr<Storage>> open_checkpoint(const std::string& path) {
    auto store = MemoryStorage::open_checkpoint(path);
    if (!store) return store.status();
    return std::unique_ptr<Storage>(std::move(store).value());
  }
};

struct RocksDbFactory {
  testing::TempDir dir;  // outlives the store: the fixture destroys the store first
  std::unique_ptr<Storage> make() {
    RocksDbOptions options;
    options.block_cache_bytes = 8 << 20;
    auto store = RocksDbStorage::open(dir.sub("db"), options);
    QKV_ASSERT(store.is_ok());
    return std::move(store).value();
  }
  Result<std::unique_ptr<Storage>> open_checkpoint(const std::string& path) {
    auto store = RocksDbStorage::open(path, RocksDbOptions{});
    if (!store) return store.status();
    return std::unique_ptr<Storage>(std::move(store).value());
  }
};

template <typename Factory>
class StorageContractTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = factory_.make(); }

  void put(ring::Token token, const std::string& key, const std::string& value) {
    const WriteOp op{token, key, value};
    ASSERT_TRUE(store_->write({&op, 1}).is_ok());
  }
  std::optional<std::string> get(ring::Token token, const std::string& key) {
    auto result = store_->get(token, key);
    QKV_ASSERT(result.is_ok());
    return *result;
  }
  std::vector<Entry> scan(ring::Token first, ring::Token last) {
    std::vector<Entry> seen;
    Status status = store_->scan(first, last, [&](auto token, auto key, auto value) {
      seen.emplace_back(token, std::string(key), std::string(value));
      return true;
    });
    EXPECT_TRUE(status.is_ok()) << status.to_string();
    return seen;
  }

  void put_hint(const NodeId& target, ring::Token token, const std::string& key,
                const std::string& value) {
    Status status = store_->put_hint(target, token, key, value);
    ASSERT_TRUE(status.is_ok()) << status.to_string();
  }
  std::optional<std::string> get_hint(const NodeId& target, ring::Token token,
                                      const std::string& key) {
    auto result = store_->get_hint(target, token, key);
    QKV_ASSERT(result.is_ok());
    return *result;
  }
  std::vector<HintEntry> scan_hints() {
    std::vector<HintEntry> seen;
    Status status = store_->scan_hints([&](const NodeId& target, auto token, auto key, auto value) {
      seen.emplace_back(target, token, std::string(key), std::string(value));
      return true;
    });
    EXPECT_TRUE(status.is_ok()) << status.to_string();
    return seen;
  }

  Factory factory_;
  std::unique_ptr<Storage> store_;
};

using Implementations = ::testing::Types<MemoryFactory, RocksDbFactory>;
class ImplementationNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryFactory> ? "Memory" : "RocksDb";
  }
};
TYPED_TEST_SUITE(StorageContractTest, Implementations, ImplementationNames);

TYPED_TEST(StorageContractTest, GetOfMissingKeyIsNullopt) {
  EXPECT_EQ(this->get(7, "absent"), std::nullopt);
  this->put(7, "present", "v");
  EXPECT_EQ(this->get(8, "present"), std::nullopt);  // same key, other token
  EXPECT_EQ(this->get(7, "presen"), std::nullopt);
}

TYPED_TEST(StorageContractTest, RoundTripAndOverwrite) {
  this->put(42, "k", "v1");
  EXPECT_EQ(this->get(42, "k"), "v1");
  this->put(42, "k", "v2");
  EXPECT_EQ(this->get(42, "k"), "v2");
  EXPECT_EQ(this->scan(0, UINT64_MAX), (std::vector<Entry>{{42, "k", "v2"}}));
}

TYPED_TEST(StorageContractTest, LaterOpInOneBatchWins) {
  const std::vector<WriteOp> ops = {{5, "k", "first"}, {5, "k", "second"}};
  ASSERT_TRUE(this->store_->write(ops).is_ok());
  EXPECT_EQ(this->get(5, "k"), "second");
}

TYPED_TEST(StorageContractTest, EmptyValueIsStoredAndDiffersFromMissing) {
  this->put(1, "k", "");
  EXPECT_EQ(this->get(1, "k"), std::optional<std::string>(""));
  EXPECT_EQ(this->scan(1, 1), (std::vector<Entry>{{1, "k", ""}}));
}

// An ownership transfer drops the key ranges a node no longer replicates: exactly the range,
// its edges included, and nothing of the neighbours or of hints.
TYPED_TEST(StorageContractTest, DeleteRangeRemovesExactlyTheRange) {
  this->put(9, "below", "v");
  this->put(10, "first", "v");
  this->put(15, "middle", "v");
  this->put(20, "last", "v");
  this->put(21, "above", "v");
  this->put(UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\xff", "v");
  ASSERT_TRUE(this->store_->put_hint("n2", 15, "hinted", "h").is_ok());
  ASSERT_TRUE(this->store_->delete_range(10, 20).is_ok());
  EXPECT_EQ(this->scan(0, UINT64_MAX),
            (std::vector<Entry>{{9, "below", "v"},
                                {21, "above", "v"},
                                {UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\xff", "v"}}));
  EXPECT_EQ(this->store_->get_hint("n2", 15, "hinted").value(), std::optional<std::string>("h"));
  // The last token has no key above it to bound the range: its keys still go.
  ASSERT_TRUE(this->store_->delete_range(21, UINT64_MAX).is_ok());
  EXPECT_EQ(this->scan(0, UINT64_MAX), (std::vector<Entry>{{9, "below", "v"}}));
  EXPECT_EQ(this->store_->delete_range(5, 4).code(), StatusCode::kInvalidArgument);
}

TYPED_TEST(StorageContractTest, EmptyBatchIsOk) {
  EXPECT_TRUE(this->store_->write({}).is_ok());
  EXPECT_TRUE(this->scan(0, UINT64_MAX).empty());
}

TYPED_TEST(StorageContractTest, BinaryKeysAndValuesWithNulBytes) {
  const std::string key_a = "a\0b"s, key_a0 = "a\0"s, value = "\0\xff\0x"s;
  this->put(9, key_a, value);
  this->put(9, key_a0, "short");
  this->put(9, "a", "plain");
  this->put(9, "", "empty key");
  EXPECT_EQ(this->get(9, key_a), value);
  EXPECT_EQ(this->get(9, key_a0), "short");
  EXPECT_EQ(this->get(9, "a"), "plain");
  EXPECT_EQ(this->get(9, ""), "empty key");
  EXPECT_EQ(this->scan(9, 9),
            (std::vector<Entry>{
                {9, "", "empty key"}, {9, "a", "plain"}, {9, key_a0, "short"}, {9, key_a, value}}));
}

// Entries around partition edges, tokens 0 and UINT64_MAX, and equal tokens with keys
// that sort differently as signed and unsigned bytes.
std::vector<Entry> edge_entries() {
  const ring::Token half = ring::Token{1} << 63;
  return {{0, "", "t0"},
          {0, "\x01", "t0b"},
          {1, "k", "t1"},
          {100, "a", "a"},
          {100, "b", "b"},
          {100, "\xff", "ff"},
          {half - 1, "k", "below half"},
          {half, "k", "half"},
          {UINT64_MAX - 1, "k", "max-1"},
          {UINT64_MAX, "x", "max x"},
          {UINT64_MAX, "y", "max y"}};
}

TYPED_TEST(StorageContractTest, ScanReturnsExactlyTheRangeInTokenKeyOrder) {
  std::vector<Entry> all = edge_entries();
  std::vector<WriteOp> ops;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {  // written out of order
    ops.push_back({std::get<0>(*it), std::get<1>(*it), std::get<2>(*it)});
  }
  ASSERT_TRUE(this->store_->write(ops).is_ok());
  const ring::Token half = ring::Token{1} << 63;

  EXPECT_EQ(this->scan(0, UINT64_MAX), all);
  EXPECT_EQ(this->scan(0, half - 1), std::vector<Entry>(all.begin(), all.begin() + 7));
  EXPECT_EQ(this->scan(half, UINT64_MAX), std::vector<Entry>(all.begin() + 7, all.end()));
  EXPECT_EQ(this->scan(0, 0), std::vector<Entry>(all.begin(), all.begin() + 2));
  EXPECT_EQ(this->scan(100, 100), std::vector<Entry>(all.begin() + 3, all.begin() + 6));
  EXPECT_EQ(this->scan(UINT64_MAX, UINT64_MAX), std::vector<Entry>(all.end() - 2, all.end()));
  EXPECT_TRUE(this->scan(2, 99).empty());
  // The last of 256 partitions (design.md §1: Q equal partitions).
  const ring::Token last_partition = ring::Token{255} << 56;
  EXPECT_EQ(this->scan(last_partition, UINT64_MAX), std::vector<Entry>(all.end() - 3, all.end()));
}

TYPED_TEST(StorageContractTest, ScanStopsWhenVisitReturnsFalse) {
  for (ring::Token token = 10; token < 20; ++token) this->put(token, "k", "v");
  std::vector<ring::Token> seen;
  Status status = this->store_->scan(0, UINT64_MAX, [&](auto token, auto, auto) {
    seen.push_back(token);
    return seen.size() < 3;
  });
  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(seen, (std::vector<ring::Token>{10, 11, 12}));
}

TYPED_TEST(StorageContractTest, ScanWithFirstAfterLastIsInvalidArgument) {
  Status status = this->store_->scan(5, 4, [](auto, auto, auto) { return true; });
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
}

TYPED_TEST(StorageContractTest, VisitMayWriteAndScanSeesOnlyItsStartingSnapshot) {
  for (ring::Token token = 0; token < 5; ++token) this->put(token * 10, "k", "old");
  int visited = 0;
  Status status = this->store_->scan(0, UINT64_MAX, [&](auto token, auto, auto value) {
    ++visited;
    EXPECT_EQ(value, "old");
    // Re-entrant write into the range ahead of the cursor: must not deadlock or be seen.
    const WriteOp ahead{token + 5, "k", "new"};
    EXPECT_TRUE(this->store_->write({&ahead, 1}).is_ok());
    return true;
  });
  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(visited, 5);
  EXPECT_EQ(this->scan(0, UINT64_MAX).size(), 10u);
}

TYPED_TEST(StorageContractTest, ABatchIsVisibleAllOrNothing) {
  // A writer lands batches of kOps entries; concurrent scans and gets must never see part
  // of one.
  constexpr int kBatches = 40, kOps = 50;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int batch = 0; batch < kBatches; ++batch) {
      std::vector<WriteOp> ops;
      for (int op = 0; op < kOps; ++op) {
        ops.push_back({static_cast<ring::Token>(op) << 58, std::to_string(batch), "v"});
      }
      EXPECT_TRUE(this->store_->write(ops).is_ok());
    }
    done = true;
  });
  int checks = 0;
  while (!done.load() || checks == 0) {
    const std::size_t seen = this->scan(0, UINT64_MAX).size();
    EXPECT_EQ(seen % kOps, 0u) << "scan saw part of a batch: " << seen << " entries";
    ++checks;
  }
  writer.join();
  EXPECT_EQ(this->scan(0, UINT64_MAX).size(), std::size_t{kBatches} * kOps);
}

TYPED_TEST(StorageContractTest, MetaRoundTripIsApartFromData) {
  auto missing = this->store_->get_meta("incarnation");
  ASSERT_TRUE(missing.is_ok());
  EXPECT_EQ(*missing, std::nullopt);
  ASSERT_TRUE(this->store_->put_meta("incarnation", "\x00\x01"s).is_ok());
  ASSERT_TRUE(this->store_->put_meta("incarnation", "\x00\x02"s).is_ok());
  ASSERT_TRUE(this->store_->put_meta("clean_shutdown", "").is_ok());
  EXPECT_EQ(*this->store_->get_meta("incarnation"), "\x00\x02"s);
  EXPECT_EQ(*this->store_->get_meta("clean_shutdown"), "");
  EXPECT_TRUE(this->scan(0, UINT64_MAX).empty());
  this->put(0, "incarnation", "data");
  EXPECT_EQ(*this->store_->get_meta("incarnation"), "\x00\x02"s);
}

TYPED_TEST(StorageContractTest, HintRoundTripOverwriteAndDelete) {
  EXPECT_EQ(this->get_hint("n2", 7, "k"), std::nullopt);
  this->put_hint("n2", 7, "k", "h1");
  EXPECT_EQ(this->get_hint("n2", 7, "k"), "h1");
  EXPECT_EQ(this->get_hint("n3", 7, "k"), std::nullopt);  // other target
  EXPECT_EQ(this->get_hint("n2", 8, "k"), std::nullopt);  // other token
  this->put_hint("n2", 7, "k", "h2");
  EXPECT_EQ(this->get_hint("n2", 7, "k"), "h2");
  EXPECT_EQ(this->scan_hints(), (std::vector<HintEntry>{{"n2", 7, "k", "h2"}}));
  ASSERT_TRUE(this->store_->delete_hint("n2", 7, "k").is_ok());
  EXPECT_EQ(this->get_hint("n2", 7, "k"), std::nullopt);
  EXPECT_TRUE(this->scan_hints().empty());
  EXPECT_TRUE(this->store_->delete_hint("n2", 7, "k").is_ok()) << "deleting a missing hint";
}

TYPED_TEST(StorageContractTest, HintsAreApartFromData) {
  this->put(7, "k", "data");
  this->put_hint("n2", 7, "k", "hint");
  EXPECT_EQ(this->get(7, "k"), "data");
  EXPECT_EQ(this->get_hint("n2", 7, "k"), "hint");
  EXPECT_EQ(this->scan(0, UINT64_MAX), (std::vector<Entry>{{7, "k", "data"}}));
  EXPECT_EQ(this->scan_hints(), (std::vector<HintEntry>{{"n2", 7, "k", "hint"}}));
  ASSERT_TRUE(this->store_->delete_hint("n2", 7, "k").is_ok());
  EXPECT_EQ(this->get(7, "k"), "data");
}

TYPED_TEST(StorageContractTest, ScanHintsIsInTargetTokenKeyOrder) {
  // Targets that are prefixes of each other, tokens at the extremes, written out of order.
  const std::vector<HintEntry> all = {
      {"n1", 0, "", "a"},          {"n1", 0, "x", "b"},    {"n1", UINT64_MAX, "k", "c"},
      {"n10", 5, "k", "d"},        {"n2", 1, "\xff", "e"}, {"n2", 1 << 20, "k", "f"},
      {"z.node-1_a", 3, "k", "g"},
  };
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    this->put_hint(std::get<0>(*it), std::get<1>(*it), std::get<2>(*it), std::get<3>(*it));
  }
  EXPECT_EQ(this->scan_hints(), all);
  std::vector<NodeId> seen;
  ASSERT_TRUE(this->store_
                  ->scan_hints([&](const NodeId& target, auto, auto, auto) {
                    seen.push_back(target);
                    return seen.size() < 2;
                  })
                  .is_ok());
  EXPECT_EQ(seen, (std::vector<NodeId>{"n1", "n1"})) << "stops when visit returns false";
}

TYPED_TEST(StorageContractTest, HintsWithBinaryKeysAndValues) {
  const std::string key_a = "a\0b"s, key_a0 = "a\0"s, value = "\0\xff\0x"s;
  this->put_hint("n1", 9, key_a, value);
  this->put_hint("n1", 9, key_a0, "short");
  this->put_hint("n1", 9, "", "empty key");
  EXPECT_EQ(this->get_hint("n1", 9, key_a), value);
  EXPECT_EQ(this->get_hint("n1", 9, key_a0), "short");
  EXPECT_EQ(this->get_hint("n1", 9, ""), "empty key");
  EXPECT_EQ(this->scan_hints(),
            (std::vector<HintEntry>{
                {"n1", 9, "", "empty key"}, {"n1", 9, key_a0, "short"}, {"n1", 9, key_a, value}}));
}

TYPED_TEST(StorageContractTest, HintCallsWithAnInvalidTargetAreInvalidArgument) {
  for (const NodeId& target : {NodeId(), "n\0x"s, NodeId("has space")}) {
    EXPECT_EQ(this->store_->put_hint(target, 1, "k", "v").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(this->store_->get_hint(target, 1, "k").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(this->store_->delete_hint(target, 1, "k").code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(this->scan_hints().empty());
}

TYPED_TEST(StorageContractTest, ScanHintsVisitMayDeleteAndSeesItsStartingSnapshot) {
  for (ring::Token token = 0; token < 5; ++token) this->put_hint("n1", token, "k", "v");
  int visited = 0;
  Status status =
      this->store_->scan_hints([&](const NodeId& target, auto token, auto key, auto value) {
        ++visited;
        EXPECT_EQ(value, "v");
        EXPECT_TRUE(this->store_->delete_hint(target, token, key).is_ok());
        // Deleting the next one too: the scan still sees it (snapshot).
        EXPECT_TRUE(this->store_->delete_hint(target, token + 1, key).is_ok());
        return true;
      });
  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(visited, 5);
  EXPECT_TRUE(this->scan_hints().empty());
}

// Backups (qkvctl snapshot): a checkpoint is the whole store at its moment — data, hints and
// metadata — with the given metadata set in the copy only; later writes reach neither.
TYPED_TEST(StorageContractTest, ACheckpointHoldsEveryFamilyAtItsMomentAndItsMetaOnlyInTheCopy) {
  this->put(7, "kept", "v1");
  this->put(UINT64_MAX, "edge", "e");
  this->put_hint("n2", 9, "hinted", "h1");
  ASSERT_TRUE(this->store_->put_meta("incarnation", "41").is_ok());
  const std::string path = this->factory_.dir.sub("snapshots/one");  // parents made
  Status made = this->store_->checkpoint(path, {{"restored", "1"}});
  ASSERT_TRUE(made.is_ok()) << made.to_string();
  // After the checkpoint: overwrite, add, delete a hint, change metadata.
  this->put(7, "kept", "v2");
  this->put(8, "later", "x");
  ASSERT_TRUE(this->store_->delete_hint("n2", 9, "hinted").is_ok());
  ASSERT_TRUE(this->store_->put_meta("incarnation", "42").is_ok());
  EXPECT_EQ(this->store_->get_meta("restored").value(), std::nullopt) << "the source is unmarked";

  auto copy = this->factory_.open_checkpoint(path);
  ASSERT_TRUE(copy.is_ok()) << copy.status().to_string();
  Storage& snapshot = **copy;
  std::vector<Entry> data;
  ASSERT_TRUE(snapshot
                  .scan(0, UINT64_MAX,
                        [&](auto token, auto key, auto value) {
                          data.emplace_back(token, std::string(key), std::string(value));
                          return true;
                        })
                  .is_ok());
  EXPECT_EQ(data, (std::vector<Entry>{{7, "kept", "v1"}, {UINT64_MAX, "edge", "e"}}));
  EXPECT_EQ(snapshot.get_hint("n2", 9, "hinted").value(), std::optional<std::string>("h1"));
  EXPECT_EQ(snapshot.get_meta("incarnation").value(), std::optional<std::string>("41"));
  EXPECT_EQ(snapshot.get_meta("restored").value(), std::optional<std::string>("1"));
  // The copy is a store of its own: writing it changes nothing here.
  const WriteOp op{7, "kept", "in the copy"};
  ASSERT_TRUE(snapshot.write({&op, 1}).is_ok());
  EXPECT_EQ(this->get(7, "kept"), "v2");
}

TYPED_TEST(StorageContractTest, ACheckpointIntoAnExistingDirectoryIsRefusedNamingIt) {
  this->put(1, "k", "v");
  const std::string path = this->factory_.dir.sub("taken");
  std::filesystem::create_directories(path + "/inside");
  Status refused = this->store_->checkpoint(path, {});
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find(path), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("exists already"), std::string::npos) << refused.message();
  EXPECT_TRUE(std::filesystem::exists(path + "/inside")) << "an existing directory is untouched";
  // A second checkpoint into a new directory works, and a second into the first's is refused.
  ASSERT_TRUE(this->store_->checkpoint(path + "-2", {}).is_ok());
  EXPECT_EQ(this->store_->checkpoint(path + "-2", {}).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qkv::storage
