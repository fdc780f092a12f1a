// SimStorage: the storage of one simulated machine, modelling durability honestly.
//
// With sync_writes on, a write is durable when write() returns (RocksDB fsyncs its WAL).
// With it off, a write sits in the OS page cache until `writeback` has passed: a process
// crash keeps it (the kernel still has it), a machine crash loses it. Hint writes
// (put_hint, delete_hint) follow the same rule, as in RocksDbStorage. Metadata writes are
// always synced (put_meta), as RocksDbStorage does. Reads see everything written.
//
// Checkpoints stay on the simulated machine, under their directory name: a checkpoint holds
// everything written before it, unsynced writes included, durably (RocksDB flushes its
// memtables into new, synced table files before it links them), and survives crashes of
// the machine. restore() puts one back as the whole durable state: what an operator's
// restore into an emptied data directory leaves before the node starts.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "node/storage/memory_storage.h"

namespace qkv::sim {

class SimStorage final : public storage::Storage {
 public:
  SimStorage(const Clock& clock, bool sync_writes, Duration writeback)
      : clock_(clock), sync_writes_(sync_writes), writeback_(writeback) {}

  Result<std::optional<std::string>> get(ring::Token token, std::string_view key) override;
  Status write(std::span<const storage::WriteOp> ops) override;
  Status scan(ring::Token first, ring::Token last, const storage::ScanVisitor& visit) override;
  // Durable at once, and unsynced writes in the range are dropped: the pessimistic outcome
  // (a crash right after never brings the range back).
  Status delete_range(ring::Token first, ring::Token last) override;
  Result<std::optional<std::string>> get_hint(const NodeId& target, ring::Token token,
                                              std::string_view key) override;
  Status put_hint(const NodeId& target, ring::Token token, std::string_view key,
                  std::string_view value) override;
  Status delete_hint(const NodeId& target, ring::Token token, std::string_view key) override;
  Status scan_hints(const storage::HintVisitor& visit) override;
  Result<std::optional<std::string>> get_meta(std::string_view name) override;
  Status put_meta(std::string_view name, std::string_view value) override;
  Status checkpoint(const std::string& dir, const storage::MetaEntries& meta) override;

  // Replaces everything stored (unsynced writes included) with the checkpoint in dir.
  // Errors: not_found if no checkpoint was made there.
  Status restore(const std::string& dir);

  // Makes writes older than `writeback` durable (the kernel's write-back).
  void write_back(TimePoint now);
  // A machine crash: unsynced writes are gone. Returns how many were lost.
  std::size_t lose_unsynced();
  std::size_t unsynced() const { return pending_.size(); }

 private:
  enum class Kind { kData, kHintPut, kHintDelete };
  struct Pending {
    TimePoint at;
    Kind kind = Kind::kData;
    NodeId target;  // hints only
    storage::WriteOp op;
  };
  // Applies one pending write to `store`.
  static Status apply(storage::Storage& store, const Pending& pending);

  const Clock& clock_;
  bool sync_writes_;
  Duration writeback_;
  std::unique_ptr<storage::MemoryStorage> durable_ = std::make_unique<storage::MemoryStorage>();
  std::deque<Pending> pending_;                                                 // in write order
  std::map<std::string, std::unique_ptr<storage::MemoryStorage>> checkpoints_;  // by dir
};

}  // namespace qkv::sim
