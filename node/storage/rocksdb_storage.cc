#include "node/storage/rocksdb_storage.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <utility>
#include <vector>

#include "node/storage/key_codec.h"

namespace qkv::storage {

namespace {

// RocksDB's perf counters (rocksdb/perf_context.h) are thread-local and on by default
// (PerfLevel::kEnableCount), and nothing here reads them. From a shared librocksdb each
// counter costs __tls_get_addr calls and a TLS init check, on every key compare of a
// memtable insert or lookup: 8 % of the nodes' instructions per write (callgrind, see
// docs/performance.md). Turned off for the calling thread by get() and write(); it is a
// store to one thread-local, so done on every call rather than tracking threads.
void perf_counters_off() {
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
}

// Column family names (persisted: do not change).
constexpr const char* kDataFamily = "data";
constexpr const char* kMetaFamily = "meta";
constexpr const char* kHintsFamily = "hints";

// Bounds on RocksDB's diagnostic log in the store's directory: LOG, and LOG.old before it.
constexpr size_t kInfoLogBytesMax = size_t{8} << 20;
constexpr size_t kInfoLogLineBytesMax = 2048;  // longer lines are cut

std::string_view view(const rocksdb::Slice& slice) {
  return {slice.data(), slice.size()};
}

// "<doing> in <dir>: <RocksDB's message>", as corruption or io_error.
Status engine_status(const rocksdb::Status& status, std::string_view doing,
                     const std::string& dir) {
  std::string message = std::string(doing) + " in " + dir + ": " + status.ToString();
  if (status.IsCorruption()) return Status::corruption(std::move(message));
  return Status::io_error(std::move(message));
}

Status validate(const RocksDbOptions& options) {
  if (options.write_buffer_bytes < RocksDbStorage::kWriteBufferBytesMin) {
    return Status::invalid_argument(
        "write_buffer_bytes is " + std::to_string(options.write_buffer_bytes) +
        "; write_buffer_bytes_min is " + std::to_string(RocksDbStorage::kWriteBufferBytesMin));
  }
  if (options.bloom_bits_per_key < 0) {
    return Status::invalid_argument("bloom_bits_per_key is " +
                                    std::to_string(options.bloom_bits_per_key) +
                                    "; it must be >= 0 (0 disables the bloom filter)");
  }
  return Status::ok();
}

Status make_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec && !std::filesystem::is_directory(dir, ec))
    ec = make_error_code(std::errc::not_a_directory);
  if (ec) return Status::io_error("cannot create storage directory " + dir + ": " + ec.message());
  return Status::ok();
}

rocksdb::ColumnFamilyOptions family_options(const RocksDbOptions& options,
                                            const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::BlockBasedTableOptions table;
  if (cache) {
    table.block_cache = cache;
  } else {
    table.no_block_cache = true;
  }
  if (options.bloom_bits_per_key > 0) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(options.bloom_bits_per_key));
  }
  rocksdb::ColumnFamilyOptions family;
  family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  family.write_buffer_size = options.write_buffer_bytes;
  // No compression on levels 0 and 1, LZ4 below (RocksDB's tuning guide): the upper
  // levels hold a small part of the data and are rewritten most often, by every flush and
  // L0 compaction, so compressing them spends CPU on bytes that soon go again. The
  // default (Snappy on every level) cost 1.2-1.9 % of a node's CPU under workload W
  // (docs/performance.md).
  family.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression,
                                  rocksdb::kLZ4Compression};
  // Gets, and writes the version cache cannot serve (node/version_cache.h), read the key
  // first: a bloom filter over each memtable's keys lets a get skip the memtables that do
  // not hold the key instead of searching their skip lists (docs/performance.md).
  family.memtable_whole_key_filtering = true;
  family.memtable_prefix_bloom_size_ratio = 0.05;
  // Reaped tombstones and dropped ranges are deletes: a table file whose entries are mostly
  // deletes is compacted down at once, so their space comes back without waiting for more
  // writes to push it down (RocksDB's CompactOnDeletionCollector: 128-entry windows, 64
  // deletes trigger; docs/performance.md, "Tombstone reaping").
  family.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(128, 64));
  return family;
}

