#include "net/io_threads.h"

#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "net/tls.h"

namespace qkv::net {
namespace {

// How long a stopping IoThread lets its connections flush their last frames.
constexpr std::chrono::milliseconds kWindDownMax(2000);

}  // namespace

namespace detail {

// What a connection's I/O side tells its handle.
struct Event {
  enum class Kind { kReady, kRefused, kFrame, kError, kSendFailure, kClosed };
  uint64_t id;  // the connection's
  Kind kind;
  kj::Array<capnp::word> frame;    // kFrame
  Status status;                   // kRefused, kError, kSendFailure
  std::vector<std::string> names;  // kReady: the certificate's names
};

// An IoThread's state on its own thread. Every member is touched on that thread only.
struct IoSide {
  IoSide(asio::io_context& owner, asio::io_context& self) : owner(owner), self(self) {}
  void set_mailbox(std::weak_ptr<Mailbox> m) { mailbox = std::move(m); }

  // Queues `event` for the owner; the first one of a turn posts the crossing, which runs
  // after this turn's other handlers, so one post carries them all.
  void emit(Event event) {
    events.push_back(std::move(event));
    if (flush_posted) return;
    flush_posted = true;
    asio::post(self, [this] { flush(); });
  }
  void flush() {
    flush_posted = false;
    asio::post(owner, [mailbox = mailbox, events = std::move(events)]() mutable {
      if (auto box = mailbox.lock()) dispatch(*box, events);
    });
    events.clear();
  }
  static void dispatch(Mailbox& mailbox, std::vector<Event>& events);

  void serve(uint64_t id, std::shared_ptr<FramedConnection> connection,
             std::shared_ptr<std::atomic<uint64_t>> queued);
  void run(std::vector<Command>& commands);
  // At the IoThread's end: every connection flushes what it was given and closes
  // (close_after_flush); whatever is still open after kWindDownMax is closed at once.
  void wind_down(std::chrono::steady_clock::time_point deadline) {
    std::vector<std::shared_ptr<FramedConnection>> open;  // closing erases from connections
    for (auto& [id, served] : connections) open.push_back(served.connection);
    for (auto& connection : open) connection->close_after_flush();
    if (connections.empty() && handshaking.empty()) return;
    if (std::chrono::steady_clock::now() >= deadline) {
      auto all = std::move(connections);  // closing erases from connections
      connections.clear();
      for (auto& [id, served] : all) served.connection->close();
      self.stop();  // handshakes and lingering closes end with the context
      return;
    }
    wind_down_timer.expires_after(std::chrono::milliseconds(10));
    wind_down_timer.async_wait(
        [this, deadline](const boost::system::error_code&) { wind_down(deadline); });
  }

