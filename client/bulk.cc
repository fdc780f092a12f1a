#include "client/bulk.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace qkv::client {
namespace {

struct SharedCounts {
  std::atomic<std::size_t> done{0}, ops{0}, written{0}, unchanged{0}, ok{0}, missing{0},
      mismatches{0}, errors{0};

  BulkCounts snapshot() const {
    return BulkCounts{done.load(), ops.load(),     written.load(),    unchanged.load(),
                      ok.load(),   missing.load(), mismatches.load(), errors.load()};
  }
};

class Runner {
 public:
  Runner(const Options& client_options, const std::vector<DatasetEntry>& entries,
         const BulkOptions& options)
      : client_options_(client_options), entries_(entries), options_(options) {}

  BulkReport run() {
    auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    std::size_t threads = std::max<std::size_t>(1, options_.concurrency);
    threads = std::min(threads, std::max<std::size_t>(1, entries_.size()));
    active_ = threads;
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < threads; ++i) workers.emplace_back([this] { work(); });
    {
      std::unique_lock lock(mu_);
      auto interval =
          std::chrono::milliseconds(std::max<uint32_t>(1, options_.progress_interval_ms));
      while (!cv_.wait_for(lock, interval, [&] { return active_ == 0; })) {
        if (options_.on_progress) {
          lock.unlock();
          options_.on_progress(counts_.snapshot(), elapsed());
          lock.lock();
        }
      }
    }
    for (auto& worker : workers) worker.join();
    BulkReport report;
    report.keys = entries_.size();
    report.counts = counts_.snapshot();
    report.seconds = elapsed();
    report.failures = std::move(failures_);
    return report;
  }

 private:
  void work() {
    Client client(client_options_);
    for (;;) {
      std::size_t i = next_.fetch_add(1);
      if (i >= entries_.size()) break;
      if (options_.mode == BulkMode::kLoad) {
        load(client, entries_[i]);
      } else {
        verify(client, entries_[i]);
      }
      ++counts_.done;
    }
    std::lock_guard lock(mu_);
    if (--active_ == 0) cv_.notify_all();
  }

  void load(Client& client, const DatasetEntry& entry) {
    ++counts_.ops;
    auto got = client.get(entry.key);
    if (!got.is_ok()) return fail(counts_.errors, entry, got.status().to_string());
    if (got->values.size() == 1 && got->values[0] == entry.value) {
      ++counts_.unchanged;
      return;
    }
    ++counts_.ops;
    Status put = client.put(entry.key, entry.value, got->context).status();
    if (!put.is_ok()) return fail(counts_.errors, entry, put.to_string());
    ++counts_.written;
  }

  void verify(Client& client, const DatasetEntry& entry) {
    ++counts_.ops;
    auto got = client.get(entry.key);
    if (!got.is_ok()) return fail(counts_.errors, entry, got.status().to_string());
    if (!got->found()) return fail(counts_.missing, entry, "missing");
    if (got->values.size() > 1) {
      return fail(counts_.mismatches, entry, fmt::format("{} siblings", got->values.size()));
    }
    if (got->values[0] != entry.value) {
      return fail(counts_.mismatches, entry,
                  fmt::format("value differs: {} bytes, expected {} bytes", got->values[0].size(),
                              entry.value.size()));
    }
    ++counts_.ok;
  }

  void fail(std::atomic<std::size_t>& counter, const DatasetEntry& entry, std::string problem) {
    ++counter;
    std::lock_guard lock(mu_);
    if (failures_.size() < options_.failures_max) {
      failures_.push_back(BulkFailure{entry.key, std::move(problem)});
    }
  }

  const Options& client_options_;
  const std::vector<DatasetEntry>& entries_;
  const BulkOptions& options_;
  std::atomic<std::size_t> next_{0};
  SharedCounts counts_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t active_ = 0;             // guarded by mu_
  std::vector<BulkFailure> failures_;  // guarded by mu_
};

}  // namespace

BulkReport run_bulk(const Options& client_options, const std::vector<DatasetEntry>& entries,
                    const BulkOptions& options) {
  Runner runner(client_options, entries, options);
  return runner.run();
}

}  // namespace qkv::client
