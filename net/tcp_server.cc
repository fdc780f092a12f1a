#include "net/tcp_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace qkv::net {
namespace {

// Pause before accepting again after an error that would otherwise repeat at once
// (EMFILE, ENFILE, ENOBUFS).
constexpr std::chrono::milliseconds kAcceptRetryDelay(100);

Status listen_error(const std::string& host, uint16_t port, const std::string& what) {
  return Status::io_error(fmt::format("cannot listen on {}:{}: {}", host, port, what));
}

}  // namespace

TcpServer::TcpServer(asio::io_context& io, std::string host, uint16_t port,
                     TransportOptions options, AcceptHandler on_accept)
    : io_(io),
      host_(std::move(host)),
      port_(port),
      options_(options),
      on_accept_(std::move(on_accept)),
      acceptor_(io),
      retry_timer_(io) {}

TcpServer::~TcpServer() {
  stop();
}

Result<uint16_t> open_listening(asio::io_context& io, asio::ip::tcp::acceptor& acceptor,
                                const std::string& host, uint16_t port) {
  if (acceptor.is_open()) {
    return Status::invalid_argument(fmt::format("already listening on {}:{}", host, port));
  }
  boost::system::error_code ec;
  asio::ip::tcp::endpoint endpoint;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = asio::ip::tcp::endpoint(address, port);
  } else {
    // A name: resolved once, synchronously (listen() runs at startup).
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) return listen_error(host, port, ec ? ec.message() : "no address");
    endpoint = *results.begin();
  }
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return listen_error(host, port, ec.message());
  }
  return acceptor.local_endpoint(ec).port();
}

Status TcpServer::listen() {
  auto bound = open_listening(io_, acceptor_, host_, port_);
  if (!bound) return bound.status();
  bound_port_ = *bound;
  accept_next();
  return Status::ok();
}

void TcpServer::accept_next() {
  acceptor_.async_accept([this, alive = std::weak_ptr<int>(alive_), generation = generation_](
                             const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
    // Nothing to do once the server is gone or was stopped (and maybe listens anew).
    if (alive.expired() || generation != generation_) return;
    on_accepted(ec, std::move(socket));
  });
}

void TcpServer::count_tls_failure(const Status& status) {
  ++tls_failures_;
  if (on_tls_failure_) on_tls_failure_(status);
}

void TcpServer::on_accepted(const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
  if (ec) {
    // Out of descriptors or buffers: retrying at once would spin; back off briefly.
    retry_timer_.expires_after(kAcceptRetryDelay);
    retry_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_),
                             generation = generation_](const boost::system::error_code& wait_ec) {
      if (alive.expired() || generation != generation_ || wait_ec) return;
      accept_next();
    });
    return;
  }
  ++accepted_;
  if (io_threads_ && io_threads_->size() > 0) {
    IoThread::Tls tls;
    if (tls_context_) {
      tls.context = tls_context_();
      tls.handshake_timeout_ms = options_.tls_handshake_timeout_ms;
      tls.plaintext_refusal = plaintext_refusal_;
    }
    io_threads_->next().adopt(
        std::move(socket), options_, std::move(tls),
        [this, alive = std::weak_ptr<int>(alive_), generation = generation_](
            std::shared_ptr<ThreadedConnection> connection, const Status& handshake) {
          if (alive.expired() || generation != generation_) return connection->close();
          if (!handshake.is_ok()) return count_tls_failure(handshake);
          adopt(std::move(connection));
        });
  } else if (tls_context_) {
    auto context = tls_context_();
    accept_tls(std::move(socket), context, options_.tls_handshake_timeout_ms, plaintext_refusal_,
               [this, alive = std::weak_ptr<int>(alive_), generation = generation_,
                context](Result<TlsStream> stream) {
                 if (alive.expired() || generation != generation_) return;
                 if (!stream) return count_tls_failure(stream.status());
                 adopt(FramedConnection::create(std::move(stream).value(), context, options_));
               });
  } else {
    adopt(FramedConnection::create(std::move(socket), options_));
  }
  accept_next();
}

void TcpServer::adopt(std::shared_ptr<Connection> connection) {
  std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
  connections_.push_back(connection);
  if (on_accept_) on_accept_(connection);
  connection->start();
}

void TcpServer::set_tls(std::function<std::shared_ptr<asio::ssl::context>()> context,
                        std::vector<std::byte> plaintext_refusal,
                        std::function<void(const Status&)> on_failure) {
  tls_context_ = std::move(context);
  plaintext_refusal_ = std::make_shared<const std::vector<std::byte>>(std::move(plaintext_refusal));
  on_tls_failure_ = std::move(on_failure);
}

void TcpServer::stop_accepting() {
  ++generation_;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

void TcpServer::stop() {
  stop_accepting();
  // Closing runs on_close handlers, which may do anything: work on a snapshot.
  auto connections = std::move(connections_);
  connections_.clear();
  for (const auto& weak : connections) {
    if (auto connection = weak.lock()) connection->close();
  }
}

std::size_t TcpServer::connection_count() const {
  return std::count_if(connections_.begin(), connections_.end(), [](const auto& weak) {
    auto connection = weak.lock();
    return connection && !connection->is_closed();
  });
}

}  // namespace qkv::net
