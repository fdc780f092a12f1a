// Committer: the commit pipeline's storage side. With one set (Node::set_committer), a
// group commit's storage write (one Storage::write: RocksDB's WAL append and memtable
// insert, and its fsync with sync_writes) runs off the node core's thread, while the core
// goes on serving reads and staging the next group commit — as RocksDB's own pipelined
// writes and MySQL's binary-log group commit overlap a group's write with the next group's
// gathering. Without one the node writes on its own thread (qkv-sim's default, unit tests).
//
// Order and failure (node/node.h "Commit pipeline"): at most one commit is in flight; the
// next starts when the node has taken this one's status. A failed commit fails what was
// staged meanwhile too (it may be built on the failed batch's states).
//
// Thread-safety: submit, poll and wait are called from the node core's thread only; an
// implementation may write on any thread (Storage is thread-safe).
#pragma once

#include <optional>
#include <vector>

#include "common/status.h"
#include "node/storage/storage.h"

namespace qkv::node {

class Committer {
 public:
  virtual ~Committer() = default;
  // Starts writing `ops` (one Storage::write). The driver then calls Node::on_commit_done
  // on the node core's thread once the write has ended (qkvd: a post from the storage
  // thread; qkv-sim: a later event). REQUIRES: no write in flight (poll or wait returned
  // the last one's status); `ops` not empty.
  virtual void submit(std::vector<storage::WriteOp> ops) = 0;
  // The status of the write in flight if it has ended (the write is then no longer in
  // flight), else nullopt. Never blocks.
  virtual std::optional<Status> poll() = 0;
  // Blocks until the write in flight has ended and returns its status. REQUIRES: a write
  // is in flight.
  virtual Status wait() = 0;
};

}  // namespace qkv::node
