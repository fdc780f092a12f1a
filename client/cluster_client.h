// The cluster client: the SDK's client for applications. Token-aware, pooled, retrying,
// with a circuit breaker per node and sibling resolution; thread-safe (ClusterClient) or on
// the caller's io_context (AsyncClusterClient, for load generators and async servers).
//
// Routing (client/routing.h): the client fetches the ring and the members from a node of
// ClusterOptions::nodes (the seeds) at the first call and every topology_refresh_ms, and
// sends each key's request to its first primary that is up, so that node coordinates it with
// no forward hop (Cassandra's TokenAwarePolicy). The key's other primaries come next, then
// every other member (any node accepts any request). Before the topology is known, and with
// token_aware = false, requests go to the seeds in turn.
//
// Connections: up to connections_per_node pipelined connections (client/async_client.h) per
// node, opened on demand; a request takes the one with the fewest requests in flight.
//
// Deadlines and retries: timeout_ms (ReadOptions/WriteOptions::timeout_ms, or
// ClusterOptions::timeout_ms when 0) bounds the whole call: every attempt and backoff. Each
// attempt's node is sent the time left (minus a margin, server_timeout_ms). What is retried
// on the next node of the route:
//   - any request the node refused as `overloaded` (it did nothing with it);
//   - any request that was certainly not sent (connecting failed, breaker open);
//   - a get, also after a timeout or a broken connection (reads are safe to repeat), up to
//     read_attempts_max attempts; each attempt gets an equal share of the time left, so a
//     silent node leaves time for the next.
// A put or delete that was sent and got no answer is NOT retried: it may have been applied,
// and a retry with the same context would add a duplicate sibling. It fails with timeout or
// unavailable saying so (read the key to learn its outcome). When every node of the route
// failed or refused, the call waits a backoff (exponential from backoff_min_ms to
// backoff_max_ms, full jitter) and goes round again while it may.
//
// Circuit breakers (client/routing.h CircuitBreaker): failures_max consecutive attempts on a
// node without an answer open its breaker; requests then skip it for cooldown_ms, after
// which one request probes it. An error answer (e.g. quorum not met) does not count: the
// node answered.
//
// Siblings (client/resolvers.h): with a resolver, a get that finds more than one sibling
// returns the resolved value alone (no value when it resolves to a delete) and, with
// write_back, writes it back with the get's context (W = the node's default), returning the
// written context; a failed write-back is counted and the resolved value still returned with
// the read's context.
//
// Errors: as Client (client.h): invalid_argument for local limit checks (nothing sent) or
// the node's; unavailable when no node answered (the message names each node and why),
// timeout when the deadline passed; overloaded when every node refused until the deadline;
// precondition_failed for a conditional write whose condition did not hold; others as the
// node answered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/async_client.h"
#include "client/client.h"
#include "client/resolvers.h"
#include "client/routing.h"
#include "common/asio.h"
#include "common/limits.h"
#include "common/status.h"

