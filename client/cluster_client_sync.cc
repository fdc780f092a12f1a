// ClusterClient: an AsyncClusterClient on a thread of its own, behind blocking calls.
#include <fmt/format.h>

#include <future>
#include <thread>
#include <utility>

#include "client/cluster_client.h"

namespace qkv::client {

namespace asio = boost::asio;

class ClusterClient::Runner {
 public:
  explicit Runner(ClusterOptions options)
      : work_(asio::make_work_guard(io_)),
        async_(std::make_unique<AsyncClusterClient>(io_, std::move(options))),
        thread_([this] { io_.run(); }) {}

  // Runs f() on the client's thread and answers its result.
  template <typename F>
  auto run(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  // Issues a request on the client's thread with a callback, and waits for that callback.
  template <typename T, typename Issue>
  T wait(Issue issue) {
    // Shared: the callback may still be inside set_value when this thread wakes and returns.
    auto answer = std::make_shared<std::promise<T>>();
    auto result = answer->get_future();
    asio::post(io_, [&issue, this, answer] {
      issue(*async_, [answer](T value) { answer->set_value(std::move(value)); });
    });
    return result.get();
  }

  // The topology's readiness, as a future that stays valid past a timed-out wait.
  std::shared_future<void> topology() {
    auto ready = std::make_shared<std::promise<void>>();
    std::shared_future<void> future = ready->get_future().share();
    asio::post(io_, [this, ready] {
      if (!async_) return ready->set_value();
      async_->when_topology([ready] { ready->set_value(); });
    });
    return future;
  }

  AsyncClusterClient& async() { return *async_; }

  ~Runner() {
    // The async client completes what is pending on its own thread, then the thread ends.
    run([this] {
      async_.reset();
      return 0;
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<AsyncClusterClient> async_;
  std::thread thread_;
};

ClusterClient::ClusterClient(ClusterOptions options)
    : runner_(std::make_unique<Runner>(std::move(options))) {}

ClusterClient::~ClusterClient() = default;

Result<GetResult> ClusterClient::get(std::string_view key, ReadOptions options) {
  return runner_->wait<Result<GetResult>>(
      [&](AsyncClusterClient& c, auto done) { c.get(key, options, std::move(done)); });
}

Result<WriteResult> ClusterClient::put(std::string_view key, std::string_view value,
                                       std::string_view context, WriteOptions options) {
  return runner_->wait<Result<WriteResult>>([&](AsyncClusterClient& c, auto done) {
    c.put(key, value, context, options, std::move(done));
  });
}

Result<WriteResult> ClusterClient::del(std::string_view key, std::string_view context,
                                       WriteOptions options) {
  return runner_->wait<Result<WriteResult>>(
      [&](AsyncClusterClient& c, auto done) { c.del(key, context, options, std::move(done)); });
}

std::vector<Result<GetResult>> ClusterClient::get_many(std::vector<std::string> keys,
                                                       ReadOptions options) {
  return runner_->wait<std::vector<Result<GetResult>>>([&](AsyncClusterClient& c, auto done) {
    c.get_many(std::move(keys), options, std::move(done));
  });
}

std::vector<Result<WriteResult>> ClusterClient::put_many(std::vector<PutItem> items,
                                                         WriteOptions options) {
  return runner_->wait<std::vector<Result<WriteResult>>>([&](AsyncClusterClient& c, auto done) {
    c.put_many(std::move(items), options, std::move(done));
  });
}

Status ClusterClient::await_topology(uint32_t timeout_ms) {
  if (runner_->topology().wait_for(std::chrono::milliseconds(timeout_ms)) ==
      std::future_status::ready) {
    return Status::ok();
  }
  return Status::timeout(
      fmt::format("the ring and members were not fetched within {} ms", timeout_ms));
}

ClusterStats ClusterClient::stats() {
  return runner_->run([this] { return runner_->async().stats(); });
}

}  // namespace qkv::client