// RocksDB's diagnostic log (dir/LOG), written so that a full disk cannot take the node
// down: Debian's librocksdb is built with assertions, and its own file logger aborts the
// process on the first line after one failed to be written. Lines that cannot be written
// are dropped. At kInfoLogBytesMax, LOG becomes LOG.old (replacing the previous one).
class InfoLog final : public rocksdb::Logger {
 public:
  explicit InfoLog(std::string path)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), path_(std::move(path)) {
    open_file();
  }
  ~InfoLog() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[kInfoLogLineBytesMax];
    const std::size_t prefix = timestamp(line, sizeof line);
    const int written = std::vsnprintf(line + prefix, sizeof line - prefix, format, ap);
    if (written < 0) return;
    const std::size_t size = std::min(prefix + written, sizeof line - 1);
    line[size] = '\n';
    std::lock_guard lock(mutex_);
    if (bytes_ + size + 1 > kInfoLogBytesMax) rotate();
    if (fd_ < 0) return;
    const ssize_t appended = ::write(fd_, line, size + 1);
    if (appended > 0) bytes_ += appended;
  }

 private:
  // "2024-05-01T12:00:00.123456Z " into out; returns its length.
  static std::size_t timestamp(char* out, std::size_t size) {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
        1'000'000;
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    std::size_t length = std::strftime(out, size, "%Y-%m-%dT%H:%M:%S", &utc);
    length +=
        std::snprintf(out + length, size - length, ".%06lldZ ", static_cast<long long>(micros));
    return length;
  }
  void open_file() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const off_t end = fd_ >= 0 ? ::lseek(fd_, 0, SEEK_END) : 0;
    bytes_ = end > 0 ? static_cast<std::size_t>(end) : 0;
  }
  void rotate() {
    if (fd_ >= 0) ::close(fd_);
    (void)std::rename(path_.c_str(), (path_ + ".old").c_str());
    open_file();
  }

  const std::string path_;
  std::mutex mutex_;
  int fd_ = -1;
  std::size_t bytes_ = 0;
};

