#include "client/cluster_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <utility>

#include "client/request_building.h"

namespace qkv::client {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

TimePoint now_ms() {
  return std::chrono::time_point_cast<Duration>(SteadyClock::now());
}

// A retry of the topology fetch after a failure: soon, but not in a tight loop.
constexpr uint32_t kTopologyRetryMsMax = 1000;

Status closed_status() {
  return Status::unavailable("the client was closed");
}

}  // namespace

class AsyncClusterClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  using Answer = std::function<void(Result<proto::ClientResponse>)>;

  Impl(asio::io_context& io, ClusterOptions options)
      : io_(io), options_(std::move(options)), topology_timer_(io) {
    options_.connections_per_node = std::max<uint32_t>(1, options_.connections_per_node);
    options_.read_attempts_max = std::max<uint32_t>(1, options_.read_attempts_max);
  }

  void start() { refresh_topology(0); }

  // After close(): the next call starts the refresh again (the topology is kept).
  void restart_refresh() {
    if (!refresh_armed_) refresh_topology(topology_.known() ? options_.topology_refresh_ms : 0);
  }

  // Completes every call still in progress with `unavailable: the client was closed`, closes
  // every connection and stops the topology refresh; `for_good` (the destructor): also
  // releases those waiting for a topology, and nothing starts again.
  void close(bool for_good) {
    closing_ = true;
    topology_timer_.cancel();
    refresh_armed_ = false;
    std::map<std::string, Node> nodes = std::move(nodes_);
    nodes_.clear();
    nodes.clear();  // their pending requests complete (on_result finishes their calls)
    std::map<uint64_t, std::shared_ptr<Call>> calls = std::move(calls_);
    calls_.clear();
    for (auto& [id, call] : calls) call->done(closed_status());
    if (for_good) {
      for (auto& waiter : std::exchange(topology_waiters_, {})) waiter();
      return;
    }
    closing_ = false;
  }

  const ClusterOptions& options() const { return options_; }
  asio::io_context& io() { return io_; }

  ClusterStats stats() const {
    ClusterStats out = stats_;
    for (const auto& [address, node] : nodes_) out.breaker_opens += node.breaker.opened();
    out.topology_known = topology_.known();
    return out;
  }

  // Calls `ready` once the topology is known (or the client closes).
  void when_topology(std::function<void()> ready) {
    if (topology_.known() || closing_) return ready();
    topology_waiters_.push_back(std::move(ready));
  }

  void get(std::string_view key, const ReadOptions& options, GetCallback done) {
    auto op = internal::get_op(options_.limits, key, options);
    if (!op.is_ok()) return post_result(std::move(done), Result<GetResult>(op.status()));
    std::string owned(key);
    start_call(std::move(op).value(), owned, /*read=*/true, options.timeout_ms,
               [self = shared_from_this(), key = owned,
                done = std::move(done)](Result<proto::ClientResponse> response) mutable {
                 if (!response.is_ok()) return done(response.status());
                 self->resolve(key, internal::to_get_result(std::move(response).value()),
                               std::move(done));
               });
  }

  void write(Result<proto::ClientOp> op, std::string_view key, uint32_t timeout_ms,
             WriteCallback done) {
    if (!op.is_ok()) return post_result(std::move(done), Result<WriteResult>(op.status()));
    start_call(std::move(op).value(), std::string(key), /*read=*/false, timeout_ms,
               [done = std::move(done)](Result<proto::ClientResponse> response) {
                 if (!response.is_ok()) return done(response.status());
                 done(internal::to_write_result(std::move(response).value()));
               });
  }

 private:
  struct Node {
    std::vector<std::unique_ptr<AsyncClient>> connections;
    CircuitBreaker breaker;
  };

  // A get, put or delete in progress: its route, attempts and what failed so far.
  struct Call {
    uint64_t id = 0;
    proto::ClientOp op;
    std::string key;
    bool read = false;
    SteadyClock::time_point deadline;
    uint32_t timeout_ms = 0;
    std::vector<std::string> route;
    std::size_t next = 0;   // the route's next node in this round
    uint32_t attempts = 0;  // over every round
    uint32_t attempts_in_round = 0;
    uint32_t backoff_ms = 0;
    std::vector<std::string> failures;  // "address: why", this round
    std::optional<Status> refusal;      // the last overloaded answer
    Status last_failure;                // the last attempt without an answer
    Answer done;
  };

  template <typename Callback, typename Value>
  void post_result(Callback done, Value value) {
    asio::post(io_, [done = std::move(done), value = std::move(value)]() mutable {
      done(std::move(value));
    });
  }

  // --- Routing ----------------------------------------------------------------------------

  std::vector<std::string> route_of(const std::string& key) {
    if (options_.token_aware && topology_.known()) {
      std::vector<std::string> route = topology_.route(key);
      if (!route.empty()) return route;
    }
    // The seeds (and the members once known), starting at the next one in turn.
    std::vector<std::string> all = topology_.known() ? topology_.addresses() : options_.nodes;
    if (all.empty()) all = options_.nodes;
    if (all.empty()) return all;
    std::rotate(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(turn_++ % all.size()),
                all.end());
    return all;
  }

  Node& node(const std::string& address) {
    return nodes_.try_emplace(address, Node{{}, CircuitBreaker(options_.breaker)}).first->second;
  }

  AsyncClient& connection(const std::string& address) {
    Node& n = node(address);
    AsyncClient* best = nullptr;
    for (auto& c : n.connections) {
      if (best == nullptr || c->in_flight() < best->in_flight()) best = c.get();
    }
    if (best == nullptr ||
        (best->in_flight() > 0 && n.connections.size() < options_.connections_per_node)) {
      AsyncOptions async;
      async.node = address;
      async.timeout_ms = options_.timeout_ms;
      async.connect_timeout_ms = options_.connect_timeout_ms;
      async.limits = options_.limits;
      async.retry_overloaded = false;  // the cluster client moves on to the next node
      async.tls = options_.tls;
      async.credentials = options_.credentials;
      n.connections.push_back(std::make_unique<AsyncClient>(io_, std::move(async)));
      best = n.connections.back().get();
    }
    return *best;
  }

  // --- Calls ------------------------------------------------------------------------------

  void start_call(proto::ClientOp op, std::string key, bool read, uint32_t timeout_ms,
                  Answer done) {
    ++stats_.calls;
    restart_refresh();
    auto call = std::make_shared<Call>();
    call->id = next_call_id_++;
    call->op = std::move(op);
    call->key = std::move(key);
    call->read = read;
    call->timeout_ms = timeout_ms != 0 ? timeout_ms : options_.timeout_ms;
    call->deadline = SteadyClock::now() + std::chrono::milliseconds(call->timeout_ms);
    call->route = route_of(call->key);
    call->done = std::move(done);
    if (closing_)
      return post_result(std::move(call->done), Result<proto::ClientResponse>(closed_status()));
    if (call->route.empty()) {
      return post_result(std::move(call->done),
                         Result<proto::ClientResponse>(Status::unavailable("no nodes configured")));
    }
    calls_.emplace(call->id, call);
    attempt(call);
  }

  void attempt(const std::shared_ptr<Call>& call) {
    while (call->next < call->route.size()) {
      const std::string& address = call->route[call->next++];
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(call->deadline - SteadyClock::now())
              .count();
      if (left <= 0) return give_up(call);
      Node& n = node(address);
      if (!n.breaker.allow(now_ms())) {
        ++stats_.breaker_skips;
        call->failures.push_back(fmt::format("{}: circuit breaker open", address));
        continue;
      }
      uint32_t share = static_cast<uint32_t>(left);
      if (call->read) {
        const uint32_t attempts_left =
            std::max<uint32_t>(1, options_.read_attempts_max - call->attempts);
        share = std::max<uint32_t>(1, share / attempts_left);
      }
      ++stats_.attempts;
      if (call->attempts++ > 0) ++stats_.retries;
      ++call->attempts_in_round;
      connection(address).call(call->op, share,
                               [weak = weak_from_this(), call, address](
                                   Result<proto::ClientResponse> response, bool sent) {
                                 auto self = weak.lock();
                                 if (!self) return call->done(closed_status());
                                 self->on_result(call, address, std::move(response), sent);
                               });
      return;
    }
    end_round(call);
  }

  void on_result(const std::shared_ptr<Call>& call, const std::string& address,
                 Result<proto::ClientResponse> response, bool sent) {
    if (!calls_.contains(call->id)) return;  // finished (closed) already
    if (closing_) return finish(call, closed_status());
    Node& n = node(address);
    if (response.is_ok()) {
      n.breaker.on_success();
      if (response->status.code() != StatusCode::kOverloaded) {
        return finish(call, std::move(response).value());
      }
      ++stats_.overloaded;
      call->failures.push_back(fmt::format("{}: {}", address, response->status.message()));
      call->refusal = std::move(response->status);
      return attempt(call);
    }
    Status failure = response.status();
    // Refused locally before anything was sent (the frame is over frame_bytes_max): final.
    if (!sent && failure.code() == StatusCode::kInvalidArgument) return finish(call, failure);
    if (failure.code() != StatusCode::kOverloaded) n.breaker.on_failure(now_ms());
    call->last_failure = failure;
    call->failures.push_back(fmt::format("{}: {}", address, failure.message()));
    if (sent && !call->read) return finish(call, unknown_outcome(*call, address, failure));
    if (call->read && call->attempts >= options_.read_attempts_max) return give_up(call);
    attempt(call);
  }

  static Status unknown_outcome(const Call& call, const std::string& address,
                                const Status& failure) {
    const StatusCode code =
        failure.code() == StatusCode::kTimeout ? StatusCode::kTimeout : StatusCode::kUnavailable;
    return Status(code, fmt::format("{} sent to {}: {}; not retried on another node (the write "
                                    "may have been applied, and a retry could add a duplicate "
                                    "sibling): read the key to see its outcome",
                                    proto::op_name(call.op), address, failure.message()));
  }

  // Every node of the route was tried (or skipped) in this round.
  void end_round(const std::shared_ptr<Call>& call) {
    const bool may_retry =
        call->attempts_in_round > 0 && (!call->read || call->attempts < options_.read_attempts_max);
    if (!may_retry) return give_up(call);
    call->backoff_ms = call->backoff_ms == 0
                           ? options_.backoff_min_ms
                           : std::min(call->backoff_ms * 2, options_.backoff_max_ms);
    const auto pause = std::chrono::milliseconds(
        std::uniform_int_distribution<uint32_t>(0, call->backoff_ms)(jitter_));
    if (SteadyClock::now() + pause >= call->deadline) return give_up(call);
    auto timer = std::make_shared<asio::steady_timer>(io_, pause);
    timer->async_wait([weak = weak_from_this(), call, timer](const error_code& ec) {
      auto self = weak.lock();
      if (!self || ec || !self->calls_.contains(call->id)) return;
      call->route = self->route_of(call->key);
      call->next = 0;
      call->attempts_in_round = 0;
      call->failures.clear();
      self->attempt(call);
    });
  }

  void give_up(const std::shared_ptr<Call>& call) {
    std::string failures;
    for (const auto& f : call->failures) failures += (failures.empty() ? "" : "; ") + f;
    const char* op = proto::op_name(call->op);
    if (call->refusal && call->last_failure.is_ok()) {
      return finish(call, Status::overloaded(
                              fmt::format("every node refused the {} as overloaded until its {} ms "
                                          "deadline: {}",
                                          op, call->timeout_ms, failures)));
    }
    const bool late = SteadyClock::now() >= call->deadline;
    if (call->last_failure.code() == StatusCode::kTimeout || (late && call->attempts > 0)) {
      return finish(call,
                    Status::timeout(fmt::format("no node answered the {} within {} ms ({} "
                                                "attempts): {}",
                                                op, call->timeout_ms, call->attempts, failures)));
    }
    finish(call, Status::unavailable(fmt::format("no node answered the {} ({} attempts): {}", op,
                                                 call->attempts, failures)));
  }

  void finish(const std::shared_ptr<Call>& call, Result<proto::ClientResponse> result) {
    calls_.erase(call->id);
    call->done(std::move(result));
  }

  // --- Siblings ---------------------------------------------------------------------------

  void resolve(const std::string& key, Result<GetResult> got, GetCallback done) {
    if (!got.is_ok() || !options_.resolver || got->siblings.size() < 2) {
      return done(std::move(got));
    }
    ++stats_.resolved;
    GetResult result = std::move(got).value();
    std::optional<std::string> value = options_.resolver(result.siblings);
    result.values.clear();
    if (value) result.values.push_back(*value);
    result.siblings.clear();
    if (value) result.siblings.push_back(Sibling{*value, false, 0, "", 0});
    if (!options_.write_back) return done(std::move(result));
    ++stats_.write_backs;
    auto written = [self = shared_from_this(), result,
                    done = std::move(done)](Result<WriteResult> w) mutable {
      if (w.is_ok()) {
        result.context = std::move(w->context);
      } else {
        ++self->stats_.write_back_failures;
      }
      done(std::move(result));
    };
    if (value) {
      write(internal::put_op(options_.limits, key, *value, result.context, {}), key, 0,
            std::move(written));
    } else {
      write(internal::del_op(options_.limits, key, result.context, {}), key, 0, std::move(written));
    }
  }

  // --- Topology ---------------------------------------------------------------------------

  // Fetches the ring, then the members, from the next node in turn; again every
  // topology_refresh_ms, or soon after a failure.
  void refresh_topology(uint32_t delay_ms) {
    if (closing_) return;
    refresh_armed_ = true;
    topology_timer_.expires_after(std::chrono::milliseconds(delay_ms));
    topology_timer_.async_wait([weak = weak_from_this()](const error_code& ec) {
      auto self = weak.lock();
      if (!self || ec || self->closing_) return;
      std::vector<std::string> from =
          self->topology_.known() ? self->topology_.addresses() : self->options_.nodes;
      if (from.empty()) return;
      self->fetch_topology(from[self->topology_turn_++ % from.size()]);
    });
  }

  void fetch_topology(const std::string& address) {
    const uint32_t retry_ms = std::min(kTopologyRetryMsMax, options_.topology_refresh_ms);
    raw(address, proto::RingRequest{}, [this, address, retry_ms](Result<proto::RingResponse> ring) {
      if (!ring.is_ok()) return refresh_topology(retry_ms);
      raw(address, proto::MembersRequest{},
          [this, ring = std::move(ring).value(), retry_ms](Result<proto::MembersResponse> members) {
            if (!members.is_ok()) return refresh_topology(retry_ms);
            auto topology = Topology::make(ring, *members);
            if (!topology.is_ok()) return refresh_topology(retry_ms);
            topology_ = std::move(topology).value();
            ++stats_.topology_refreshes;
            for (auto& waiter : std::exchange(topology_waiters_, {})) waiter();
            refresh_topology(options_.topology_refresh_ms);
          });
    });
  }

  // One request to `address` with a body of type T as its answer; `done` runs only while this
  // Impl lives (it captures `this`).
  template <typename Op, typename F>
  void raw(const std::string& address, Op op, F done) {
    using T = std::conditional_t<std::is_same_v<Op, proto::RingRequest>, proto::RingResponse,
                                 proto::MembersResponse>;
    connection(address).call(
        std::move(op), options_.timeout_ms,
        [weak = weak_from_this(), done = std::move(done)](Result<proto::ClientResponse> response,
                                                          bool) mutable {
          auto self = weak.lock();
          if (!self || self->closing_) return;
          if (!response.is_ok()) return done(Result<T>(response.status()));
          done(internal::take_body<T>(std::move(response).value(), "topology"));
        });
  }

  asio::io_context& io_;
  ClusterOptions options_;
  std::map<std::string, Node> nodes_;  // by client address
  std::map<uint64_t, std::shared_ptr<Call>> calls_;
  uint64_t next_call_id_ = 1;
  Topology topology_;
  asio::steady_timer topology_timer_;  // the next refresh
  bool refresh_armed_ = false;         // a refresh is scheduled or in progress
  std::vector<std::function<void()>> topology_waiters_;
  uint64_t turn_ = 0;           // round robin over the seeds without a topology
  uint64_t topology_turn_ = 0;  // the node asked for the topology next
  ClusterStats stats_;
  bool closing_ = false;
  std::minstd_rand jitter_{std::random_device{}()};
};

