// StorageThread: qkvd's Committer (node/committer.h) — one thread that runs the commit
// pipeline's storage writes, so the node core's thread does not wait for RocksDB's WAL
// append, memtable insert and (with sync_writes) fsync of each group commit.
//
// Thread-safety: submit, poll and wait from one thread (the node core's); `on_done` runs on
// the storage thread after each write and must only hand the news over (qkvd: a post to the
// core's io_context, which then calls Node::on_commit_done).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "node/committer.h"
#include "node/storage/storage.h"

namespace qkv::node {

class StorageThread final : public Committer {
 public:
  // `storage` outlives this.
  StorageThread(storage::Storage& storage, std::function<void()> on_done);
  // Waits for the write in flight, then stops the thread (its status is dropped: call
  // Node::commit_now first to have it).
  ~StorageThread() override;
  StorageThread(const StorageThread&) = delete;
  StorageThread& operator=(const StorageThread&) = delete;

  void submit(std::vector<storage::WriteOp> ops) override;
  std::optional<Status> poll() override;
  Status wait() override;

 private:
  void run();

  storage::Storage& storage_;
  std::function<void()> on_done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<storage::WriteOp> ops_;  // the write in flight, while `pending_`
  bool pending_ = false;               // submitted, not yet written
  std::optional<Status> done_;         // written, not yet taken
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest is built
};

}  // namespace qkv::node