// Turns off RocksDB's automatic recovery from a full disk (a thread that polls free space
// every 5 s and then calls DB::Resume): in RocksDB 7.8 resuming can hang in its flush, or
// "succeed" and leave the WAL writer failed so that the next write turns the error fatal
// (facebook/rocksdb#11643, #12998). A store that failed a write is reopened instead: WAL
// replay at open is the well-trodden path.
class ManualRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status /*bg_error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

rocksdb::DBOptions db_options(const std::string& dir, const RocksDbOptions& options) {
  rocksdb::DBOptions db;
  db.info_log = std::make_shared<InfoLog>(dir + "/LOG");
  db.listeners.push_back(std::make_shared<ManualRecovery>());
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  // A WAL file is deleted only once every family's memtable holding its writes is
  // flushed; the rarely written "meta" family would otherwise pin WALs for a long time.
  db.max_total_wal_size = 4 * options.write_buffer_bytes;
  return db;
}

// Adds a hint to errors about the directory's lock file (RocksDB's messages name
// ".../LOCK" both when another process and when this one already has the store open).
Status open_status(const rocksdb::Status& status, const std::string& dir) {
  Status result = engine_status(status, "cannot open RocksDB store", dir);
  if (status.ToString().find("/LOCK") == std::string::npos) return result;
  return Status(result.code(),
                result.message() + " (is another qkvd or RocksDbStorage using this directory?)");
}

}  // namespace

struct RocksDbStorage::Handles {
  std::shared_ptr<rocksdb::Cache> cache;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyHandle* default_family = nullptr;  // owned by db
  rocksdb::ColumnFamilyHandle* data = nullptr;            // owned by db
  rocksdb::ColumnFamilyHandle* meta = nullptr;            // owned by db
  rocksdb::ColumnFamilyHandle* hints = nullptr;           // owned by db
};

std::vector<std::pair<std::string, uint64_t>> RocksDbStorage::engine_figures() const {
  if (!handles_) return {};
  static constexpr std::pair<const char*, const char*> kProperties[] = {
      {"memtable_bytes", "rocksdb.cur-size-all-mem-tables"},
      {"pending_compaction_bytes", "rocksdb.estimate-pending-compaction-bytes"},
      {"block_cache_usage_bytes", "rocksdb.block-cache-usage"},
      {"live_sst_bytes", "rocksdb.live-sst-files-size"},
      {"estimated_keys", "rocksdb.estimate-num-keys"}};
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [name, property] : kProperties) {
    uint64_t value = 0;
    if (handles_->db->GetAggregatedIntProperty(property, &value)) out.emplace_back(name, value);
  }
  return out;
}

Result<std::unique_ptr<RocksDbStorage>> RocksDbStorage::open(const std::string& dir,
                                                             const RocksDbOptions& options) {
  QKV_RETURN_IF_ERROR(validate(options));
  QKV_RETURN_IF_ERROR(make_dir(dir));
  auto handles = std::make_unique<Handles>();
  if (options.block_cache_bytes > 0) {
    handles->cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  }
  const rocksdb::ColumnFamilyOptions family = family_options(options, handles->cache);
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, family},
      {kDataFamily, family},
      {kMetaFamily, family},
      {kHintsFamily, family},  // created here in stores made before hints existed
  };
  std::vector<rocksdb::ColumnFamilyHandle*> opened;
  rocksdb::DB* db = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(db_options(dir, options), dir, families, &opened, &db);
  if (!status.ok()) return open_status(status, dir);
  QKV_ASSERT(db != nullptr && opened.size() == families.size());
  handles->db.reset(db);
  handles->default_family = opened[0];
  handles->data = opened[1];
  handles->meta = opened[2];
  handles->hints = opened[3];
  return std::unique_ptr<RocksDbStorage>(new RocksDbStorage(dir, options, std::move(handles)));
}

RocksDbStorage::RocksDbStorage(std::string dir, RocksDbOptions options,
                               std::unique_ptr<Handles> handles)
    : dir_(std::move(dir)), options_(options), handles_(std::move(handles)) {}

RocksDbStorage::~RocksDbStorage() {
  (void)close();
}

Status RocksDbStorage::close() {
  if (!handles_) return Status::ok();
  rocksdb::DB& db = *handles_->db;
  Status result;
  rocksdb::Status status;
  // Close() does not sync the WAL; without this, writes made without sync_writes could be
  // lost by a machine crash right after a clean shutdown. Not after a failed write: that
  // WAL cannot be synced, and Debian's librocksdb asserts (aborts) when asked to.
  if (!write_failed_.load()) {
    status = db.FlushWAL(/*sync=*/true);
    if (!status.ok()) result = engine_status(status, "syncing the WAL at close", dir_);
  }
  for (auto* family : {handles_->data, handles_->meta, handles_->hints, handles_->default_family}) {
    status = db.DestroyColumnFamilyHandle(family);
    if (!status.ok() && result.is_ok()) result = engine_status(status, "closing", dir_);
  }
  status = db.Close();
  if (!status.ok() && result.is_ok()) result = engine_status(status, "closing", dir_);
  handles_.reset();  // deletes the DB whatever Close() said, as RocksDB requires
  return result;
}