  asio::io_context& owner;
  asio::io_context& self;
  std::weak_ptr<Mailbox> mailbox;  // locked on the owner thread only
  struct Served {
    std::shared_ptr<FramedConnection> connection;
    std::shared_ptr<std::atomic<uint64_t>> queued;  // the handle's queued_bytes()
  };
  std::unordered_map<uint64_t, Served> connections;
  std::vector<Event> events;
  bool flush_posted = false;
  // TLS handshakes running, by connection: true once the owner closed it meanwhile (the
  // connection is then dropped when the handshake ends, whatever its outcome).
  std::unordered_map<uint64_t, bool> handshaking;
  asio::steady_timer wind_down_timer{self};
};

void IoSide::dispatch(Mailbox& mailbox, std::vector<Event>& events) {
  for (auto& event : events) {
    auto it = mailbox.open.find(event.id);
    if (it == mailbox.open.end()) continue;  // the owner closed it meanwhile
    std::shared_ptr<ThreadedConnection> handle = it->second;
    switch (event.kind) {
      case Event::Kind::kReady:
        handle->on_ready(std::move(event.names));
        break;
      case Event::Kind::kRefused:
        handle->on_refused(event.status);
        break;
      case Event::Kind::kFrame:
        handle->on_frame(std::move(event.frame));
        break;
      case Event::Kind::kError:
        handle->on_error(event.status);
        break;
      case Event::Kind::kSendFailure:
        handle->on_send_failure(event.status);
        break;
      case Event::Kind::kClosed:
        handle->on_closed();
        break;
    }
  }
}

void IoSide::serve(uint64_t id, std::shared_ptr<FramedConnection> connection,
                   std::shared_ptr<std::atomic<uint64_t>> queued) {
  // The handle closes after its error handler answered (which crosses later).
  connection->set_close_on_frame_error(false);
  connection->set_on_frame([this, id](kj::ArrayPtr<const capnp::word> frame) {
    emit({id, Event::Kind::kFrame, kj::heapArray<capnp::word>(frame), {}, {}});
  });
  connection->set_on_error([this, id](const Status& status) {
    emit({id, Event::Kind::kError, nullptr, status, {}});
  });
  connection->set_on_close([this, id] {
    connections.erase(id);
    emit({id, Event::Kind::kClosed, nullptr, {}, {}});
  });
  FramedConnection* raw = connection.get();
  connection->set_on_written(
      [raw, queued] { queued->store(raw->queued_bytes(), std::memory_order_relaxed); });
  emit({id, Event::Kind::kReady, nullptr, {}, connection->peer_names()});
  connections.emplace(id, Served{std::move(connection), std::move(queued)});
}

void IoSide::run(std::vector<Command>& commands) {
  for (auto& command : commands) {
    auto it = connections.find(command.id);
    if (it == connections.end()) {
      // Closed meanwhile (its kClosed is on its way), or still in its handshake.
      auto handshake = handshaking.find(command.id);
      if (handshake != handshaking.end() && (command.kind == Command::Kind::kClose ||
                                             command.kind == Command::Kind::kCloseAfterFlush)) {
        handshake->second = true;
      }
      continue;
    }
    auto connection = it->second.connection;  // a close below erases the entry
    switch (command.kind) {
      case Command::Kind::kStart:
        connection->start();
        break;
      case Command::Kind::kSend:
        if (Status sent = connection->send(std::move(command.frame));
            !sent.is_ok() && !connection->is_closed()) {
          emit({command.id, Event::Kind::kSendFailure, nullptr, sent, {}});
        }
        it->second.queued->store(connection->queued_bytes(), std::memory_order_relaxed);
        break;
      case Command::Kind::kPause:
        connection->pause_reading();
        break;
      case Command::Kind::kResume:
        connection->resume_reading();
        break;
      case Command::Kind::kClose:
        connection->close();
        break;
      case Command::Kind::kCloseAfterFlush:
        connection->close_after_flush();
        break;
    }
  }
}

}  // namespace detail

IoThread::IoThread(asio::io_context& owner)
    : owner_(owner),
      io_(std::make_unique<detail::IoSide>(owner, context_)),
      work_(asio::make_work_guard(context_)) {
  mailbox_ = std::make_shared<detail::Mailbox>(
      detail::Mailbox{owner, &context_, {}, false, io_.get(), {}});
  io_->set_mailbox(mailbox_);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "qkv-io");
    context_.run();
  });
}

IoThread::~IoThread() {
  mailbox_->thread = nullptr;  // handles' commands are dropped from now on
  mailbox_->open.clear();
  asio::post(context_,
             [io = io_.get()] { io->wind_down(std::chrono::steady_clock::now() + kWindDownMax); });
  work_.reset();  // run() returns once every connection has closed
  thread_.join();
}

std::shared_ptr<ThreadedConnection> IoThread::adopt(asio::ip::tcp::socket socket,
                                                    const TransportOptions& options, Tls tls,
                                                    ReadyHandler on_ready) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  std::string remote = ec ? "(unknown peer)"
                       : endpoint.address().is_v6()
                           ? fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port())
                           : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
  // The descriptor moves to this thread's context: no operation of the owner's context
  // ever holds a socket of this one (which may be gone first).
  asio::ip::tcp::socket moved(context_);
  if (!ec) {
    int fd = socket.release(ec);
    if (!ec) moved.assign(endpoint.protocol(), fd, ec);
    if (ec && fd >= 0) ::close(fd);
  }
  // On an error `moved` stays closed: its connection closes at its first read.
  uint64_t id = next_id_++;
  auto handle =
      std::make_shared<ThreadedConnection>(mailbox_, id, std::move(remote), tls.context != nullptr);
  handle->set_on_ready(std::move(on_ready));
  mailbox_->open.emplace(id, handle);
  asio::post(context_, [io = io_.get(), id, socket = std::move(moved), options,
                        tls = std::move(tls), queued = handle->queued_counter()]() mutable {
    if (!tls.context) {
      return io->serve(id, FramedConnection::create(std::move(socket), options), queued);
    }
    io->handshaking.emplace(id, false);
    auto done = [io, id, options, context = tls.context, queued](Result<TlsStream> stream) {
      auto handshake = io->handshaking.find(id);
      const bool closed = handshake->second;
      io->handshaking.erase(handshake);
      if (closed) return;  // the owner closed it: the stream's socket closes here
      if (!stream)
        return io->emit({id, detail::Event::Kind::kRefused, nullptr, stream.status(), {}});
      io->serve(id, FramedConnection::create(std::move(stream).value(), context, options), queued);
    };
    if (tls.client) {
      return connect_tls(std::move(socket), tls.context, tls.server_name, tls.server_is_node,
                         tls.handshake_timeout_ms, std::move(done));
    }
    accept_tls(std::move(socket), tls.context, tls.handshake_timeout_ms, tls.plaintext_refusal,
               std::move(done));
  });
  return handle;
}

