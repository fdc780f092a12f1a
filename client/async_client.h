// AsyncClient: the pipelined, asynchronous side of the client SDK, for load generators
// (bench/qkv-bench) and applications that keep many requests in flight.
//
// One AsyncClient is one TCP connection to one node's client port. Any number of requests
// may be in flight on it at once (pipelining): each gets a fresh request id and its answer
// is matched by id, whatever the order the node answers in. Outgoing frames are coalesced
// into gather writes and answers are read in large chunks (net/
// framed_connection.h), so one connection carries hundreds of thousands of requests/s.
//
// The connection opens on the first request (requests made while it connects are queued
// and sent once connected). Causal contexts work as in the blocking Client (client.h): pass
// the context a get returned to the next put/del of the key.
//
// Deadlines: each request has timeout_ms (ReadOptions/WriteOptions, or
// AsyncOptions::timeout_ms when 0), counted from the call; the node is sent
// server_timeout_ms(timeout_ms) so it answers with its own error first. A request whose
// deadline passes completes with `timeout` (its late answer, if any, is discarded).
// Deadlines are checked every deadline_check_ms, so a timeout completes up to that late.
//
// Overload: a node that answers `overloaded` refused the request before doing anything with
// it, so with retry_overloaded (the default) the request is sent again after a backoff
// (full jitter, 10 ms doubling to 250 ms) until its deadline, when it completes with that
// `overloaded` answer. Load generators that measure shedding turn it off.
//
// No failover and no other retries: this is one connection to one node. When connecting fails
// (or takes over connect_timeout_ms), or the connection breaks, every request in flight or
// queued completes with `unavailable` naming the node and the cause; for a write that was
// already sent its outcome is unknown (read the key to find out), exactly as in client.h.
// The next request reconnects.
//
// Errors delivered to callbacks (Status codes, common/status.h):
//   invalid_argument  an empty key, or key/value/context (or the whole request frame) over
//                     AsyncOptions::limits (checked locally, nothing is sent; the message
//                     names the limit), or the node's own answer.
//   unavailable       cannot connect (also: `node` is not host:port) / the connection broke
//                     / the node's own answer.
//   timeout           no answer within timeout_ms.
//   corruption        the node answered bytes that do not decode.
//   overloaded        over 64 MiB of requests wait to be sent (send_queue_bytes_max,
//                     net/transport_options.h); nothing is sent. Or the node refused the
//                     request (load shedding) until its deadline (or once, without
//                     retry_overloaded).
//   others            as answered by the node.
// Answers that cannot be read (bytes that do not decode: corruption; a frame over
// limits.frame_bytes_max: invalid_argument naming it) and an answer with request id 0 (the
// node could not read one of our requests, and closes) cannot be matched to a request: the
// connection is closed and every request pending on it completes with that error.
//
// Callbacks run on the io_context's thread, never inside the call that issued the request
// (even a locally rejected request completes from a posted handler). A callback may issue
// new requests. Every callback runs exactly once, including on close() and destruction
// (with `unavailable: the client was closed`). An empty callback is allowed (not called).
//
// Thread-safety: none. Construct, call and destroy on the thread running `io`. Run one
// io_context per thread and one or more AsyncClients per io_context for more parallelism.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/client.h"
#include "common/asio.h"
#include "common/limits.h"
#include "common/status.h"

namespace qkv::client {

struct AsyncOptions {
  std::string node;                    // "host:port" (or "[v6addr]:port") of a client port
  uint32_t timeout_ms = 5000;          // per request, from the call to its answer
  uint32_t connect_timeout_ms = 1000;  // resolve + connect
  uint32_t deadline_check_ms = 10;     // resolution of request deadlines; > 0
  Limits limits;                       // checked locally; frame_bytes_max bounds answers
  // Send a request the node refused as overloaded again, after a backoff, until its
  // deadline (keeps a copy of each request's frame while it is pending).
  bool retry_overloaded = true;
  // Set: the connection speaks TLS, as Options::tls (client.h).
  std::optional<TlsOptions> tls;
  // Set: the connection authenticates as this user before any request (pipelined ahead of
  // them). A refusal fails every request of that connection with it (unauthenticated).
  std::optional<Credentials> credentials;
};

class AsyncClient {
 public:
  using GetCallback = std::function<void(Result<GetResult>)>;
  // A write's outcome; on success, the causal context of what it wrote (client.h).
  using WriteCallback = std::function<void(Result<WriteResult>)>;

  // Does not connect yet. REQUIRES: `io` outlives this object.
  AsyncClient(boost::asio::io_context& io, AsyncOptions options);
  // Completes whatever is still pending with unavailable (the callbacks run before the
  // destructor returns) and closes the connection. Requests the callbacks issue meanwhile
  // are not sent: they complete (before it returns) with `unavailable: the client was
  // closed`, so a callback must not re-issue requests unconditionally.
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // As Client::get (client.h): options.r and options.pr (primaries required) go to the node,
  // and the GetResult names the replicas that answered.
  void get(std::string_view key, ReadOptions options, GetCallback done);
  void put(std::string_view key, std::string_view value, std::string_view context,
           WriteOptions options, WriteCallback done);
  void del(std::string_view key, std::string_view context, WriteOptions options,
           WriteCallback done);

  // Any request as is (ring, members, a get or write built by the caller): its answer
  // whatever its status, or the failure to get one. `sent` says whether the request was
  // handed to a connection, so the node may have received it: a write that failed with
  // sent == false certainly had no effect and may go to another node (client/
  // cluster_client.h). timeout_ms 0: AsyncOptions::timeout_ms. The frame is checked against
  // limits.frame_bytes_max only (build get/put/del ops after the key and value checks).
  using RawCallback = std::function<void(Result<proto::ClientResponse>, bool sent)>;
  void call(proto::ClientOp op, uint32_t timeout_ms, RawCallback done);

  // Requests issued and not yet completed (queued, in flight, or completing).
  std::size_t in_flight() const;

  // Completes every pending request with `unavailable: the client was closed` (callbacks
  // run before close() returns; a request already rejected locally completes with its own
  // error) and closes the connection; a later request (also one a callback issues)
  // reconnects.
  void close();

  const AsyncOptions& options() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared: Asio handlers hold it weakly
};

}  // namespace qkv::client
