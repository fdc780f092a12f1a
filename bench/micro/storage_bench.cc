// storage::RocksDbStorage's group commit as a node under workload W makes it: a write() of
// 16 random 1,000-byte values (incompressible, as qkv-bench's) under 100,000 keys, in a
// fresh store in a temporary directory, with RocksDB's background flushes and compactions
// running. What it measures is the calling thread's CPU time per commit of a commit: the
// WriteBatch, the WAL append (its checksum) and the memtable inserts.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench/key_chooser.h"
#include "node/storage/rocksdb_storage.h"
#include "ring/token.h"

namespace qkv::bench::micro {
namespace {

constexpr int kKeys = 100'000;
constexpr int kWritesPerCommit = 16;
constexpr std::size_t kValueBytes = 1000;

void BM_StorageGroupCommit(benchmark::State& state) {
  char dir_template[] = "/tmp/qkv-micro-storage-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  {
    auto opened = storage::RocksDbStorage::open(dir, storage::RocksDbOptions{});
    if (!opened.is_ok()) {
      state.SkipWithError(opened.status().message().c_str());
      return;
    }
    auto& store = *opened.value();
    std::mt19937_64 random(1);
    std::string pool(std::size_t{1} << 20, '\0');  // random bytes the values are cut from
    for (char& c : pool) c = static_cast<char>(random());
    std::vector<storage::WriteOp> ops(kWritesPerCommit);
    for (auto _ : state) {
      for (auto& op : ops) {
        op.key = key_name(static_cast<int>(random() % kKeys));
        op.token = ring::token_of(op.key);
        op.value.assign(pool, random() % (pool.size() - kValueBytes), kValueBytes);
      }
      if (Status s = store.write(ops); !s.is_ok()) {
        state.SkipWithError(s.message().c_str());
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * kWritesPerCommit);
    state.SetBytesProcessed(state.iterations() * kWritesPerCommit * kValueBytes);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_StorageGroupCommit);

}  // namespace
}  // namespace qkv::bench::micro
