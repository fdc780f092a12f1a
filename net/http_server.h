// HttpServer: a small HTTP/1.1 server (Boost.Beast) for qkvd's HTTP port: metrics, health
// probes, the console and its JSON API (node/http_api.h), and the key-value API
// (node/http_kv.h). It answers requests one at a time per connection, with keep-alive. The
// handler runs on the io_context's thread, so it may read the node's state directly; it is
// either synchronous (an answer at once) or asynchronous (it gets a Respond to call later,
// once: a quorum round's answer).
//
// Bad input loses nothing and is answered: a request head over header_bytes_max gets 431,
// a body over its limit 413 (body_bytes_max, or the body_limits rule of its path), a
// malformed request 400 (each naming the limit or the parse error), then the connection
// closes. An idle connection closes after idle_timeout_ms; a request waiting for its
// asynchronous answer is not idle (its own deadline bounds it). Past connections_max, new
// connections are closed at once.
//
// Thread-safety: none. Construct, call and destroy on the io_context's one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/asio.h"
#include "common/status.h"
#include "net/http_types.h"
#include "net/tls.h"

namespace qkv::net {

namespace asio = boost::asio;

// A body limit for the requests whose target starts with `target_prefix` (the first rule
// that matches applies; others get body_bytes_max).
struct HttpBodyLimit {
  std::string target_prefix;       // e.g. "/v1/kv/"
  std::size_t body_bytes_max = 0;  // request body
  // The 413 answer to a body over it (e.g. naming value_bytes_max); the connection closes.
  std::function<HttpResponse()> refusal;
};

struct HttpOptions {
  std::size_t header_bytes_max = 8 * 1024;    // request line and headers
  std::size_t body_bytes_max = 64 * 1024;     // request body
  std::vector<HttpBodyLimit> body_limits;     // per-path exceptions to body_bytes_max
  uint32_t idle_timeout_ms = 30'000;          // a connection with no request in that long closes
  std::size_t connections_max = 256;          // open connections; more are closed at once
  uint32_t tls_handshake_timeout_ms = 5'000;  // with set_tls: a handshake longer than this fails
};

class HttpServer {
 public:
  class Session;  // one connection (http_server.cc)

  // Called for every well-formed GET, HEAD or POST request (others get 405); its answer is
  // written as is (a HEAD request's body is dropped, its Content-Length kept).
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // Writes the answer to a request. Call it exactly once, on the io_context's thread, now or
  // later; the connection reads no further request until then. Calling it after the
  // connection closed (or the server stopped) drops the answer safely. It keeps the
  // connection's resources alive while it exists.
  using Respond = std::function<void(HttpResponse)>;
  // Called for every well-formed request, whatever its method.
  using AsyncHandler = std::function<void(HttpRequest, Respond)>;
  // Internal (http_server.cc): what sessions call back into, shared with them since a
  // session may outlive the server by a few completion handlers; ~HttpServer empties it.
  struct Hooks {
    AsyncHandler handler;
    std::function<void(uint64_t)> on_close;
    uint64_t next_connection = 1;
  };

  // `host` is an IP address or a name resolved by listen(); `port` 0 asks the kernel for a
  // free one (see port()). Nothing happens until listen().
  HttpServer(asio::io_context& io, std::string host, uint16_t port, HttpOptions options,
             Handler handler);
  HttpServer(asio::io_context& io, std::string host, uint16_t port, HttpOptions options,
             AsyncHandler handler);
  ~HttpServer();  // stop(), without calling the on_close callback

  // Called once when a connection closes, with the HttpRequest::connection of its requests
  // (so per-connection state kept by the handler can be dropped).
  void set_on_close(std::function<void(uint64_t connection)> on_close);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (SO_REUSEADDR) and accepts until stop(). Errors: io_error naming host:port.
  Status listen();
  // TLS on every connection accepted from now on (net/tls.h accept_tls), with the context
  // `context` returns at accept time (so a rotated certificate applies to new
  // connections). A plaintext client is answered 400 "this port speaks TLS only" and
  // closed. Failed handshakes go to `on_failure` and are counted.
  void set_tls(std::function<std::shared_ptr<asio::ssl::context>()> context,
               std::function<void(const Status&)> on_failure);
  uint64_t tls_handshake_failures() const { return tls_failures_; }

  // The bound port; 0 before listen().
  uint16_t port() const { return bound_port_; }
  // Closes the acceptor and every open connection. Idempotent.
  void stop();

  std::size_t connection_count() const;

  // Splits a request target into its path and decoded query (`%XX` and `+`); exposed for
  // tests.
  static std::pair<std::string, std::map<std::string, std::string>> parse_target(
      const std::string& target);

 private:
  void accept_next();
  void adopt(std::shared_ptr<Session> session);
  void start_tls_session(asio::ip::tcp::socket socket);

  asio::io_context& io_;
  std::string host_;
  uint16_t port_;
  HttpOptions options_;
  std::shared_ptr<Hooks> hooks_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;  // after an accept error such as EMFILE
  uint16_t bound_port_ = 0;
  std::vector<std::weak_ptr<Session>> sessions_;
  std::function<std::shared_ptr<asio::ssl::context>()> tls_context_;  // null: plain TCP
  std::function<void(const Status&)> on_tls_failure_;
  uint64_t tls_failures_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace qkv::net
