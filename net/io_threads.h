// IoThreads: threads that serve sockets — reads, writes, TLS — for an owner thread that
// runs the logic. qkvd's owner is its core thread: the node core stays on one thread (a
// coordinator's read-modify-write of a key never interleaves with another request's,
// node/node.h), while the system calls and encryption of its connections, a third of a
// node's CPU under load (docs/performance.md), run beside it. Netty's and Redis 6's I/O
// threads are the same split.
//
// A TcpServer given IoThreads (TcpServer::set_io_threads) accepts each socket onto the next
// thread, round-robin. The owner sees a ThreadedConnection: a Connection (net/connection.h)
// whose calls and handlers are all on the owner thread, while the FramedConnection that
// serves the socket lives on the I/O thread. Crossings are batched, so a crossing costs
// one wakeup per turn, not per frame:
//   - the frames an I/O thread reads in one turn, from all its connections, reach the
//     owner in one post (each frame copied once, out of the read buffer);
//   - what the owner sends in one turn reaches each I/O thread in one post.
// Order is kept per connection in both directions.
//
// Lifetime: a connection lives until it closes, as a FramedConnection does: its IoThread
// keeps its handle until then, so its handlers may hold only weak references. Handles
// never own a socket (the I/O thread does), so they may outlive their IoThread; calls on
// them then do nothing (send() answers unavailable). Destroying an IoThread closes its
// sockets and joins its thread.
//
// Thread-safety: IoThreads, IoThread and ThreadedConnection are called on the owner
// thread only (the one running the `owner` io_context); they synchronize with their
// threads by posting, never by locks.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/asio.h"
#include "common/status.h"
#include "net/connection.h"
#include "net/framed_connection.h"
#include "net/transport_options.h"

namespace qkv::net {

class ThreadedConnection;

namespace detail {
struct IoSide;  // an IoThread's state on its thread (io_threads.cc)
// What the owner asks of a connection's I/O side.
struct Command {
  enum class Kind { kStart, kSend, kPause, kResume, kClose, kCloseAfterFlush };
  uint64_t id;  // the connection, as its IoThread numbers them
  Kind kind;
  kj::Array<capnp::word> frame;  // kSend
};
// The owner's side of one IoThread, shared with its connections' handles: commands
// gathered in one owner turn, and whether the thread still runs.
struct Mailbox {
  asio::io_context& owner;
  asio::io_context* thread;  // null once the IoThread stopped
  std::vector<Command> commands;
  bool flush_posted = false;
  IoSide* io;  // passed to the I/O thread with the commands; used there only
  // Every handle not closed yet, by id: a connection lives until it closes, whoever else
  // holds its handle (as a FramedConnection lives while its operations are pending).
  std::unordered_map<uint64_t, std::shared_ptr<ThreadedConnection>> open;
  // Hands the gathered commands to the thread now (one post).
  void flush();
};
}  // namespace detail

// One I/O thread and its connections.
class IoThread {
 public:
  // Starts the thread. `owner` runs the owner thread's handlers (events are posted to it).
  explicit IoThread(asio::io_context& owner);
  // Every connection this thread serves flushes what it was sent and closes, within 2 s
  // (then the rest are closed at once); the thread is then joined. Handles are dropped:
  // their on_close does not run.
  ~IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  struct Tls {
    std::shared_ptr<asio::ssl::context> context;  // null: plain TCP
    uint32_t handshake_timeout_ms = 5000;
    std::shared_ptr<const std::vector<std::byte>> plaintext_refusal;  // server: see accept_tls
    // Client side (an outbound link): connect_tls verifying that the server's certificate
    // names `server_name` (a node id when server_is_node).
    bool client = false;
    std::string server_name;
    bool server_is_node = false;
  };
  // Owner thread: serves `socket` (connected, on the owner's context; its descriptor moves
  // to this thread's) from now on and returns its handle. The socket is first wrapped —
  // after a handshake with `tls.context` when set (accept_tls, or connect_tls for
  // tls.client; net/tls.h) — and then `on_ready` runs on the owner thread with the handle:
  // ok (its peer_names are set; call start() to read), or the handshake's error (the
  // handle is closed, its handlers never run). The handle lives at least until then.
  using ReadyHandler = std::function<void(std::shared_ptr<ThreadedConnection>, const Status&)>;
  std::shared_ptr<ThreadedConnection> adopt(asio::ip::tcp::socket socket,
                                            const TransportOptions& options, Tls tls,
                                            ReadyHandler on_ready);
  // Owner thread: hands what the owner sent so far to the thread now, instead of after the
  // owner's other queued handlers (e.g. the answers of a group commit, at once).
  void flush() { mailbox_->flush(); }

