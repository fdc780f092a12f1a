// Connection: one stream of Cap'n Proto frames (proto/framing.h) with a peer, as the code
// that serves it sees it. Two kinds implement it:
//   - FramedConnection (net/framed_connection.h): the socket itself, served on the thread
//     that calls it;
//   - ThreadedConnection (net/io_threads.h): a handle, on the owner thread (qkvd's core
//     thread), to a FramedConnection whose socket an I/O thread serves.
// The contract below holds for both, so qkvd's Server and TcpServer's users do not care
// which thread reads and writes the socket.
//
// Thread-safety: none. Call and handle on one thread (the owner's).
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace qkv::net {

class Connection {
 public:
  // Called once per received frame, in order. The frame is valid only during the call.
  using FrameHandler = std::function<void(kj::ArrayPtr<const capnp::word> frame)>;
  // Called once on a frame error: invalid_argument when a frame exceeds frame_bytes_max
  // (the message names the limit), corruption for an impossible segment table. The stream
  // cannot be resynchronized, so after the handler returns the connection stops reading,
  // flushes what is queued (the handler may still send(), e.g. one error frame), then
  // closes. I/O errors and end of stream are not frame errors: they only close.
  using ErrorHandler = std::function<void(const Status& status)>;
  // Called exactly once when the connection closes, for any reason (close(), end of stream,
  // I/O error, end of a graceful close). May be called from within close().
  using CloseHandler = std::function<void()>;

  virtual ~Connection() = default;

  // Set handlers before start(). Unset handlers ignore their event.
  virtual void set_on_frame(FrameHandler handler) = 0;
  virtual void set_on_error(ErrorHandler handler) = 0;
  virtual void set_on_close(CloseHandler handler) = 0;
  // A frame send() accepted but the socket's thread later refused (send_queue_bytes_max
  // exceeded: the peer does not read its answers). Only a ThreadedConnection calls it:
  // a FramedConnection's send() returns that error itself.
  virtual void set_on_send_failure(ErrorHandler /*handler*/) {}

  // Begins reading. Idempotent; does nothing once closed or closing.
  virtual void start() = 0;
  // Backpressure: stop delivering frames (and reading), so the kernel's receive buffer
  // fills and the peer's sends slow down; frames read meanwhile wait and are delivered by
  // resume_reading(). Both idempotent; pausing before start() holds the first read.
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  virtual bool reading_paused() const = 0;

  // Queues `frame` (one whole framed message) for sending; the bytes leave asynchronously,
  // in send order. Errors (nothing is queued): overloaded past send_queue_bytes_max (the
  // message names it; a ThreadedConnection learns this later, see set_on_send_failure),
  // unavailable once closed or closing, invalid_argument for an empty frame.
  virtual Status send(kj::Array<capnp::word> frame) = 0;
  // Closes now: frames still queued are dropped, on_close runs. Idempotent.
  virtual void close() = 0;
  // Stops reading, flushes every queued frame, then closes (see FramedConnection).
  // send() fails with unavailable from now on. Idempotent.
  virtual void close_after_flush() = 0;

  virtual bool is_closed() const = 0;
  // Bytes queued or in flight (what send_queue_bytes_max bounds). A ThreadedConnection's
  // is its I/O thread's figure as of its last write or send there.
  virtual uint64_t queued_bytes() const = 0;
  // "127.0.0.1:4711" ("[::1]:4711" for IPv6), taken when the connection was created.
  virtual const std::string& remote_endpoint() const = 0;
  virtual bool is_tls() const = 0;
  // Over TLS, the names the other end's verified certificate gives it (certificate_names
  // in net/tls.h); empty when it presented none, and for plain TCP.
  virtual const std::vector<std::string>& peer_names() const = 0;
};

}  // namespace qkv::net
