#include "net/framed_connection.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>

namespace qkv::net {
namespace {

std::string endpoint_string(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "(unknown peer)";
  if (endpoint.address().is_v6()) {
    return fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port());
  }
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

uint64_t frame_bytes(const kj::Array<capnp::word>& frame) {
  return uint64_t{frame.size()} * sizeof(capnp::word);
}

}  // namespace

std::shared_ptr<FramedConnection> FramedConnection::create(asio::ip::tcp::socket socket,
                                                           const TransportOptions& options) {
  // The constructor is private (instances live only in shared_ptrs); make_shared cannot
  // reach it.
  return std::shared_ptr<FramedConnection>(
      new FramedConnection(std::move(socket), nullptr, options));
}

std::shared_ptr<FramedConnection> FramedConnection::create(
    TlsStream stream, std::shared_ptr<asio::ssl::context> context,
    const TransportOptions& options) {
  return std::shared_ptr<FramedConnection>(
      new FramedConnection(std::move(stream), std::move(context), options));
}

FramedConnection::FramedConnection(std::variant<asio::ip::tcp::socket, TlsStream> stream,
                                   std::shared_ptr<asio::ssl::context> tls_context,
                                   const TransportOptions& options)
    : stream_(std::move(stream)),
      tls_context_(std::move(tls_context)),
      linger_timer_(tcp().get_executor()),
      options_(options),
      remote_endpoint_(endpoint_string(tcp())),
      reader_(options.frame_bytes_max) {
  // Small request/response frames must not wait for Nagle's algorithm; batching is ours.
  boost::system::error_code ignored;
  tcp().set_option(asio::ip::tcp::no_delay(true), ignored);
  if (options.tcp_silence_ms_max > 0) set_silence_bound(options.tcp_silence_ms_max);
  if (auto* tls = std::get_if<TlsStream>(&stream_)) {
    peer_names_ = certificate_names(SSL_get0_peer_certificate(tls->native_handle()));
  }
}

asio::ip::tcp::socket& FramedConnection::tcp() {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) return tls->next_layer();
  return std::get<asio::ip::tcp::socket>(stream_);
}

void FramedConnection::set_silence_bound(uint32_t ms) {
  // Linux: TCP_USER_TIMEOUT bounds how long sent data may stay unacknowledged (RFC 5482),
  // and with keepalive it also bounds the probing of an idle connection.
  const int fd = tcp().native_handle();
  const int user_timeout = static_cast<int>(ms);
  const int idle_s = std::max(1, static_cast<int>(ms / 3000));
  const int interval_s = 1;
  const int on = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
  (void)::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
}

void FramedConnection::start() {
  if (started_ || closed_ || flushing_) return;
  started_ = true;
  if (!paused_) read_more();
}

void FramedConnection::resume_reading() {
  if (!paused_) return;
  paused_ = false;
  // Frames read while paused wait in the buffer; a handler running now (resumed from
  // within one) goes on delivering them itself.
  if (!dispatching_) deliver_frames();
  if (started_ && !reading_ && !closed_ && !paused_) read_more();
}

void FramedConnection::read_more() {
  std::span<std::byte> space = reader_.prepare(options_.read_chunk_bytes);
  reading_ = true;
  auto on_read = [self = shared_from_this()](const boost::system::error_code& ec,
                                             std::size_t bytes) { self->on_read(ec, bytes); };
  std::visit(
      [&](auto& stream) {
        stream.async_read_some(asio::buffer(space.data(), space.size()), std::move(on_read));
      },
      stream_);
}

void FramedConnection::on_read(const boost::system::error_code& ec, std::size_t bytes) {
  reading_ = false;
  if (closed_) return;
  if (ec == asio::error::eof) {
    // The peer will send nothing more; it may still read, so flush what is queued first.
    peer_eof_ = true;
    if (flushing_ && !writing_) {
      close();  // already flushed and lingering: the drain is over
    } else {
      close_after_flush();
    }
    return;
  }
  if (ec) {
    close();  // reset, or another I/O error: nothing can be delivered any more
    return;
  }
  stats_.bytes_received += bytes;
  if (parsing_) {
    reader_.commit(bytes);
    if (!paused_) deliver_frames();  // else they wait for resume_reading()
  }  // else: draining before a graceful close; the bytes are discarded
  if (!closed_ && !paused_) read_more();
}

void FramedConnection::deliver_frames() {
  dispatching_ = true;
  while (parsing_ && !closed_ && !paused_) {
    auto next = reader_.next();
    if (!next.is_ok()) {
      parsing_ = false;  // the stream cannot be resynchronized
      if (on_error_) on_error_(next.status());
      if (close_on_frame_error_) close_after_flush();
      break;
    }
    if (!next->has_value()) break;  // a partial frame: read more
    ++stats_.frames_received;
    if (on_frame_) on_frame_(**next);
  }
  dispatching_ = false;
  if (closed_) release_handlers();
}