 private:
  asio::io_context& owner_;
  asio::io_context context_;
  std::shared_ptr<detail::Mailbox> mailbox_;
  std::unique_ptr<detail::IoSide> io_;  // the I/O thread's state; used there only
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  uint64_t next_id_ = 1;
  std::thread thread_;
};

// A pool of IoThreads. count 0: none (sockets stay on the owner thread).
class IoThreads {
 public:
  IoThreads(asio::io_context& owner, unsigned count);
  // The next thread, round-robin. REQUIRES: size() > 0.
  IoThread& next();
  // IoThread::flush on every thread.
  void flush();
  std::size_t size() const { return threads_.size(); }

 private:
  std::vector<std::unique_ptr<IoThread>> threads_;
  std::size_t next_ = 0;
};

// The owner thread's handle to a connection an IoThread serves (see the top of this file).
// Pauses are exact at the owner: frames that cross while paused wait here until
// resume_reading(); the I/O thread stops reading once the pause reaches it.
class ThreadedConnection final : public Connection,
                                 public std::enable_shared_from_this<ThreadedConnection> {
 public:
  ThreadedConnection(std::shared_ptr<detail::Mailbox> mailbox, uint64_t id,
                     std::string remote_endpoint, bool tls);
  const std::shared_ptr<std::atomic<uint64_t>>& queued_counter() const { return queued_; }
  ThreadedConnection(const ThreadedConnection&) = delete;
  ThreadedConnection& operator=(const ThreadedConnection&) = delete;

  void set_on_frame(FrameHandler handler) override { on_frame_ = std::move(handler); }
  void set_on_error(ErrorHandler handler) override { on_error_ = std::move(handler); }
  void set_on_close(CloseHandler handler) override { on_close_ = std::move(handler); }
  void set_on_send_failure(ErrorHandler handler) override { on_send_failure_ = std::move(handler); }
  void start() override;
  void pause_reading() override;
  void resume_reading() override;
  bool reading_paused() const override { return paused_; }
  Status send(kj::Array<capnp::word> frame) override;
  void close() override;
  void close_after_flush() override;
  bool is_closed() const override { return closed_; }
  const std::string& remote_endpoint() const override { return remote_endpoint_; }
  bool is_tls() const override { return tls_; }
  const std::vector<std::string>& peer_names() const override { return peer_names_; }
  uint64_t queued_bytes() const override { return queued_->load(std::memory_order_relaxed); }

  // Events from the I/O thread, on the owner thread (IoThread's use only).
  void set_on_ready(IoThread::ReadyHandler f) { on_ready_ = std::move(f); }
  void on_ready(std::vector<std::string> peer_names);
  void on_refused(const Status& status);  // the handshake failed: nothing to serve
  void on_frame(kj::Array<capnp::word> frame);
  void on_error(const Status& status);
  void on_send_failure(const Status& status);
  void on_closed();  // also the end of close(): on_close runs, handlers are released

 private:
  void command(detail::Command::Kind kind, kj::Array<capnp::word> frame = nullptr);
  void deliver_held();
  void release_handlers();
  // Closed: its IoThread no longer keeps it (the caller holds a reference).
  void forget() { mailbox_->open.erase(id_); }

  std::shared_ptr<detail::Mailbox> mailbox_;
  uint64_t id_;
  std::string remote_endpoint_;
  bool tls_;
  std::vector<std::string> peer_names_;
  // Written by the I/O thread (the connection's queued_bytes after each write or send
  // there), read here: the one figure the two threads share without a post.
  std::shared_ptr<std::atomic<uint64_t>> queued_ = std::make_shared<std::atomic<uint64_t>>(0);
  FrameHandler on_frame_;
  ErrorHandler on_error_;
  CloseHandler on_close_;
  ErrorHandler on_send_failure_;
  IoThread::ReadyHandler on_ready_;
  std::vector<kj::Array<capnp::word>> held_;  // frames that crossed while paused
  bool started_ = false;
  bool paused_ = false;
  bool closing_ = false;  // close_after_flush(): send() refuses; on_close when it ends
  bool closed_ = false;
  bool dispatching_ = false;  // inside a frame handler
};

}  // namespace qkv::net