IoThreads::IoThreads(asio::io_context& owner, unsigned count) {
  for (unsigned i = 0; i < count; ++i) threads_.push_back(std::make_unique<IoThread>(owner));
}

void IoThreads::flush() {
  for (auto& thread : threads_) thread->flush();
}

IoThread& IoThreads::next() {
  IoThread& thread = *threads_[next_];
  next_ = (next_ + 1) % threads_.size();
  return thread;
}

ThreadedConnection::ThreadedConnection(std::shared_ptr<detail::Mailbox> mailbox, uint64_t id,
                                       std::string remote_endpoint, bool tls)
    : mailbox_(std::move(mailbox)),
      id_(id),
      remote_endpoint_(std::move(remote_endpoint)),
      tls_(tls) {}

void ThreadedConnection::command(detail::Command::Kind kind, kj::Array<capnp::word> frame) {
  detail::Mailbox& box = *mailbox_;
  if (!box.thread) return;
  box.commands.push_back({id_, kind, std::move(frame)});
  if (box.flush_posted) return;
  box.flush_posted = true;
  // After this owner turn's other handlers: what they send crosses in the same post.
  asio::post(box.owner, [mailbox = mailbox_] {
    mailbox->flush_posted = false;
    mailbox->flush();
  });
}

void detail::Mailbox::flush() {
  if (!thread) return commands.clear();
  if (commands.empty()) return;
  asio::post(*thread, [io = io, commands = std::move(commands)]() mutable { io->run(commands); });
  commands.clear();
}

void ThreadedConnection::start() {
  if (started_ || closed_ || closing_) return;
  started_ = true;
  command(detail::Command::Kind::kStart);
}

void ThreadedConnection::pause_reading() {
  if (paused_) return;
  paused_ = true;
  command(detail::Command::Kind::kPause);
}

void ThreadedConnection::resume_reading() {
  if (!paused_) return;
  paused_ = false;
  command(detail::Command::Kind::kResume);
  if (!dispatching_) deliver_held();
}

Status ThreadedConnection::send(kj::Array<capnp::word> frame) {
  if (closed_ || closing_ || !mailbox_->thread) {
    return Status::unavailable(fmt::format("connection to {} is closed", remote_endpoint_));
  }
  if (frame.size() == 0) return Status::invalid_argument("cannot send an empty frame");
  command(detail::Command::Kind::kSend, std::move(frame));
  return Status::ok();
}

void ThreadedConnection::close() {
  if (closed_) return;
  command(detail::Command::Kind::kClose);
  on_closed();
}

void ThreadedConnection::close_after_flush() {
  if (closed_ || closing_) return;
  closing_ = true;
  held_.clear();  // reading stops, as FramedConnection's parsing does
  command(detail::Command::Kind::kCloseAfterFlush);
}

void ThreadedConnection::on_ready(std::vector<std::string> peer_names) {
  peer_names_ = std::move(peer_names);
  auto ready = std::move(on_ready_);
  if (ready) ready(shared_from_this(), Status::ok());
}

void ThreadedConnection::on_refused(const Status& status) {
  auto self = shared_from_this();
  closed_ = true;
  forget();
  auto ready = std::move(on_ready_);
  if (ready) ready(shared_from_this(), status);
}

void ThreadedConnection::on_frame(kj::Array<capnp::word> frame) {
  if (closed_ || closing_) return;
  held_.push_back(std::move(frame));
  if (!paused_ && !dispatching_) deliver_held();
}

void ThreadedConnection::deliver_held() {
  auto self = shared_from_this();
  dispatching_ = true;
  std::size_t i = 0;
  for (; i < held_.size() && !paused_ && !closed_ && !closing_; ++i) {
    kj::Array<capnp::word> frame = std::move(held_[i]);
    if (on_frame_) on_frame_(frame.asPtr());
  }
  if (!closed_ && !closing_) held_.erase(held_.begin(), held_.begin() + static_cast<long>(i));
  dispatching_ = false;
  if (closed_) release_handlers();
}

void ThreadedConnection::on_error(const Status& status) {
  if (closed_ || closing_) return;
  if (on_error_) on_error_(status);  // may send one answer: it leaves before the close
  close_after_flush();
}

void ThreadedConnection::on_send_failure(const Status& status) {
  if (!closed_ && on_send_failure_) on_send_failure_(status);
}

void ThreadedConnection::on_closed() {
  if (closed_) return;
  auto self = shared_from_this();  // on_close may drop the caller's last reference
  closed_ = true;
  forget();
  held_.clear();
  CloseHandler on_close = std::move(on_close_);
  on_close_ = nullptr;
  if (!dispatching_) release_handlers();  // else deliver_held() releases them
  if (on_close) on_close();
}

void ThreadedConnection::release_handlers() {
  on_frame_ = nullptr;
  on_error_ = nullptr;
  on_send_failure_ = nullptr;
}

}  // namespace qkv::net