namespace qkv::client {

struct ClusterOptions {
  std::vector<std::string> nodes;         // seeds, "host:port" (or "[v6addr]:port"); >= 1
  uint32_t timeout_ms = 5000;             // a call's deadline: every attempt and backoff
  uint32_t connect_timeout_ms = 1000;     // per connection: resolve + connect (+ TLS)
  uint32_t connections_per_node = 2;      // pipelined connections per node; >= 1
  bool token_aware = true;                // send to the key's primaries (else: seeds in turn)
  uint32_t topology_refresh_ms = 10'000;  // re-fetch the ring and the members this often
  uint32_t read_attempts_max = 3;         // nodes a get may be sent to; >= 1
  uint32_t backoff_min_ms = 10;           // after a round in which every node failed
  uint32_t backoff_max_ms = 250;
  BreakerOptions breaker;
  Resolver resolver;       // empty: gets return every sibling
  bool write_back = true;  // with a resolver: write the resolved value back
  Limits limits;           // checked locally; frame_bytes_max bounds answers
  std::optional<TlsOptions> tls;
  std::optional<Credentials> credentials;
};

// What the client did, for tests and dashboards. Monotonic counts since construction.
struct ClusterStats {
  uint64_t calls = 0;               // get/put/del calls
  uint64_t attempts = 0;            // requests sent (or tried) to a node
  uint64_t retries = 0;             // attempts after a call's first
  uint64_t overloaded = 0;          // attempts a node refused as overloaded
  uint64_t breaker_opens = 0;       // over every node
  uint64_t breaker_skips = 0;       // nodes skipped because their breaker was open
  uint64_t topology_refreshes = 0;  // topologies fetched
  uint64_t resolved = 0;            // gets whose siblings a resolver collapsed
  uint64_t write_backs = 0;         // resolved values written back
  uint64_t write_back_failures = 0;
  bool topology_known = false;
};

// One item of a multi-put.
struct PutItem {
  std::string key;
  std::string value;
  std::string context;  // empty: none
};

// On the caller's io_context: construct, call and destroy on the thread running it. Callbacks
// run on that thread, never inside the call that issued them, exactly once (with
// `unavailable: the client was closed` at destruction).
class AsyncClusterClient {
 public:
  using GetCallback = std::function<void(Result<GetResult>)>;
  using WriteCallback = std::function<void(Result<WriteResult>)>;

  // Starts fetching the topology. REQUIRES: `io` outlives this object.
  AsyncClusterClient(boost::asio::io_context& io, ClusterOptions options);
  ~AsyncClusterClient();
  AsyncClusterClient(const AsyncClusterClient&) = delete;
  AsyncClusterClient& operator=(const AsyncClusterClient&) = delete;

  void get(std::string_view key, ReadOptions options, GetCallback done);
  void put(std::string_view key, std::string_view value, std::string_view context,
           WriteOptions options, WriteCallback done);
  void del(std::string_view key, std::string_view context, WriteOptions options,
           WriteCallback done);
  // Every key's get (or put) at once, pipelined over the pools; `done` gets the results in
  // the order of the keys (items), each as its own get (put) would.
  void get_many(std::vector<std::string> keys, ReadOptions options,
                std::function<void(std::vector<Result<GetResult>>)> done);
  void put_many(std::vector<PutItem> items, WriteOptions options,
                std::function<void(std::vector<Result<WriteResult>>)> done);

  // Completes every pending call with `unavailable: the client was closed` (callbacks run
  // before it returns), closes every connection and stops the topology refresh, so that
  // io_context::run() can return; the next call reconnects and refreshes again.
  void close();

  // Calls `ready` (on the io_context's thread) once the ring and the members were fetched, at
  // once if they were; or when the client is destroyed.
  void when_topology(std::function<void()> ready);

  ClusterStats stats() const;
  const ClusterOptions& options() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared: timers and callbacks hold it weakly
};

// Thread-safe: any thread may call any method at once. Runs an AsyncClusterClient on a
// thread of its own; the blocking calls wait for their answer. The destructor completes
// what is pending with unavailable and joins the thread; do not destroy it from a callback.
class ClusterClient {
 public:
  explicit ClusterClient(ClusterOptions options);
  ~ClusterClient();
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  Result<GetResult> get(std::string_view key, ReadOptions options = {});
  Result<WriteResult> put(std::string_view key, std::string_view value,
                          std::string_view context = {}, WriteOptions options = {});
  Result<WriteResult> del(std::string_view key, std::string_view context = {},
                          WriteOptions options = {});
  std::vector<Result<GetResult>> get_many(std::vector<std::string> keys, ReadOptions options = {});
  std::vector<Result<WriteResult>> put_many(std::vector<PutItem> items, WriteOptions options = {});

  // Waits until the ring and the members were fetched (routing is token-aware from then on):
  // ok, or timeout after `timeout_ms`.
  Status await_topology(uint32_t timeout_ms);
  ClusterStats stats();

 private:
  class Runner;
  std::unique_ptr<Runner> runner_;
};

}  // namespace qkv::client
