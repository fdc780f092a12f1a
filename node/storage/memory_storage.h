// MemoryStorage: the Storage contract in memory, for unit tests and the deterministic
// simulation. Nothing is persisted; every call succeeds except scan with first > last and
// hint calls with an invalid target.
//
// Entries are kept under their encoded data key and hints under their encoded hint key
// (key_codec.h), so iteration order is exactly RocksDB's bytewise order: (token, key) and
// (target, token, key).
//
// Checkpoints are one file, dir/MEMORY_STORE (a test format, not persisted: length-prefixed
// records), which open_checkpoint reads back; copy() is the same snapshot in memory.
//
// Thread-safety: every method may be called from several threads at once (one mutex).
// scan and scan_hints copy their range under the mutex, then visit the copy with the mutex
// released: a snapshot that costs memory proportional to the range.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "node/storage/storage.h"

namespace qkv::storage {

class MemoryStorage final : public Storage {
 public:
  MemoryStorage() = default;
  MemoryStorage(const MemoryStorage&) = delete;
  MemoryStorage& operator=(const MemoryStorage&) = delete;

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

  Status checkpoint(const std::string& dir, const MetaEntries& meta) override;
  // The store a checkpoint() wrote into dir. Errors: io_error naming the file if it cannot
  // be read; corruption if it is not a checkpoint's.
  static Result<std::unique_ptr<MemoryStorage>> open_checkpoint(const std::string& dir);
  // A copy of everything stored, made under one lock hold (a consistent snapshot).
  std::unique_ptr<MemoryStorage> copy() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> data_;   // encoded data key -> value
  std::map<std::string, std::string, std::less<>> hints_;  // encoded hint key -> value
  std::map<std::string, std::string, std::less<>> meta_;   // name -> value
};

}  // namespace qkv::storage