AsyncClusterClient::AsyncClusterClient(boost::asio::io_context& io, ClusterOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {
  impl_->start();
}

AsyncClusterClient::~AsyncClusterClient() {
  impl_->close(/*for_good=*/true);
}

void AsyncClusterClient::close() {
  impl_->close(/*for_good=*/false);
}

void AsyncClusterClient::get(std::string_view key, ReadOptions options, GetCallback done) {
  impl_->get(key, options, std::move(done));
}

void AsyncClusterClient::put(std::string_view key, std::string_view value, std::string_view context,
                             WriteOptions options, WriteCallback done) {
  impl_->write(internal::put_op(impl_->options().limits, key, value, context, options), key,
               options.timeout_ms, std::move(done));
}

void AsyncClusterClient::del(std::string_view key, std::string_view context, WriteOptions options,
                             WriteCallback done) {
  impl_->write(internal::del_op(impl_->options().limits, key, context, options), key,
               options.timeout_ms, std::move(done));
}

namespace {

// Collects n results in order and calls `done` with them once the last arrived.
template <typename T>
struct Gather {
  std::vector<Result<T>> results;
  std::size_t left;
  std::function<void(std::vector<Result<T>>)> done;

  Gather(std::size_t n, std::function<void(std::vector<Result<T>>)> d)
      : results(n, Result<T>(Status::unavailable("not done"))), left(n), done(std::move(d)) {}
  void set(std::size_t i, Result<T> r) {
    results[i] = std::move(r);
    if (--left == 0) done(std::move(results));
  }
};

}  // namespace

void AsyncClusterClient::get_many(std::vector<std::string> keys, ReadOptions options,
                                  std::function<void(std::vector<Result<GetResult>>)> done) {
  if (keys.empty()) return boost::asio::post(impl_->io(), [done = std::move(done)] { done({}); });
  auto gather = std::make_shared<Gather<GetResult>>(keys.size(), std::move(done));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    get(keys[i], options, [gather, i](Result<GetResult> r) { gather->set(i, std::move(r)); });
  }
}

void AsyncClusterClient::put_many(std::vector<PutItem> items, WriteOptions options,
                                  std::function<void(std::vector<Result<WriteResult>>)> done) {
  if (items.empty()) return boost::asio::post(impl_->io(), [done = std::move(done)] { done({}); });
  auto gather = std::make_shared<Gather<WriteResult>>(items.size(), std::move(done));
  for (std::size_t i = 0; i < items.size(); ++i) {
    put(items[i].key, items[i].value, items[i].context, options,
        [gather, i](Result<WriteResult> r) { gather->set(i, std::move(r)); });
  }
}

void AsyncClusterClient::when_topology(std::function<void()> ready) {
  impl_->when_topology(std::move(ready));
}

ClusterStats AsyncClusterClient::stats() const {
  return impl_->stats();
}

const ClusterOptions& AsyncClusterClient::options() const {
  return impl_->options();
}

}  // namespace qkv::client
