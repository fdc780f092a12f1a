#include "node/storage_thread.h"

#include <pthread.h>

#include <utility>

#include "common/assert.h"

namespace qkv::node {

StorageThread::StorageThread(storage::Storage& storage, std::function<void()> on_done)
    : storage_(storage), on_done_(std::move(on_done)), thread_([this] { run(); }) {}

StorageThread::~StorageThread() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StorageThread::submit(std::vector<storage::WriteOp> ops) {
  {
    std::lock_guard lock(mu_);
    QKV_ASSERT(!pending_ && !done_);
    ops_ = std::move(ops);
    pending_ = true;
  }
  cv_.notify_all();
}

std::optional<Status> StorageThread::poll() {
  std::lock_guard lock(mu_);
  return std::exchange(done_, std::nullopt);
}

Status StorageThread::wait() {
  std::unique_lock lock(mu_);
  QKV_ASSERT(pending_ || done_);
  cv_.wait(lock, [this] { return done_.has_value(); });
  Status status = std::move(*done_);
  done_.reset();
  return status;
}

void StorageThread::run() {
  pthread_setname_np(pthread_self(), "qkv-storage");  // in top -H and /proc/PID/task
  std::unique_lock lock(mu_);
  for (;;) {
    // A write handed over is made before the thread stops (the node counts it committing).
    cv_.wait(lock, [this] { return pending_ || stop_; });
    if (!pending_) return;
    std::vector<storage::WriteOp> ops = std::move(ops_);
    lock.unlock();
    Status status = storage_.write(ops);
    ops.clear();
    lock.lock();
    pending_ = false;
    done_ = std::move(status);
    cv_.notify_all();
    if (on_done_) {
      lock.unlock();
      on_done_();
      lock.lock();
    }
  }
}

}  // namespace qkv::node