Status FramedConnection::send(kj::Array<capnp::word> frame) {
  if (closed_ || flushing_) {
    return Status::unavailable(fmt::format("connection to {} is closed", remote_endpoint_));
  }
  if (frame.size() == 0) return Status::invalid_argument("cannot send an empty frame");
  uint64_t bytes = frame_bytes(frame);
  uint64_t held = queued_bytes_ + in_flight_bytes_;
  if (held + bytes > options_.send_queue_bytes_max) {
    return Status::overloaded(fmt::format(
        "send queue to {} holds {} bytes; a {}-byte frame would exceed send_queue_bytes_max {}",
        remote_endpoint_, held, bytes, options_.send_queue_bytes_max));
  }
  queued_bytes_ += bytes;
  queued_.push_back(std::move(frame));
  if (!writing_) write_queued();
  return Status::ok();
}

void FramedConnection::write_queued() {
  // Coalescing: every frame queued while the previous write was in flight leaves in one
  // gather write.
  in_flight_.swap(queued_);
  queued_.clear();
  in_flight_bytes_ = queued_bytes_;
  queued_bytes_ = 0;
  in_flight_buffers_.clear();
  in_flight_buffers_.reserve(in_flight_.size());
  for (const auto& frame : in_flight_) {
    in_flight_buffers_.emplace_back(frame.begin(), frame_bytes(frame));
  }
  writing_ = true;
  ++stats_.write_calls;
  auto on_written = [self = shared_from_this()](const boost::system::error_code& ec,
                                                std::size_t /*bytes*/) { self->on_written(ec); };
  if (auto* tls = std::get_if<TlsStream>(&stream_)) {
    // TLS encrypts the first buffer of a gather per record: one buffer, so few records.
    tls_out_.resize(in_flight_bytes_);
    asio::buffer_copy(asio::buffer(tls_out_), in_flight_buffers_);
    asio::async_write(*tls, asio::buffer(tls_out_), std::move(on_written));
  } else if (in_flight_buffers_.size() == 1) {
    // One frame (a client's answer, mostly): a write of one buffer, since the gather below
    // copies its vector of buffers into the operation (an allocation per write).
    asio::async_write(std::get<asio::ip::tcp::socket>(stream_), in_flight_buffers_.front(),
                      std::move(on_written));
  } else {
    asio::async_write(std::get<asio::ip::tcp::socket>(stream_), in_flight_buffers_,
                      std::move(on_written));
  }
}

void FramedConnection::on_written(const boost::system::error_code& ec) {
  writing_ = false;
  if (!ec) {
    stats_.frames_sent += in_flight_.size();
    stats_.bytes_sent += in_flight_bytes_;
  }
  in_flight_.clear();
  in_flight_buffers_.clear();
  in_flight_bytes_ = 0;
  if (closed_) return;
  if (ec) {
    close();  // the peer is gone (reset, broken pipe): queued frames cannot be delivered
    return;
  }
  if (!queued_.empty()) {
    write_queued();
  } else if (flushing_) {
    finish_flush();
  }
  if (on_written_) on_written_();
}

void FramedConnection::close_after_flush() {
  if (closed_) return;
  parsing_ = false;
  if (flushing_) return;
  flushing_ = true;
  if (!writing_) finish_flush();
}

void FramedConnection::finish_flush() {
  boost::system::error_code ignored;
  tcp().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  if (!started_ || peer_eof_) {
    close();  // nothing to drain
    return;
  }
  // Keep reading (and discarding) until the peer closes or the linger deadline passes:
  // closing with unread bytes would send a reset that can destroy our last frames.
  linger_timer_.expires_after(std::chrono::milliseconds(options_.close_linger_ms));
  linger_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->close();
  });
}

void FramedConnection::close() {
  if (closed_) return;
  auto self = shared_from_this();  // on_close may drop the caller's last reference
  closed_ = true;
  parsing_ = false;
  boost::system::error_code ignored;
  tcp().close(ignored);  // pending read and write complete with operation_aborted
  linger_timer_.cancel();
  queued_.clear();
  queued_bytes_ = 0;
  CloseHandler on_close = std::move(on_close_);
  on_close_ = nullptr;
  if (!dispatching_) release_handlers();  // else deliver_frames() releases them
  if (on_close) on_close();
}

void FramedConnection::release_handlers() {
  // Handlers often capture this connection's shared_ptr: dropping them breaks the cycle.
  on_frame_ = nullptr;
  on_error_ = nullptr;
  on_written_ = nullptr;
}

}  // namespace qkv::net
