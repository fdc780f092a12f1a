#include "client/async_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "client/request_building.h"
#include "common/assert.h"
#include "common/host_port.h"
#include "net/framed_connection.h"
#include "net/tls.h"
#include "proto/client_codec.h"

namespace qkv::client {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;
using Frame = kj::Array<capnp::word>;

// Where the node listens, parsed once (common/host_port.h): the address or why it is not one.
Result<HostPort> parse_endpoint(const std::string& node) {
  return parse_host_port(node, "node address");
}

uint64_t frame_bytes(const Frame& frame) {
  return uint64_t{frame.size()} * sizeof(capnp::word);
}

}  // namespace

class AsyncClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, AsyncOptions options)
      : io_(io),
        options_(std::move(options)),
        endpoint_(parse_endpoint(options_.node)),
        connect_timer_(io),
        deadline_timer_(io) {
    transport_options_.frame_bytes_max = options_.limits.frame_bytes_max;
    transport_options_.connect_timeout_ms = options_.connect_timeout_ms;
    auto context = internal::tls_context(options_.tls);
    if (context) {
      tls_context_ = std::move(context).value();
    } else {
      tls_error_ = context.status();
    }
  }

  const AsyncOptions& options() const { return options_; }

  std::size_t in_flight() const { return pending_.size() + completing_; }

  void get(std::string_view key, const ReadOptions& options, GetCallback done) {
    issue_op(internal::get_op(options_.limits, key, options), options.timeout_ms,
             Callback(std::in_place_type<GetCallback>, std::move(done)));
  }

  void put(std::string_view key, std::string_view value, std::string_view context,
           const WriteOptions& options, WriteCallback done) {
    issue_op(internal::put_op(options_.limits, key, value, context, options), options.timeout_ms,
             Callback(std::in_place_type<WriteCallback>, std::move(done)));
  }

  void del(std::string_view key, std::string_view context, const WriteOptions& options,
           WriteCallback done) {
    issue_op(internal::del_op(options_.limits, key, context, options), options.timeout_ms,
             Callback(std::in_place_type<WriteCallback>, std::move(done)));
  }

  void call(proto::ClientOp op, uint32_t timeout_ms, RawCallback done) {
    issue_op(std::move(op), timeout_ms, Callback(std::in_place_type<RawCallback>, std::move(done)));
  }

  // Completes what was issued before the call: first the requests already decided (with
  // their own outcome), then the pending ones with closed_status(), in issue order.
  // Requests that their callbacks issue are new ones (and reconnect).
  void close() {
    reset_connection();
    std::vector<Completion> batch = take_completions();
    std::vector<Completion> pending = take_pending(closed_status());
    std::move(pending.begin(), pending.end(), std::back_inserter(batch));
    run(std::move(batch));
  }

  // The destructor's close: requests that callbacks issue meanwhile are not sent; they
  // complete here too, until nothing is left.
  void shut_down() {
    shut_down_ = true;
    reset_connection();
    while (!pending_.empty() || !completions_.empty()) close();
  }

 private:
  using Callback = std::variant<GetCallback, WriteCallback, RawCallback>;
  using DeadlineIndex = std::multimap<Deadline, uint64_t>;  // deadline -> request id

  enum class State { kIdle, kConnecting, kConnected };

  struct Pending {
    Callback done;
    DeadlineIndex::iterator deadline;
    uint32_t timeout_ms;
    Frame copy;                     // to send again (retry_overloaded), else empty
    uint32_t backoff_ms = 0;        // 0: never refused yet
    std::optional<Status> refusal;  // the node's last overloaded answer
    bool sent = false;              // handed to a connection (the node may have it)
  };

  // Overload backoff (full jitter, doubling), as the blocking Client's (client.cc).
  static constexpr uint32_t kOverloadBackoffMsMin = 10;
  static constexpr uint32_t kOverloadBackoffMsMax = 250;

  // A request whose outcome is decided and whose callback is still to run.
  struct Completion {
    Callback done;
    Status status;
    bool sent = false;  // the request was handed to a connection (RawCallback's `sent`)
  };

  static Status closed_status() { return Status::unavailable("the client was closed"); }

  // --- Issuing -------------------------------------------------------------------------

  // `op` (or why it could not be built) as a request with a fresh id; timeout_ms 0:
  // AsyncOptions::timeout_ms, counted from now.
  void issue_op(Result<proto::ClientOp> op, uint32_t timeout_ms, Callback done) {
    const Deadline now = SteadyClock::now();
    if (timeout_ms == 0) timeout_ms = options_.timeout_ms;
    const uint64_t id = next_request_id_++;
    issue(
        id,
        internal::encode_request(options_.limits, id, server_timeout_ms(timeout_ms), std::move(op)),
        now, timeout_ms, std::move(done));
  }

  void issue(uint64_t id, Result<Frame> frame, Deadline now, uint32_t timeout_ms, Callback done) {
    if (!frame.is_ok()) return complete_later(std::move(done), frame.status());
    if (shut_down_) return complete_later(std::move(done), closed_status());
    if (!endpoint_) {
      return complete_later(std::move(done), Status::unavailable(fmt::format(
                                                 "cannot connect to {}: {}", options_.node,
                                                 endpoint_.status().message())));
    }
    Frame copy =
        options_.retry_overloaded ? kj::heapArray<capnp::word>(frame.value().asPtr()) : Frame();
    const bool connected = state_ == State::kConnected;
    Status sent = send_or_queue(id, std::move(frame).value());
    if (!sent.is_ok()) return complete_later(std::move(done), std::move(sent));
    auto deadline = deadlines_.emplace(now + std::chrono::milliseconds(timeout_ms), id);
    pending_.emplace(id, Pending{std::move(done), deadline, timeout_ms, std::move(copy), 0,
                                 std::nullopt, connected});
    arm_deadline_timer();
  }

  // Ok: sent (handed to the connection) or queued until connected. Otherwise the request
  // was not sent: overloaded (a full send queue) or unavailable (the connection is closing).
  Status send_or_queue(uint64_t id, Frame frame) {
    if (state_ == State::kConnected) return connection_->send(std::move(frame));
    uint64_t bytes = frame_bytes(frame);
    if (queued_bytes_ + bytes > transport_options_.send_queue_bytes_max) {
      return Status::overloaded(fmt::format(
          "{} requests ({} bytes) wait for the connection to {}; a {}-byte request would exceed "
          "send_queue_bytes_max {}",
          queued_.size(), queued_bytes_, options_.node, bytes,
          transport_options_.send_queue_bytes_max));
    }
    queued_bytes_ += bytes;
    queued_.emplace_back(id, std::move(frame));
    if (state_ == State::kIdle) connect();
    return Status::ok();
  }

  // --- Connecting (as net/peer_links.cc) ------------------------------------

  void connect() {
    state_ = State::kConnecting;
    if (!tls_error_.is_ok()) {
      // Fails what waits, after this call returns (as any connect failure does).
      return asio::post(io_, [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->connect_failed(self->tls_error_.message());
      });
    }
    uint64_t generation = ++generation_;
    std::weak_ptr<Impl> weak = weak_from_this();
    connect_timer_.expires_after(std::chrono::milliseconds(options_.connect_timeout_ms));
    connect_timer_.async_wait([weak, generation](const error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->generation_ != generation) return;
      self->connect_failed(fmt::format("connect timed out after connect_timeout_ms {}",
                                       self->options_.connect_timeout_ms));
    });
    // The handlers hold the socket: a composed connect touches it until its handler runs.
    socket_ = std::make_shared<tcp::socket>(io_);
    error_code ec;
    auto address = asio::ip::make_address(endpoint_->host, ec);
    if (!ec) {  // an IP address: no resolver (Asio resolves on a thread of its own)
      socket_->async_connect(tcp::endpoint(address, endpoint_->port),
                             [weak, generation, socket = socket_](const error_code& connect_ec) {
                               auto self = weak.lock();
                               if (!self || self->generation_ != generation) return;
                               self->on_connect_result(connect_ec);
                             });
      return;
    }
    if (!resolver_) resolver_.emplace(io_);
    resolver_->async_resolve(
        endpoint_->host, std::to_string(endpoint_->port),
        [weak, generation, socket = socket_](const error_code& resolve_ec,
                                             tcp::resolver::results_type results) {
          auto self = weak.lock();
          if (!self || self->generation_ != generation) return;
          if (resolve_ec) {
            self->connect_failed(fmt::format("cannot resolve: {}", resolve_ec.message()));
            return;
          }
          asio::async_connect(
              *socket, results,
              [weak, generation, socket](const error_code& e, const tcp::endpoint&) {
                auto self = weak.lock();
                if (!self || self->generation_ != generation) return;
                self->on_connect_result(e);
              });
        });
  }

  void on_connect_result(const error_code& ec) {
    if (ec) {
      connect_failed(fmt::format("connect failed: {}", ec.message()));
      return;
    }
    if (!tls_context_) {
      auto connection = net::FramedConnection::create(std::move(*socket_), transport_options_);
      socket_.reset();
      return on_connected(std::move(connection));
    }
    // The connect deadline (still armed) covers the handshake.
    std::weak_ptr<Impl> weak = weak_from_this();
    net::connect_tls(
        std::move(*socket_), tls_context_, endpoint_->host, /*server_is_node=*/false,
        options_.connect_timeout_ms,
        [weak, generation = generation_](Result<net::TlsStream> stream) {
          auto self = weak.lock();
          if (!self || self->generation_ != generation) return;
          if (!stream) return self->connect_failed(stream.status().message());
          self->on_connected(net::FramedConnection::create(
              std::move(stream).value(), self->tls_context_, self->transport_options_));
        });
    socket_.reset();
  }

  void on_connected(std::shared_ptr<net::FramedConnection> connection) {
    uint64_t generation = ++generation_;  // the connect deadline no longer applies
    connect_timer_.cancel();
    connection_ = std::move(connection);
    std::weak_ptr<Impl> weak = weak_from_this();
    // The handlers hold this Impl weakly: it owns the connection.
    connection_->set_on_frame([weak, generation](kj::ArrayPtr<const capnp::word> frame) {
      auto self = weak.lock();
      if (self && self->generation_ == generation) self->on_frame(frame);
    });
    connection_->set_on_error([weak, generation](const Status& status) {
      auto self = weak.lock();
      if (!self || self->generation_ != generation) return;
      self->break_connection(Status(
          status.code(), fmt::format("cannot read the answers of {}: {}; the connection was closed",
                                     self->options_.node, status.message())));
    });
    connection_->set_on_close([weak, generation] {
      auto self = weak.lock();
      if (!self || self->generation_ != generation) return;
      self->break_connection(Status::unavailable(fmt::format(
          "the connection to {} closed (by the node, or broken) before the answer arrived",
          self->options_.node)));
    });
    state_ = State::kConnected;
    connection_->start();
    if (options_.credentials) {
      // Ahead of every request: the node reads a connection's frames in order.
      login_id_ = next_request_id_++;
      proto::AuthenticateRequest login{options_.credentials->user, options_.credentials->secret};
      (void)connection_->send(proto::encode(proto::ClientRequest{login_id_, 0, std::move(login)}));
    }
    // Requests that timed out while connecting are not sent. The queue was bounded by
    // send_queue_bytes_max, as is the connection's, so everything fits.
    std::vector<std::pair<uint64_t, Frame>> queued = std::move(queued_);
    queued_.clear();
    queued_bytes_ = 0;
    std::vector<std::pair<uint64_t, Status>> unsent;
    for (auto& [id, frame] : queued) {
      auto it = pending_.find(id);
      if (it == pending_.end()) continue;
      Status status = connection_->send(std::move(frame));
      if (status.is_ok()) {
        it->second.sent = true;
      } else {
        unsent.emplace_back(id, std::move(status));
      }
    }
    for (auto& [id, status] : unsent) fail(id, std::move(status));
  }

  void connect_failed(const std::string& why) {
    reset_connection();
    fail_all(Status::unavailable(fmt::format("cannot connect to {}: {}", options_.node, why)));
  }

  // --- Answers ---------------------------------------------------------------------------

  void on_frame(kj::ArrayPtr<const capnp::word> frame) {
    auto response = proto::decode_client_response(frame);
    if (!response.is_ok()) {
      // Which request it answered is unknown: nothing on this connection can be trusted.
      break_connection(Status::corruption(
          fmt::format("{} answered bytes that do not decode ({}); the connection was closed",
                      options_.node, response.status().message())));
      return;
    }
    if (response->request_id == 0 && !response->status.is_ok()) {
      // The node could not read one of our requests (so it cannot name it) and closes.
      break_connection(Status(response->status.code(),
                              fmt::format("{} could not read a request on this connection: {}",
                                          options_.node, response->status.message())));
      return;
    }
    if (response->request_id == login_id_ && login_id_ != 0) {
      if (response->status.is_ok()) return;
      break_connection(
          Status(response->status.code(),
                 fmt::format("{} refused the credentials of user {}: {}", options_.node,
                             options_.credentials->user, response->status.message())));
      return;
    }
    auto it = pending_.find(response->request_id);
    if (it == pending_.end()) return;  // a late answer to a request that timed out
    if (response->status.code() == StatusCode::kOverloaded && it->second.copy.size() > 0) {
      return retry_later(it->first, it->second, std::move(response->status));
    }
    Callback done = std::move(it->second.done);
    deadlines_.erase(it->second.deadline);
    pending_.erase(it);
    answer(done, std::move(response).value());
  }

  // --- Overload: send a refused request again after a backoff ---------------------------

  void retry_later(uint64_t id, Pending& pending, Status refusal) {
    pending.refusal = std::move(refusal);
    pending.backoff_ms = pending.backoff_ms == 0
                             ? kOverloadBackoffMsMin
                             : std::min(pending.backoff_ms * 2, kOverloadBackoffMsMax);
    auto delay = std::chrono::milliseconds(
        std::uniform_int_distribution<uint32_t>(1, pending.backoff_ms)(jitter_));
    // Past its deadline it completes with the refusal (expire_deadlines) instead.
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timer->async_wait([weak = weak_from_this(), timer, id](const error_code& ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      auto it = self->pending_.find(id);
      if (it == self->pending_.end()) return;  // expired, or the client was closed
      const bool connected = self->state_ == State::kConnected;
      Status sent = self->send_or_queue(id, kj::heapArray<capnp::word>(it->second.copy.asPtr()));
      if (!sent.is_ok()) return self->fail(id, std::move(sent));
      it->second.sent = it->second.sent || connected;
    });
  }

  // --- Deadlines: one timer ticking every deadline_check_ms while requests are pending ---

  void arm_deadline_timer() {
    if (deadline_timer_armed_ || deadlines_.empty()) return;
    deadline_timer_armed_ = true;
    deadline_timer_.expires_after(
        std::chrono::milliseconds(std::max<uint32_t>(1, options_.deadline_check_ms)));
    deadline_timer_.async_wait([weak = weak_from_this()](const error_code& ec) {
      auto self = weak.lock();
      if (!self) return;
      self->deadline_timer_armed_ = false;
      if (!ec) self->expire_deadlines();
      self->arm_deadline_timer();
    });
  }

  void expire_deadlines() {
    Deadline now = SteadyClock::now();
    std::vector<Completion> expired;
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      auto it = pending_.find(deadlines_.begin()->second);
      QKV_ASSERT(it != pending_.end());
      deadlines_.erase(deadlines_.begin());
      Status why = it->second.refusal
                       ? Status::overloaded(fmt::format(
                             "{} stayed overloaded for {} ms (sent again after backoffs): {}",
                             options_.node, it->second.timeout_ms, it->second.refusal->message()))
                       : Status::timeout(fmt::format("no answer from {} within {} ms",
                                                     options_.node, it->second.timeout_ms));
      expired.push_back(Completion{std::move(it->second.done), std::move(why), it->second.sent});
      pending_.erase(it);
    }
    run(std::move(expired));
  }

  // --- Completing ------------------------------------------------------------------------

  // Ends the connection (or the attempt to connect) and drops the requests queued for it;
  // its handlers, still to run, are ignored.
  void reset_connection() {
    ++generation_;
    state_ = State::kIdle;
    connect_timer_.cancel();
    if (resolver_) resolver_->cancel();
    if (socket_) {
      error_code ignored;
      socket_->close(ignored);
      socket_.reset();
    }
    if (connection_) std::exchange(connection_, nullptr)->close();
    queued_.clear();
    queued_bytes_ = 0;
  }

  void break_connection(const Status& cause) {
    reset_connection();
    fail_all(cause);
  }

  // Completes every pending request with `status`, in the order they were issued.
  void fail_all(const Status& status) { run(take_pending(status)); }

  // Empties pending_: its requests, in the order they were issued, completing with `status`.
  std::vector<Completion> take_pending(const Status& status) {
    std::vector<std::pair<uint64_t, Completion>> taken;
    taken.reserve(pending_.size());
    for (auto& [id, pending] : pending_) {
      taken.emplace_back(id, Completion{std::move(pending.done), status, pending.sent});
    }
    pending_.clear();
    deadlines_.clear();
    std::sort(taken.begin(), taken.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Completion> batch;
    batch.reserve(taken.size());
    for (auto& [id, completion] : taken) batch.push_back(std::move(completion));
    return batch;
  }

  // Empties completions_ (no longer counted in completing_: run() counts them again).
  std::vector<Completion> take_completions() {
    std::vector<Completion> batch = std::move(completions_);
    completions_.clear();
    completing_ -= batch.size();
    return batch;
  }

  void fail(uint64_t id, Status status) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Callback done = std::move(it->second.done);
    const bool sent = it->second.sent;
    deadlines_.erase(it->second.deadline);
    pending_.erase(it);
    complete(done, std::move(status), sent);
  }

  // Runs the callbacks of `batch`; the state is consistent, so they may call anything (even
  // destroy the client: the handler that got here holds the Impl).
  void run(std::vector<Completion> batch) {
    completing_ += batch.size();
    for (auto& completion : batch) {
      --completing_;
      complete(completion.done, std::move(completion.status), completion.sent);
    }
  }

  // For a request that completes in the call that issued it: the callback runs from a
  // posted handler (or from close()/the destructor, whichever comes first).
  void complete_later(Callback done, Status status) {
    ++completing_;
    completions_.push_back(Completion{std::move(done), std::move(status)});
    if (drain_posted_) return;
    drain_posted_ = true;
    asio::post(io_, [weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self) return;
      self->drain_posted_ = false;
      // Only those decided so far: a callback that re-issues a rejected request gets a
      // handler of its own, so it cannot starve the io_context.
      self->run(self->take_completions());
    });
  }

  static void complete(Callback& done, Status status, bool sent) {
    if (auto* get = std::get_if<GetCallback>(&done)) {
      if (*get) (*get)(Result<GetResult>(std::move(status)));
    } else if (auto* write = std::get_if<WriteCallback>(&done)) {
      if (*write) (*write)(Result<WriteResult>(std::move(status)));
    } else if (auto& raw = std::get<RawCallback>(done)) {
      raw(Result<proto::ClientResponse>(std::move(status)), sent);
    }
  }

  static void answer(Callback& done, proto::ClientResponse&& response) {
    if (auto* get = std::get_if<GetCallback>(&done)) {
      if (*get) (*get)(internal::to_get_result(std::move(response)));
    } else if (auto* write = std::get_if<WriteCallback>(&done)) {
      if (*write) (*write)(internal::to_write_result(std::move(response)));
    } else if (auto& raw = std::get<RawCallback>(done)) {
      raw(std::move(response), /*sent=*/true);
    }
  }

  asio::io_context& io_;
  const AsyncOptions options_;
  const Result<HostPort> endpoint_;  // not ok: options_.node is malformed
  net::TransportOptions transport_options_;

  State state_ = State::kIdle;
  // Bumped whenever a connect attempt or connection ends: completions of older ones are
  // ignored.
  uint64_t generation_ = 0;
  std::shared_ptr<tcp::socket> socket_;                     // while kConnecting
  std::shared_ptr<boost::asio::ssl::context> tls_context_;  // AsyncOptions::tls
  Status tls_error_;  // why AsyncOptions::tls gave no context: every request fails with it
  std::optional<tcp::resolver> resolver_;              // only for host names
  asio::steady_timer connect_timer_;                   // the connect deadline
  std::shared_ptr<net::FramedConnection> connection_;  // while kConnected
  std::vector<std::pair<uint64_t, Frame>> queued_;     // while kConnecting, by id
  uint64_t queued_bytes_ = 0;

  // 0 is never used: the node answers 0 to a request it cannot read.
  uint64_t next_request_id_ = 1;
  uint64_t login_id_ = 0;  // the AuthenticateRequest of the current connection; 0: none
  std::unordered_map<uint64_t, Pending> pending_;  // queued or sent, by request id
  DeadlineIndex deadlines_;                        // of pending_, earliest first
  asio::steady_timer deadline_timer_;
  bool deadline_timer_armed_ = false;

  std::vector<Completion> completions_;              // decided in the call that issued them
  bool drain_posted_ = false;                        // a handler to run completions_ is posted
  std::size_t completing_ = 0;                       // completions not yet run, here or in a batch
  bool shut_down_ = false;                           // in the destructor: nothing is sent any more
  std::minstd_rand jitter_{std::random_device{}()};  // overload backoff
};

AsyncClient::AsyncClient(boost::asio::io_context& io, AsyncOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

AsyncClient::~AsyncClient() {
  impl_->shut_down();
}

void AsyncClient::get(std::string_view key, ReadOptions options, GetCallback done) {
  impl_->get(key, options, std::move(done));
}

void AsyncClient::put(std::string_view key, std::string_view value, std::string_view context,
                      WriteOptions options, WriteCallback done) {
  impl_->put(key, value, context, options, std::move(done));
}

void AsyncClient::del(std::string_view key, std::string_view context, WriteOptions options,
                      WriteCallback done) {
  impl_->del(key, context, options, std::move(done));
}

void AsyncClient::call(proto::ClientOp op, uint32_t timeout_ms, RawCallback done) {
  impl_->call(std::move(op), timeout_ms, std::move(done));
}

std::size_t AsyncClient::in_flight() const {
  return impl_->in_flight();
}

void AsyncClient::close() {
  impl_->close();
}

const AsyncOptions& AsyncClient::options() const {
  return impl_->options();
}

}  // namespace qkv::client
