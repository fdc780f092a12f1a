// Snapshots of a node's storage for backups (qkvctl snapshot; issue 19): where one may go,
// and taking one.
//
// A client names the directory, so the node must not write wherever it is told: a snapshot
// goes only into a new directory strictly inside the node's [storage] snapshot_dir. The
// snapshot is Storage::checkpoint (every column family at one moment: data, hints and the
// metadata, so the saved ring too) with the restore marker (node/incarnation.h
// snapshot_marker) set in the copy, so a node started from it takes a new incarnation. The
// anti-entropy trees are not in it: they are saved only at a clean stop and loaded only
// after one, and a start from a snapshot never is one, so the restored node rebuilds them
// by a scan of its data (docs/architecture.md, Anti-entropy).
//
// Runs on the node's thread and blocks it for the checkpoint (RocksDB: a memtable flush and
// hard links; milliseconds to a second) and the directory walk that counts the files.
#pragma once

#include <cstdint>
#include <string>

#include "common/node_id.h"
#include "common/status.h"
#include "node/node_config.h"
#include "node/storage/storage.h"
#include "proto/client_api.h"

namespace qkv::node {

// The directory a snapshot request may write: `requested` if it is absolute and lies
// strictly inside `root` (after resolving "..", and symbolic links in the parts that
// exist); else, when `requested` is empty, root/<node id>-<unix_ms>. Errors:
// unavailable when `root` is empty (snapshots off); invalid_argument naming the path when
// it is relative, outside root, or exists already.
Result<std::string> snapshot_path(const std::string& root, const std::string& requested,
                                  const NodeId& node, int64_t unix_ms);

// Takes the snapshot into `path` (from snapshot_path) and measures it. Errors: those of
// Storage::checkpoint, each naming the path.
// Before a restore (qkvd --restore-from): ok if the snapshot in `store` was taken less than
// the tombstone grace before `unix_ms` (or reaping is off, or `older_than_grace`: every node
// of the cluster restored from snapshots of one moment). Else invalid_argument naming both
// ages: deletes made since may have been reaped on every other replica (node/reaper.h),
// and the snapshot's values for them would come back. A snapshot without a time counts as
// older. Errors: storage errors, a corrupt time.
Status check_restore_age(storage::Storage& store, const TombstoneConfig& tombstones,
                         int64_t unix_ms, bool older_than_grace);

// `unix_ms`: the node's wall clock now (recorded in the snapshot, node/incarnation.h).
Result<proto::SnapshotResponse> take_snapshot(storage::Storage& storage, const std::string& path,
                                              int64_t unix_ms);

}  // namespace qkv::node
