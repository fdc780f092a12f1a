// TcpServer: a listening TCP socket that turns every accepted connection into a
// Connection (net/connection.h): a FramedConnection on the server's own thread, or with
// set_io_threads() a ThreadedConnection whose socket an I/O thread serves
// (net/io_threads.h). qkvd runs one for its client port and one for its peer port.
//
// Thread-safety: none. Construct, call and destroy on the io_context's one thread; the
// accept handler runs there too. No locks are taken or needed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/status.h"
#include "net/connection.h"
#include "net/framed_connection.h"
#include "net/io_threads.h"
#include "net/transport_options.h"

namespace qkv::net {

// Opens `acceptor` on host:port (an IP address, or a name resolved once), with
// SO_REUSEADDR so that a restart is not blocked by TIME_WAIT, and listens. Returns the
// bound port (the kernel's choice for port 0). Errors: io_error naming host:port and the
// OS message (e.g. "cannot listen on 127.0.0.1:7000: Address already in use");
// invalid_argument if the acceptor is open already.
Result<uint16_t> open_listening(asio::io_context& io, asio::ip::tcp::acceptor& acceptor,
                                const std::string& host, uint16_t port);

class TcpServer {
 public:
  // Receives each accepted connection before it reads anything: install its handlers here
  // (and keep the shared_ptr if replies must be sent later). When the handler returns the
  // server calls start() on the connection (start() is idempotent, so the handler may call
  // it itself). The server keeps only a weak reference.
  using AcceptHandler = std::function<void(std::shared_ptr<Connection> connection)>;

  // `host` is an IP address ("127.0.0.1", "::") or a name resolved once by listen();
  // `port` 0 asks the kernel for a free port (see port()). Nothing happens until listen().
  TcpServer(asio::io_context& io, std::string host, uint16_t port, TransportOptions options,
            AcceptHandler on_accept);
  ~TcpServer();  // stop()

  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // Binds (SO_REUSEADDR, so a restart is not blocked by TIME_WAIT), listens and starts
  // accepting until stop(). Errors: io_error naming host:port and the OS message (e.g.
  // "cannot listen on 127.0.0.1:7000: Address already in use"); invalid_argument if
  // already listening.
  Status listen();

  // The bound port (the kernel's choice when constructed with port 0); 0 before listen().
  uint16_t port() const { return bound_port_; }

  // Closes the acceptor and every live connection it accepted (their on_close handlers
  // run). Idempotent. listen() may be called again afterwards.
  void stop();

  // Closes the acceptor only: connections already accepted keep working (a graceful
  // shutdown drains them). Idempotent.
  void stop_accepting();

  // TLS: from now on every accepted socket completes a server handshake (accept_tls in
  // net/tls.h) with the context `context()` returns at that moment, before on_accept sees
  // its connection; a plaintext client is sent `plaintext_refusal` (if not empty). Failed
  // handshakes go to `on_failure` (for a log line) and are counted. Handshakes still
  // running when the server stops end by their own deadline.
  void set_tls(std::function<std::shared_ptr<asio::ssl::context>()> context,
               std::vector<std::byte> plaintext_refusal,
               std::function<void(const Status&)> on_failure);

  // From now on accepted sockets are served by `threads` (round-robin), and on_accept sees
  // ThreadedConnections. Null or empty: on this thread. `threads` outlives the server.
  void set_io_threads(IoThreads* threads) { io_threads_ = threads; }

  // Accepted connections still open.
  std::size_t connection_count() const;
  uint64_t tls_handshake_failures() const { return tls_failures_; }
  uint64_t accepted_count() const { return accepted_; }

 private:
  void accept_next();
  void on_accepted(const boost::system::error_code& ec, asio::ip::tcp::socket socket);
  // Hands a connection (plain, or after its handshake) to on_accept and starts it.
  void adopt(std::shared_ptr<Connection> connection);
  void count_tls_failure(const Status& status);

  asio::io_context& io_;
  std::string host_;
  uint16_t port_;
  TransportOptions options_;
  AcceptHandler on_accept_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;  // after an accept error such as EMFILE
  uint16_t bound_port_ = 0;
  uint64_t accepted_ = 0;
  uint64_t generation_ = 0;  // bumped by stop(): completions of older accepts are ignored
  std::vector<std::weak_ptr<Connection>> connections_;
  IoThreads* io_threads_ = nullptr;
  std::function<std::shared_ptr<asio::ssl::context>()> tls_context_;  // null: plain TCP
  std::shared_ptr<const std::vector<std::byte>> plaintext_refusal_;
  std::function<void(const Status&)> on_tls_failure_;
  uint64_t tls_failures_ = 0;
  // Completion handlers hold a weak_ptr to this token and do nothing once it is gone, so
  // the server may be destroyed while an accept is pending.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace qkv::net
