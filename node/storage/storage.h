// Storage: the durable map (token, key) -> encoded sibling set, plus node metadata.
//
// Layout (persisted: do not change): data keys are the 8-byte big-endian token followed
// by the key bytes (key_codec.h), so one partition — a contiguous token range — is one
// range scan, in token order. Metadata (incarnation, clean-shutdown marker) lives apart
// (RocksDB: column family "meta"; data in column family "data").
//
// Thread-safety: implementations are safe to call from several threads at once.
// Errors: io_error with the engine's message (full disk, permissions, ...), corruption
// for unreadable data. A failed write leaves no part of its batch applied.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "ring/token.h"

namespace qkv::storage {

struct WriteOp {
  ring::Token token = 0;
  std::string key;
  std::string value;
};

// Called for each entry of a scan in (token, key) order; return false to stop early.
using ScanVisitor =
    std::function<bool(ring::Token token, std::string_view key, std::string_view value)>;

class Storage {
 public:
  virtual ~Storage() = default;

  // The value stored under (token, key), or nullopt.
  virtual Result<std::optional<std::string>> get(ring::Token token, std::string_view key) = 0;
  // Applies all ops atomically (one RocksDB WriteBatch), in order: a later op on the same
  // (token, key) wins. Synced if the store was opened with sync_writes. Empty ops: ok.
  virtual Status write(std::span<const WriteOp> ops) = 0;
  // Visits every entry with first <= token <= last, in (token, key) order, until visit
  // returns false. The scan reads one snapshot taken at its start: writes made during it
  // are not seen. visit runs with no lock of the store held, so it may call back
  // into the store; the views it gets are valid only during that call.
  // Errors: invalid_argument if first > last; io_error/corruption from the engine (entries
  // visited before the error stay visited).
  virtual Status scan(ring::Token first, ring::Token last, const ScanVisitor& visit) = 0;

  // Node metadata by name. put_meta is always synced (it guards dot uniqueness).
  virtual Result<std::optional<std::string>> get_meta(std::string_view name) = 0;
  virtual Status put_meta(std::string_view name, std::string_view value) = 0;
};

}  // namespace qkv::storage
