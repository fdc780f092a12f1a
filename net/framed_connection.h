// FramedConnection: one TCP connection carrying Cap'n Proto stream-framed messages
// (proto/framing.h), both directions. Encoding is the caller's business: frames go out as
// kj::Array<capnp::word> (a whole framed message, e.g. from capnp::messageToFlatArray) and
// come in as kj::ArrayPtr<const capnp::word> views of the read buffer.
//
// Writes are coalesced (design.md §7): while one async_write is in flight, further frames
// queue, and the next async_write sends every queued frame in one gather write (a vector of
// const_buffer, which Asio issues as writev calls). On loopback this is what made ~500 k
// request/response pairs/s possible, against ~70 k with one frame per syscall.
//
// Reads are large (read_chunk_bytes of free space per read), and every whole frame in the
// buffer is delivered before the next read.
//
// Lifetime: create() returns a shared_ptr; pending asynchronous operations hold a reference,
// so the connection lives until it is closed and those operations have completed. Handlers
// are released when the connection closes, so a handler may capture the connection's own
// shared_ptr without leaking it.
//
// Thread-safety: none. Everything (calls and handlers) runs on the one io_context thread
// that runs the socket's executor; no locks are taken or needed. To serve the socket on
// another thread than its user's, see ThreadedConnection (net/io_threads.h).
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/asio.h"
#include "common/status.h"
#include "net/connection.h"
#include "net/tls.h"
#include "net/transport_options.h"
#include "proto/framing.h"

namespace qkv::net {

namespace asio = boost::asio;

// The handlers' contracts are Connection's (net/connection.h).
class FramedConnection final : public Connection,
                               public std::enable_shared_from_this<FramedConnection> {
 public:
  struct Stats {
    uint64_t frames_sent = 0;      // frames whose bytes were handed to the kernel
    uint64_t frames_received = 0;  // frames delivered to the frame handler
    uint64_t write_calls = 0;      // async_write operations; each is one gather write
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
  };

  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

  // `socket` must be connected; TCP_NODELAY is turned on. Nothing is read until start().
  static std::shared_ptr<FramedConnection> create(asio::ip::tcp::socket socket,
                                                  const TransportOptions& options);
  // The same over TLS: `stream` has completed its handshake; `context` is the one it was
  // made with (kept alive while the connection lives). Frames queued together leave as
  // one buffer, so a gather of small frames is encrypted into few records.
  static std::shared_ptr<FramedConnection> create(TlsStream stream,
                                                  std::shared_ptr<asio::ssl::context> context,
                                                  const TransportOptions& options);

  FramedConnection(const FramedConnection&) = delete;
  FramedConnection& operator=(const FramedConnection&) = delete;

  // Set handlers before start(). Unset handlers ignore their event.
  void set_on_frame(FrameHandler handler) override { on_frame_ = std::move(handler); }
  void set_on_error(ErrorHandler handler) override { on_error_ = std::move(handler); }
  void set_on_close(CloseHandler handler) override { on_close_ = std::move(handler); }

  // Whether a frame error closes the connection (close_after_flush) once the error handler
  // returned: true by default. false when the handler's answer comes later, from another
  // thread (ThreadedConnection), which then closes it; reading stops either way.
  void set_close_on_frame_error(bool close) { close_on_frame_error_ = close; }

  // Begins reading. Idempotent; does nothing once closed or closing.
  void start() override;
  // Backpressure: stop reading and delivering, so the kernel's receive buffer fills and the
  // peer's sends slow down; resume_reading() delivers what was read meanwhile (a read
  // outstanding at the pause, or the rest of a read paused from a frame handler), then
  // reads again. Both idempotent; pausing before start() holds the first read until
  // resumed.
  void pause_reading() override { paused_ = true; }
  void resume_reading() override;
  bool reading_paused() const override { return paused_; }

  // Queues `frame` (one whole framed message) for sending and returns ok; the bytes leave
  // asynchronously, in send order. Errors (nothing is queued):
  //   overloaded        queued + in-flight bytes plus this frame would exceed
  //                     send_queue_bytes_max (the message names it); retry later
  //   unavailable       the connection is closed or closing
  //   invalid_argument  an empty frame
  // A write error closes the connection; frames still queued are dropped.
  Status send(kj::Array<capnp::word> frame) override;

  // Closes now: frames still queued are dropped, on_close runs. Idempotent.
  void close() override;

  // Stops reading, flushes every queued frame, shuts down the sending side, drains the
  // peer's bytes for up to close_linger_ms (so the peer reads our last frames rather than
  // a reset), then closes. send() fails with unavailable from now on. Idempotent.
  void close_after_flush() override;

  bool is_closed() const override { return closed_; }
  const std::string& remote_endpoint() const override { return remote_endpoint_; }
  bool is_tls() const override { return std::holds_alternative<TlsStream>(stream_); }
  const std::vector<std::string>& peer_names() const override { return peer_names_; }
  // Bytes queued or in flight (what send_queue_bytes_max bounds).
  uint64_t queued_bytes() const override { return queued_bytes_ + in_flight_bytes_; }
  // Optional: called after every completed write (ThreadedConnection reads queued_bytes()).
  void set_on_written(std::function<void()> handler) { on_written_ = std::move(handler); }
  const Stats& stats() const { return stats_; }

 private:
  FramedConnection(std::variant<asio::ip::tcp::socket, TlsStream> stream,
                   std::shared_ptr<asio::ssl::context> tls_context,
                   const TransportOptions& options);
  asio::ip::tcp::socket& tcp();
  // TCP_USER_TIMEOUT and keepalive (TransportOptions::tcp_silence_ms_max); best effort.
  void set_silence_bound(uint32_t ms);

  void read_more();
  void on_read(const boost::system::error_code& ec, std::size_t bytes);
  void deliver_frames();
  void write_queued();
  void on_written(const boost::system::error_code& ec);
  void finish_flush();
  void release_handlers();

  std::variant<asio::ip::tcp::socket, TlsStream> stream_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // over TLS: what stream_ was made with
  std::vector<std::string> peer_names_;
  asio::steady_timer linger_timer_;
  TransportOptions options_;
  std::string remote_endpoint_;
  proto::FrameReader reader_;

  FrameHandler on_frame_;
  ErrorHandler on_error_;
  CloseHandler on_close_;
  std::function<void()> on_written_;

  // Frames waiting for the next write, and the frames (with their buffers) of the write in
  // flight: they must stay alive until its completion handler runs.
  std::vector<kj::Array<capnp::word>> queued_;
  std::vector<kj::Array<capnp::word>> in_flight_;
  std::vector<asio::const_buffer> in_flight_buffers_;
  std::vector<std::byte> tls_out_;  // over TLS: in_flight_ in one buffer
  uint64_t queued_bytes_ = 0;       // in queued_
  uint64_t in_flight_bytes_ = 0;    // in in_flight_

  Stats stats_;
  bool started_ = false;
  bool reading_ = false;   // an async read is outstanding
  bool paused_ = false;    // pause_reading(): no new read until resume_reading()
  bool parsing_ = true;    // false: read bytes are discarded (after a frame error / flush)
  bool writing_ = false;   // an async write is outstanding
  bool flushing_ = false;  // close_after_flush() was called
  bool peer_eof_ = false;  // the peer shut down its sending side
  bool closed_ = false;
  bool dispatching_ = false;  // inside a frame or error handler: release handlers later
  bool close_on_frame_error_ = true;
};

}  // namespace qkv::net