Result<std::optional<std::string>> RocksDbStorage::get(ring::Token token, std::string_view key) {
  QKV_ASSERT(handles_ != nullptr);
  perf_counters_off();
  rocksdb::PinnableSlice value;
  rocksdb::Status status = handles_->db->Get(rocksdb::ReadOptions(), handles_->data,
                                             encode_data_key(token, key), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return engine_status(status, "reading a key", dir_);
  return std::optional<std::string>(value.ToString());
}

void RocksDbStorage::note_write_failure(const rocksdb::Status& status) {
  // I/O errors are what stop RocksDB and leave its WAL writer failed.
  if (status.IsIOError() || status.IsCorruption()) write_failed_.store(true);
}

Status RocksDbStorage::write(std::span<const WriteOp> ops) {
  QKV_ASSERT(handles_ != nullptr);
  if (ops.empty()) return Status::ok();
  perf_counters_off();
  // Sized up front: grown by doubling, a group commit's batch of 1 KB values was copied
  // over again five or six times.
  std::size_t bytes = 12;  // the batch header
  for (const WriteOp& op : ops) bytes += kTokenBytes + op.key.size() + op.value.size() + 16;
  rocksdb::WriteBatch batch(bytes);
  std::string data_key;  // the batch copies each key: one buffer serves them all
  for (const WriteOp& op : ops) {
    encode_data_key(op.token, op.key, data_key);
    rocksdb::Status status = op.erase ? batch.Delete(handles_->data, data_key)
                                      : batch.Put(handles_->data, data_key, op.value);
    if (!status.ok()) return Status::invalid_argument("cannot batch a write: " + status.ToString());
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  rocksdb::Status status = handles_->db->Write(write_options, &batch);
  if (!status.ok()) {
    note_write_failure(status);
    return engine_status(status, "writing a batch of " + std::to_string(ops.size()) + " ops", dir_);
  }
  return Status::ok();
}

Status RocksDbStorage::scan(ring::Token first, ring::Token last, const ScanVisitor& visit) {
  QKV_ASSERT(handles_ != nullptr);
  if (first > last) {
    return Status::invalid_argument("scan range is empty: first token " + std::to_string(first) +
                                    " > last token " + std::to_string(last));
  }
  rocksdb::ReadOptions read_options;  // the iterator reads an implicit snapshot
  // Scans read whole partitions (Merkle trees, handoff): keep them from evicting the
  // blocks that gets need.
  read_options.fill_cache = false;
  // No upper bound exists past token UINT64_MAX: there the end of the family ends the range.
  const std::string upper = last == UINT64_MAX ? std::string() : encode_token(last + 1);
  const rocksdb::Slice upper_slice(upper);
  if (last != UINT64_MAX) read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(handles_->db->NewIterator(read_options, handles_->data));
  for (it->Seek(encode_token(first)); it->Valid(); it->Next()) {
    auto decoded = decode_data_key(view(it->key()));
    if (!decoded.is_ok()) {
      return Status::corruption("scanning " + dir_ + ": " + decoded.status().message());
    }
    if (decoded->first > last) break;
    if (!visit(decoded->first, decoded->second, view(it->value()))) return Status::ok();
  }
  if (!it->status().ok()) return engine_status(it->status(), "scanning", dir_);
  return Status::ok();
}

Status RocksDbStorage::delete_range(ring::Token first, ring::Token last) {
  QKV_ASSERT(handles_ != nullptr);
  if (first > last) {
    return Status::invalid_argument("delete range is empty: first token " + std::to_string(first) +
                                    " > last token " + std::to_string(last));
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  rocksdb::WriteBatch batch;
  rocksdb::Status status;
  if (last != UINT64_MAX) {
    status = batch.DeleteRange(handles_->data, encode_token(first), encode_token(last + 1));
  } else {
    // No key bounds the range past token UINT64_MAX: delete up to it, then its keys singly.
    status = batch.DeleteRange(handles_->data, encode_token(first), encode_token(last));
    if (status.ok()) {
      Status scanned = scan(last, last, [&](ring::Token t, std::string_view key, std::string_view) {
        status = batch.Delete(handles_->data, encode_data_key(t, key));
        return status.ok();
      });
      QKV_RETURN_IF_ERROR(scanned);
    }
  }
  if (status.ok()) status = handles_->db->Write(write_options, &batch);
  if (!status.ok()) {
    note_write_failure(status);
    return engine_status(status, "deleting a token range", dir_);
  }
  return Status::ok();
}

Result<std::optional<std::string>> RocksDbStorage::get_hint(const NodeId& target, ring::Token token,
                                                            std::string_view key) {
  QKV_ASSERT(handles_ != nullptr);
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  rocksdb::PinnableSlice value;
  rocksdb::Status status = handles_->db->Get(rocksdb::ReadOptions(), handles_->hints,
                                             encode_hint_key(target, token, key), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return engine_status(status, "reading a hint", dir_);
  return std::optional<std::string>(value.ToString());
}

Status RocksDbStorage::put_hint(const NodeId& target, ring::Token token, std::string_view key,
                                std::string_view value) {
  QKV_ASSERT(handles_ != nullptr);
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  rocksdb::Status status =
      handles_->db->Put(write_options, handles_->hints, encode_hint_key(target, token, key), value);
  if (!status.ok()) {
    note_write_failure(status);
    return engine_status(status, "writing a hint for " + target, dir_);
  }
  return Status::ok();
}

Status RocksDbStorage::delete_hint(const NodeId& target, ring::Token token, std::string_view key) {
  QKV_ASSERT(handles_ != nullptr);
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  rocksdb::Status status =
      handles_->db->Delete(write_options, handles_->hints, encode_hint_key(target, token, key));
  if (!status.ok()) {
    note_write_failure(status);
    return engine_status(status, "deleting a hint for " + target, dir_);
  }
  return Status::ok();
}

Status RocksDbStorage::scan_hints(const HintVisitor& visit) {
  QKV_ASSERT(handles_ != nullptr);
  rocksdb::ReadOptions read_options;  // the iterator reads an implicit snapshot
  read_options.fill_cache = false;    // replay reads each hint once
  std::unique_ptr<rocksdb::Iterator> it(handles_->db->NewIterator(read_options, handles_->hints));
  NodeId target;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto decoded = decode_hint_key(view(it->key()));
    if (!decoded.is_ok()) {
      return Status::corruption("scanning hints in " + dir_ + ": " + decoded.status().message());
    }
    target.assign(decoded->target);
    if (!visit(target, decoded->token, decoded->key, view(it->value()))) return Status::ok();
  }
  if (!it->status().ok()) return engine_status(it->status(), "scanning hints", dir_);
  return Status::ok();
}

Result<std::optional<std::string>> RocksDbStorage::get_meta(std::string_view name) {
  QKV_ASSERT(handles_ != nullptr);
  rocksdb::PinnableSlice value;
  rocksdb::Status status = handles_->db->Get(rocksdb::ReadOptions(), handles_->meta, name, &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return engine_status(status, "reading metadata", dir_);
  return std::optional<std::string>(value.ToString());
}

Status RocksDbStorage::put_meta(std::string_view name, std::string_view value) {
  QKV_ASSERT(handles_ != nullptr);
  rocksdb::WriteOptions write_options;
  write_options.sync = true;  // metadata guards dot uniqueness (the incarnation)
  rocksdb::Status status = handles_->db->Put(write_options, handles_->meta, name, value);
  if (!status.ok()) {
    note_write_failure(status);
    return engine_status(status, "writing metadata \"" + std::string(name) + "\"", dir_);
  }
  return Status::ok();
}

namespace {

// A checkpoint's target must be new: RocksDB refuses an existing one with a vaguer message.
Status check_new_dir(const std::string& dir) {
  std::error_code ec;
  const auto type = std::filesystem::symlink_status(dir, ec).type();
  if (type == std::filesystem::file_type::none) {
    return Status::io_error("cannot check snapshot directory " + dir + ": " + ec.message());
  }
  if (type != std::filesystem::file_type::not_found) {
    return Status::invalid_argument("snapshot directory " + dir +
                                    " exists already; a snapshot goes into a new directory");
  }
  const std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    return Status::io_error("cannot create the parent of snapshot directory " + dir + ": " +
                            ec.message());
  }
  return Status::ok();
}

// Sets `meta` in the closed store in dir (a new checkpoint), with no block cache.
Status set_meta_in(const std::string& dir, RocksDbOptions options, const MetaEntries& meta) {
  if (meta.empty()) return Status::ok();
  options.block_cache_bytes = 0;
  auto copy = RocksDbStorage::open(dir, options);
  if (!copy) return copy.status();
  for (const auto& [name, value] : meta) QKV_RETURN_IF_ERROR(copy.value()->put_meta(name, value));
  return copy.value()->close();
}

}  // namespace

Status RocksDbStorage::checkpoint(const std::string& dir, const MetaEntries& meta) {
  QKV_ASSERT(handles_ != nullptr);
  QKV_RETURN_IF_ERROR(check_new_dir(dir));
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status status = rocksdb::Checkpoint::Create(handles_->db.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: always flush first, so the snapshot's tables hold every write
  // that returned, including those whose WAL records were not yet synced.
  if (status.ok()) status = checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0);
  // On failure RocksDB removes its temporary directory itself; dir appears only at the end.
  if (!status.ok()) return engine_status(status, "making snapshot " + dir + " of the store", dir_);
  Status marked = set_meta_in(dir, options_, meta);
  if (!marked.is_ok()) {
    std::error_code ignored;  // an unmarked snapshot must not pass for a marked one
    std::filesystem::remove_all(dir, ignored);
  }
  return marked;
}

Status RocksDbStorage::flush() {
  QKV_ASSERT(handles_ != nullptr);
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  rocksdb::Status status = handles_->db->Flush(
      flush_options, {handles_->default_family, handles_->data, handles_->meta, handles_->hints});
  if (!status.ok()) return engine_status(status, "flushing memtables", dir_);
  return Status::ok();
}

}  // namespace qkv::storage
