// RocksDbStorage: the Storage contract on an embedded RocksDB (design.md §1, §7).
//
// On disk (persisted: do not change): one RocksDB database in `dir` with the column
// families "default" (required by RocksDB, unused), "data" (data keys from key_codec.h ->
// encoded sibling sets), "meta" (name -> value) and "hints" (hint keys from key_codec.h ->
// opaque hint values). A database made before "hints" existed opens too: missing families
// are created at open. Tables have a bloom filter and share one LRU block cache: RocksDB's
// defaults have neither, and random gets were 2.5x slower.
//
// Durability: write(), put_hint() and delete_hint() reach the WAL before they return; they
// are fsynced too only with sync_writes (then a crash of the machine loses nothing
// acknowledged). put_meta is always fsynced. Closing (close() or the destructor) syncs the
// WAL, unless a write failed.
//
// Also in dir: RocksDB's diagnostic log, LOG and LOG.old, 8 MiB each at most. Lines that
// cannot be written (full disk) are dropped.
//
// Errors: io_error for engine and file-system failures (full disk, permissions, a
// directory locked by another process), with what was being done and the directory in the
// message; corruption for unreadable data. After a write fails with io_error (e.g. a full
// disk) RocksDB accepts no more writes — each gets io_error — while reads keep working;
// nothing acknowledged is lost. Writes work again once the store is closed and reopened
// with space freed. (RocksDB's in-place recovery, DB::Resume, is not used: in 7.8 it can
// hang or turn the error fatal.)
//
// Thread-safety: every method except close() may be called from several threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "node/storage/storage.h"

namespace rocksdb {
class Status;
}  // namespace rocksdb

namespace qkv::storage {

struct RocksDbOptions {
  // fsync the WAL on every write() (group commit batches concurrent writers).
  bool sync_writes = false;
  // Shared LRU block cache for all column families, in bytes (0: no caching).
  uint64_t block_cache_bytes = uint64_t{256} << 20;
  // Bloom filter bits per key in data tables; 0 disables the filter. 10 gives ~1% false
  // positives.
  int bloom_bits_per_key = 10;
  // Memtable size per column family before it is flushed to a table, in bytes.
  // REQUIRES: >= kWriteBufferBytesMin.
  uint64_t write_buffer_bytes = uint64_t{64} << 20;
};

class RocksDbStorage final : public Storage {
 public:
  static constexpr uint64_t kWriteBufferBytesMin = uint64_t{64} << 10;

  // Opens (creating if missing, parents included) the store in dir.
  // Errors: invalid_argument for bad options (naming the limit); io_error naming dir if it
  // cannot be created or opened: a regular file is in the way, no permission, or another
  // process (or another RocksDbStorage in this one) has it open; corruption if the
  // database in it is unreadable.
  static Result<std::unique_ptr<RocksDbStorage>> open(const std::string& dir,
                                                      const RocksDbOptions& options);

  RocksDbStorage(const RocksDbStorage&) = delete;
  RocksDbStorage& operator=(const RocksDbStorage&) = delete;
  // Closes as close() does, ignoring its status.
  ~RocksDbStorage() override;

  Result<std::optional<std::string>> get(ring::Token token, std::string_view key) override;
  Status write(std::span<const WriteOp> ops) override;
  Status scan(ring::Token first, ring::Token last, const ScanVisitor& visit) override;
  Status delete_range(ring::Token first, ring::Token last) override;

  Result<std::optional<std::string>> get_hint(const NodeId& target, ring::Token token,
                                              std::string_view key) override;
  Status put_hint(const NodeId& target, ring::Token token, std::string_view key,
                  std::string_view value) override;
  Status delete_hint(const NodeId& target, ring::Token token, std::string_view key) override;
  Status scan_hints(const HintVisitor& visit) override;

  Result<std::optional<std::string>> get_meta(std::string_view name) override;
  Status put_meta(std::string_view name, std::string_view value) override;

  // rocksdb::Checkpoint::CreateCheckpoint: flushes the memtables, then hard-links the
  // table files into dir (copies them when dir is on another file system) and copies the
  // MANIFEST and the live WAL; then opens the snapshot to set `meta` in it, and closes it.
  Status checkpoint(const std::string& dir, const MetaEntries& meta) override;

  // Writes the memtables of all column families to tables and waits for it (tests, and
  // before a backup). Errors: io_error.
  Status flush();
  // RocksDB properties summed over the column families (the store closed: none):
  // memtable_bytes (rocksdb.cur-size-all-mem-tables), pending_compaction_bytes,
  // block_cache_usage_bytes, live_sst_bytes (rocksdb.live-sst-files-size) and
  // estimated_keys (rocksdb.estimate-num-keys: data, hints and metadata).
  std::vector<std::pair<std::string, uint64_t>> engine_figures() const override;

  // Syncs the WAL and closes the database, releasing its lock; reports what failed.
  // Idempotent. REQUIRES: no other call in flight or made afterwards (except the
  // destructor).
  Status close();

  const std::string& dir() const { return dir_; }

 private:
  struct Handles;  // the RocksDB objects; defined in the .cc to keep RocksDB's headers out
  RocksDbStorage(std::string dir, RocksDbOptions options, std::unique_ptr<Handles> handles);

  // Remembers a write failure that leaves RocksDB's WAL unusable (see close()).
  void note_write_failure(const rocksdb::Status& status);

  const std::string dir_;
  const RocksDbOptions options_;
  std::unique_ptr<Handles> handles_;       // null once closed
  std::atomic<bool> write_failed_{false};  // a write failed with an I/O error
};

}  // namespace qkv::storage
