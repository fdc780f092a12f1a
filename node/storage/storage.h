// Storage: the durable map (token, key) -> encoded sibling set, plus hints and node
// metadata.
//
// Layout (persisted: do not change): data keys are the 8-byte big-endian token followed
// by the key bytes (key_codec.h), so one partition — a contiguous token range — is one
// range scan, in token order. Hints — writes a fallback node keeps for a primary that was
// down (sloppy quorum and hinted handoff, Dynamo §4.6) — live apart, keyed by (target
// node, token, key) (key_codec.h; RocksDB: column family "hints"). Metadata (incarnation,
// clean-shutdown marker) lives apart too (RocksDB: column family "meta"; data in "data").
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
#include <utility>
#include <vector>

#include "common/node_id.h"
#include "common/status.h"
#include "ring/token.h"

namespace qkv::storage {

struct WriteOp {
  ring::Token token = 0;
  std::string key;
  std::string value;
  bool erase = false;  // remove (token, key) instead (a reaped tombstone); value unused
};

// Metadata entries (name, value) to set in a checkpoint once it is made: see checkpoint().
using MetaEntries = std::vector<std::pair<std::string, std::string>>;

// Called for each entry of a scan in (token, key) order; return false to stop early.
using ScanVisitor =
    std::function<bool(ring::Token token, std::string_view key, std::string_view value)>;

// Called for each hint of a scan_hints in (target, token, key) order; return false to stop
// early.
using HintVisitor = std::function<bool(const NodeId& target, ring::Token token,
                                       std::string_view key, std::string_view value)>;

class Storage {
 public:
  virtual ~Storage() = default;

  // The value stored under (token, key), or nullopt.
  virtual Result<std::optional<std::string>> get(ring::Token token, std::string_view key) = 0;
  // Applies all ops atomically (one RocksDB WriteBatch), in order: a later op on the same
  // (token, key) wins. An op with `erase` removes the entry (removing a missing one is ok). Synced
  // if the store was opened with sync_writes. Empty ops: ok.
  virtual Status write(std::span<const WriteOp> ops) = 0;
  // Visits every entry with first <= token <= last, in (token, key) order, until visit
  // returns false. The scan reads one snapshot taken at its start: writes made during it
  // are not seen. visit runs with no lock of the store held, so it may call back
  // into the store; the views it gets are valid only during that call.
  // Errors: invalid_argument if first > last; io_error/corruption from the engine (entries
  // visited before the error stay visited).
  virtual Status scan(ring::Token first, ring::Token last, const ScanVisitor& visit) = 0;
  // Removes every entry with first <= token <= last (a key range this node no longer
  // replicates after an ownership transfer). Durable like write(). Errors: invalid_argument
  // if first > last; io_error from the engine.
  virtual Status delete_range(ring::Token first, ring::Token last) = 0;

  // Hints: opaque values under (target, token, key), where target is the node the write
  // is meant for (a primary that was down), token and key those of the written key. Hints
  // are a separate keyspace: they never appear in get() or scan(), nor data in hint calls.
  // Errors (all four): invalid_argument if target is not a valid node id
  // (validate_node_id, common/node_id.h); io_error/corruption from the engine.
  //
  // The hint stored under (target, token, key), or nullopt.
  virtual Result<std::optional<std::string>> get_hint(const NodeId& target, ring::Token token,
                                                      std::string_view key) = 0;
  // Stores (replaces) a hint. Durable like write(): synced if opened with sync_writes.
  virtual Status put_hint(const NodeId& target, ring::Token token, std::string_view key,
                          std::string_view value) = 0;
  // Removes a hint; removing a missing one is ok. Synced like put_hint.
  virtual Status delete_hint(const NodeId& target, ring::Token token, std::string_view key) = 0;
  // Visits every hint in (target, token, key) order — targets in bytewise order — until
  // visit returns false. Snapshot and re-entrancy as for scan(): visit may call back into
  // the store (e.g. delete_hint), and its views are valid only during that call.
  virtual Status scan_hints(const HintVisitor& visit) = 0;

  // Node metadata by name. put_meta is always synced (it guards dot uniqueness).
  virtual Result<std::optional<std::string>> get_meta(std::string_view name) = 0;
  virtual Status put_meta(std::string_view name, std::string_view value) = 0;

  // Checkpoint (backup): makes a consistent snapshot of the whole store — data, hints and
  // metadata, every write that returned before the call — in the new directory `dir`
  // (parents created), then sets `meta` in the snapshot's metadata, never in this store
  // (the node marks its snapshots so that a start from one takes a new incarnation:
  // node/incarnation.h). A store of the same kind opens the snapshot as its data directory
  // (RocksDbStorage::open, MemoryStorage::open_checkpoint). Writes may go on meanwhile; the
  // snapshot holds each of them entirely or not at all. Blocks for the time the engine
  // needs (RocksDB: a memtable flush, then hard links, or copies across file systems).
  // Errors, each naming the path: invalid_argument if `dir` exists already (nothing is
  // changed); io_error if it cannot be made (no permission, full disk; a partial snapshot
  // is removed).
  virtual Status checkpoint(const std::string& dir, const MetaEntries& meta) = 0;

  // The engine's own figures for GET /metrics (node/metrics.h), as (name, value) pairs in
  // the units their names say; none by default (the in-memory store).
  virtual std::vector<std::pair<std::string, uint64_t>> engine_figures() const { return {}; }
};

}  // namespace qkv::storage
