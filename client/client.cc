#include "client/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "client/request_building.h"
#include "common/asio.h"
#include "common/host_port.h"
#include "net/tls.h"
#include "proto/client_codec.h"
#include "proto/framing.h"

namespace qkv::client {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

constexpr std::size_t kReadChunkBytes = 64 * 1024;
constexpr uint32_t kServerMarginMaxMs = 100;

Deadline deadline_after(uint32_t ms) {
  return SteadyClock::now() + std::chrono::milliseconds(ms);
}

// One node's persistent connection; `socket` is empty until first use and after a failure.
struct Connection {
  std::string address;
  std::optional<tcp::socket> socket;  // plaintext
  proto::FrameReader reader;
  std::unique_ptr<net::TlsStream> tls;  // or TLS (Options::tls); not movable in Boost 1.74
  bool logged_in = false;               // Options::credentials were accepted on it
  bool open() const { return socket || tls; }
  tcp::socket& raw() { return tls ? tls->next_layer() : *socket; }
  // Calls f with the stream the frames travel on.
  template <typename F>
  void with_stream(F f) {
    if (tls) {
      f(*tls);
    } else {
      f(*socket);
    }
  }
};

// How one attempt on one node ended.
struct Attempt {
  std::optional<proto::ClientResponse> response;  // set when the node answered
  Status failure;                                 // why not, otherwise
  bool sent = false;                              // whether any byte of the request was sent
};

// An answer and the node (its address) that gave it.
struct Answer {
  proto::ClientResponse response;
  std::string address;
};

// Connections opened to addresses outside Options::nodes (a claimant named by a node's
// answer) are kept for reuse, at most this many: the oldest is closed to open another.
constexpr std::size_t kRedirectConnectionsMax = 4;
// Backoff when every node answered overloaded (call_any): full jitter, doubling.
constexpr std::chrono::milliseconds kOverloadBackoffMin{10};
constexpr std::chrono::milliseconds kOverloadBackoffMax{250};

// For the calls addressed to one node (node_status, repair).
Status check_node_index(const Options& options, std::size_t node_index) {
  if (node_index < options.nodes.size()) return Status::ok();
  return Status::invalid_argument(
      fmt::format("node index {} is out of range ({} nodes)", node_index, options.nodes.size()));
}

}  // namespace

uint32_t server_timeout_ms(uint32_t timeout_ms) {
  uint32_t margin = std::min(kServerMarginMaxMs, timeout_ms / 10);
  return std::max<uint32_t>(1, timeout_ms - margin);
}

class Client::Impl {
 public:
  explicit Impl(Options options) : options_(std::move(options)) {
    auto context = internal::tls_context(options_.tls);
    if (context) {
      tls_context_ = std::move(context).value();
    } else {
      tls_error_ = context.status();
    }
    for (const auto& address : options_.nodes) {
      connections_.push_back(Connection{
          address, std::nullopt, proto::FrameReader(options_.limits.frame_bytes_max), {}});
    }
  }

  const Options& options() const { return options_; }
  bool any_answered() const { return answered_; }

  // Sends `op` to the nodes in order until one answers. `retry_after_send`: whether a request
  // that was sent but got no answer may be sent to the next node (reads only).
  Result<proto::ClientResponse> call(proto::ClientOp op, uint32_t timeout_ms,
                                     bool retry_after_send) {
    auto answer = call_any(std::move(op), timeout_ms, retry_after_send);
    if (!answer.is_ok()) return answer.status();
    return std::move(answer->response);
  }

  // As call(), also naming the node that answered.
  //
  // A node that answers overloaded refused the request before doing anything with it (its
  // load shedding), so it is safe to send anywhere, writes included: the next node is
  // tried. When every node answered overloaded, the pass is repeated after a backoff
  // (exponential from kOverloadBackoffMin to kOverloadBackoffMax, with full jitter) until
  // the call's timeout has passed; then the answer is overloaded, naming each node.
  Result<Answer> call_any(proto::ClientOp op, uint32_t timeout_ms, bool retry_after_send) {
    if (timeout_ms == 0) timeout_ms = options_.timeout_ms;
    if (connections_.empty()) return Status::unavailable("no nodes configured");
    const Deadline give_up = deadline_after(timeout_ms);
    auto backoff = kOverloadBackoffMin;
    for (;;) {
      std::string failures;
      std::size_t overloaded = 0;
      for (auto& connection : connections_) {
        Attempt attempt = try_node(connection, op, timeout_ms);
        if (attempt.response && attempt.response->status.code() != StatusCode::kOverloaded) {
          return Answer{std::move(*attempt.response), connection.address};
        }
        if (!attempt.response && attempt.sent && !retry_after_send) {
          return unknown_outcome(op, connection, attempt);
        }
        const Status& why = attempt.response ? attempt.response->status : attempt.failure;
        if (attempt.response) ++overloaded;
        if (!failures.empty()) failures += "; ";
        failures += fmt::format("{}: {}", connection.address, why.message());
      }
      if (overloaded < connections_.size()) {
        return Status::unavailable(fmt::format("no node answered the {} ({} tried): {}",
                                               proto::op_name(op), connections_.size(), failures));
      }
      const auto pause = std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(0, backoff.count())(jitter_));
      if (SteadyClock::now() + pause >= give_up) {
        return Status::overloaded(
            fmt::format("every node is overloaded ({} tried, backing off "
                        "until the {} ms timeout): {}",
                        connections_.size(), timeout_ms, failures));
      }
      std::this_thread::sleep_for(pause);
      backoff = std::min(backoff * 2, kOverloadBackoffMax);
    }
  }

  // One attempt on one node, no failover.
  Result<proto::ClientResponse> call_node(std::size_t index, proto::ClientOp op) {
    auto& connection = connections_[index];
    Attempt attempt = try_node(connection, op, options_.timeout_ms);
    if (attempt.response) return std::move(*attempt.response);
    return Status(attempt.failure.code(),
                  fmt::format("{}: {}", connection.address, attempt.failure.message()));
  }

  // One attempt at `address`, which need not be among Options::nodes (its connection is then
  // opened and kept apart, see kRedirectConnectionsMax); no failover.
  Attempt attempt_at(const std::string& address, const proto::ClientOp& op) {
    return try_node(connection_to(address), op, options_.timeout_ms);
  }

 private:
  Connection& connection_to(const std::string& address) {
    for (auto& c : connections_) {
      if (c.address == address) return c;
    }
    for (auto& c : redirects_) {
      if (c.address == address) return c;
    }
    if (redirects_.size() >= kRedirectConnectionsMax) {
      close(redirects_.front());
      redirects_.erase(redirects_.begin());
    }
    redirects_.push_back(
        Connection{address, std::nullopt, proto::FrameReader(options_.limits.frame_bytes_max), {}});
    return redirects_.back();
  }

  Attempt try_node(Connection& c, const proto::ClientOp& op, uint32_t timeout_ms) {
    Attempt attempt;
    attempt.failure = ensure_connected(c);
    if (!attempt.failure.is_ok()) return attempt;
    if (options_.credentials && !c.logged_in) {
      const Credentials& login = *options_.credentials;
      Attempt answer =
          exchange(c, proto::AuthenticateRequest{login.user, login.secret}, timeout_ms);
      answer.sent = false;  // the login was sent, not `op`: it may go to another node
      if (!answer.response) return answer;
      // A refusal is the call's answer: every node would give it.
      if (!answer.response->status.is_ok()) {
        close(c);
        return answer;
      }
      c.logged_in = true;
    }
    return exchange(c, op, timeout_ms);
  }

  // Sends `op` on a connected `c` and reads its answer.
  Attempt exchange(Connection& c, const proto::ClientOp& op, uint32_t timeout_ms) {
    Attempt attempt;
    proto::ClientRequest request{next_request_id_++, server_timeout_ms(timeout_ms), op};
    Deadline deadline = deadline_after(timeout_ms);
    attempt.failure = send(c, proto::encode(request), deadline, timeout_ms, attempt.sent);
    if (!attempt.failure.is_ok()) return attempt;
    auto response = receive(c, request.request_id, deadline, timeout_ms);
    if (response.is_ok()) {
      attempt.response = std::move(response).value();
      answered_ = true;
    } else {
      attempt.failure = response.status();
    }
    return attempt;
  }

  static Status unknown_outcome(const proto::ClientOp& op, const Connection& c,
                                const Attempt& attempt) {
    StatusCode code = attempt.failure.code() == StatusCode::kTimeout ? StatusCode::kTimeout
                                                                     : StatusCode::kUnavailable;
    if (std::holds_alternative<proto::RingAdminRequest>(op)) {
      return Status(code, fmt::format("{} sent to {}: {}; not retried on another node (the "
                                      "change may have been applied): ask for a plan to see "
                                      "what is staged",
                                      proto::op_name(op), c.address, attempt.failure.message()));
    }
    return Status(
        code, fmt::format("{} sent to {}: {}; not retried on another node (the write may have "
                          "been applied, and a retry could add a duplicate sibling): read the key "
                          "to see its outcome",
                          proto::op_name(op), c.address, attempt.failure.message()));
  }

  // Runs the io_context until `done` or `deadline`. At the deadline, calls cancel() and runs
  // on until the aborted handler has run (handlers refer to the caller's frame). Returns
  // whether the deadline passed first.
  template <typename Cancel>
  bool run_until(const bool& done, Deadline deadline, Cancel cancel) {
    io_.restart();
    while (!done) {
      if (io_.run_one_until(deadline) > 0) continue;
      if (done) break;
      cancel();
      io_.restart();
      while (!done) {
        std::size_t ran = io_.run_one();
        QKV_ASSERT(ran > 0);  // the cancelled operation's handler is still pending
      }
      return true;
    }
    return false;
  }

  void close(Connection& c) {
    if (c.open()) {
      error_code ignored;
      c.raw().close(ignored);
      c.socket.reset();
      c.tls.reset();
    }
    c.logged_in = false;
    c.reader = proto::FrameReader(options_.limits.frame_bytes_max);
  }

  // Whether an idle connection is still open: the node may have closed it (restart, idle
  // timeout). Bytes found waiting are kept: they are late answers, discarded by receive().
  // Peeks, so that TLS records stay whole for the TLS stream.
  bool still_open(Connection& c) {
    error_code ec;
    c.raw().non_blocking(true, ec);
    if (ec) return false;
    char byte;
    c.raw().receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
    error_code ignored;
    c.raw().non_blocking(false, ignored);
    return !ec || ec == asio::error::would_block || ec == asio::error::try_again;
  }

  Status ensure_connected(Connection& c) {
    if (!tls_error_.is_ok()) return tls_error_;
    if (c.open()) {
      if (still_open(c)) return Status::ok();
      close(c);
    }
    auto host_port = parse_host_port(c.address, "node address");
    if (!host_port) return host_port.status();
    uint32_t limit_ms = options_.connect_timeout_ms;
    Deadline deadline = deadline_after(limit_ms);

    tcp::resolver resolver(io_);
    tcp::resolver::results_type endpoints;
    error_code ec;
    bool done = false;
    resolver.async_resolve(host_port->host, std::to_string(host_port->port),
                           [&](const error_code& e, tcp::resolver::results_type results) {
                             ec = e;
                             endpoints = std::move(results);
                             done = true;
                           });
    bool late = run_until(done, deadline, [&] { resolver.cancel(); });
    if (ec) {
      return Status::unavailable(late ? fmt::format("resolve timed out after {} ms", limit_ms)
                                      : fmt::format("resolve failed: {}", ec.message()));
    }

    c.socket.emplace(io_);
    done = false;
    asio::async_connect(*c.socket, endpoints, [&](const error_code& e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    late = run_until(done, deadline, [&] {
      error_code ignored;
      c.socket->close(ignored);
    });
    if (ec) {
      close(c);
      return Status::unavailable(late ? fmt::format("connect timed out after {} ms", limit_ms)
                                      : fmt::format("connect failed: {}", ec.message()));
    }
    error_code ignored;
    c.socket->set_option(tcp::no_delay(true), ignored);
    if (tls_context_) return handshake(c, host_port->host, deadline);
    return Status::ok();
  }

  Status handshake(Connection& c, const std::string& host, Deadline deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    std::optional<Result<net::TlsStream>> outcome;
    // connect_tls ends by its own deadline: run until it has.
    net::connect_tls(std::move(*c.socket), tls_context_, host, /*server_is_node=*/false,
                     static_cast<uint32_t>(std::max<int64_t>(1, left.count())),
                     [&](Result<net::TlsStream> stream) { outcome.emplace(std::move(stream)); });
    c.socket.reset();
    io_.restart();
    while (!outcome) io_.run_one();
    if (!*outcome) return outcome->status();
    c.tls = std::make_unique<net::TlsStream>(std::move(*outcome).value());
    return Status::ok();
  }

  Status send(Connection& c, const kj::Array<capnp::word>& frame, Deadline deadline,
              uint32_t timeout_ms, bool& sent) {
    error_code ec;
    std::size_t written = 0;
    bool done = false;
    c.with_stream([&](auto& stream) {
      asio::async_write(stream, asio::buffer(frame.begin(), frame.size() * sizeof(capnp::word)),
                        [&](const error_code& e, std::size_t n) {
                          ec = e;
                          written = n;
                          done = true;
                        });
    });
    bool late = run_until(done, deadline, [&] {
      error_code ignored;
      c.raw().cancel(ignored);
    });
    // A partly written frame may be in the node's buffers: count it as sent (conservative).
    sent = written > 0 || !ec;
    if (!ec) return Status::ok();
    close(c);  // a partial frame cannot be followed by another
    if (late) return Status::timeout(fmt::format("no answer within {} ms", timeout_ms));
    return Status::unavailable(fmt::format("send failed: {}", ec.message()));
  }

  // Reads frames until the answer to `request_id`, discarding late answers to earlier requests.
  // On a missed deadline the connection stays open (its late answer is discarded next time).
  Result<proto::ClientResponse> receive(Connection& c, uint64_t request_id, Deadline deadline,
                                        uint32_t timeout_ms) {
    for (;;) {
      auto frame = c.reader.next();
      if (!frame.is_ok()) {
        close(c);
        return frame.status();
      }
      if (frame->has_value()) {
        auto response = proto::decode_client_response(**frame);
        if (!response.is_ok() || response->request_id == request_id) {
          if (!response.is_ok()) close(c);
          return response;
        }
        // Id 0 with an error: the node rejected a request it could not read (e.g. a frame
        // over its limit); with one request in flight, that is this one.
        if (response->request_id == 0 && !response->status.is_ok()) {
          close(c);
          return response;
        }
        continue;  // a late answer to an earlier request that timed out
      }
      Status status = read_some(c, deadline, timeout_ms);
      if (!status.is_ok()) return status;
    }
  }

  Status read_some(Connection& c, Deadline deadline, uint32_t timeout_ms) {
    auto space = c.reader.prepare(kReadChunkBytes);
    error_code ec;
    std::size_t n = 0;
    bool done = false;
    c.with_stream([&](auto& stream) {
      stream.async_read_some(asio::buffer(space.data(), space.size()),
                             [&](const error_code& e, std::size_t k) {
                               ec = e;
                               n = k;
                               done = true;
                             });
    });
    bool late = run_until(done, deadline, [&] {
      error_code ignored;
      c.raw().cancel(ignored);
    });
    c.reader.commit(n);
    if (!ec) return Status::ok();
    if (late) return Status::timeout(fmt::format("no answer within {} ms", timeout_ms));
    close(c);
    if (ec == asio::error::eof) return Status::unavailable("connection closed by the node");
    return Status::unavailable(fmt::format("connection broke: {}", ec.message()));
  }

  Options options_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;  // Options::tls
  Status tls_error_;  // why Options::tls gave no context: every call fails with it
  asio::io_context io_{1};
  std::vector<Connection> connections_;
  std::vector<Connection> redirects_;  // outside Options::nodes; at most kRedirectConnectionsMax
  bool answered_ = false;              // any_answered()
  uint64_t next_request_id_ = 1;       // 0 is never used: the node answers 0 to unreadable requests
  std::minstd_rand jitter_{std::random_device{}()};  // overload backoff
};

using internal::take_body;

Client::Client(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const Options& Client::options() const {
  return impl_->options();
}

bool Client::any_answered() const {
  return impl_->any_answered();
}

Result<GetResult> Client::get(std::string_view key, ReadOptions options) {
  auto op = internal::get_op(impl_->options().limits, key, options);
  if (!op.is_ok()) return op.status();
  auto response = impl_->call(std::move(op).value(), options.timeout_ms, /*retry_after_send=*/true);
  if (!response.is_ok()) return response.status();
  return internal::to_get_result(std::move(response).value());
}

Result<WriteResult> Client::put(std::string_view key, std::string_view value,
                                std::string_view context, WriteOptions options) {
  auto op = internal::put_op(impl_->options().limits, key, value, context, options);
  if (!op.is_ok()) return op.status();
  auto response =
      impl_->call(std::move(op).value(), options.timeout_ms, /*retry_after_send=*/false);
  if (!response.is_ok()) return response.status();
  return internal::to_write_result(std::move(response).value());
}

Result<WriteResult> Client::del(std::string_view key, std::string_view context,
                                WriteOptions options) {
  auto op = internal::del_op(impl_->options().limits, key, context, options);
  if (!op.is_ok()) return op.status();
  auto response =
      impl_->call(std::move(op).value(), options.timeout_ms, /*retry_after_send=*/false);
  if (!response.is_ok()) return response.status();
  return internal::to_write_result(std::move(response).value());
}

Result<proto::RingResponse> Client::ring() {
  auto response = impl_->call(proto::RingRequest{}, 0, /*retry_after_send=*/true);
  if (!response.is_ok()) return response.status();
  return take_body<proto::RingResponse>(std::move(response).value(), "ring");
}

Result<proto::MembersResponse> Client::members() {
  auto response = impl_->call(proto::MembersRequest{}, 0, /*retry_after_send=*/true);
  if (!response.is_ok()) return response.status();
  return take_body<proto::MembersResponse>(std::move(response).value(), "members");
}

Result<proto::StatusResponse> Client::node_status(std::size_t node_index) {
  QKV_RETURN_IF_ERROR(check_node_index(impl_->options(), node_index));
  auto response = impl_->call_node(node_index, proto::StatusRequest{});
  if (!response.is_ok()) return response.status();
  return take_body<proto::StatusResponse>(std::move(response).value(), "status");
}

Result<proto::RepairResponse> Client::repair(std::size_t node_index,
                                             std::optional<uint32_t> partition) {
  QKV_RETURN_IF_ERROR(check_node_index(impl_->options(), node_index));
  auto response = impl_->call_node(node_index, proto::RepairRequest{partition});
  if (!response.is_ok()) return response.status();
  return take_body<proto::RepairResponse>(std::move(response).value(), "repair");
}

Result<proto::SnapshotResponse> Client::snapshot(std::size_t node_index, const std::string& dir) {
  QKV_RETURN_IF_ERROR(check_node_index(impl_->options(), node_index));
  auto response = impl_->call_node(node_index, proto::SnapshotRequest{dir});
  if (!response.is_ok()) return response.status();
  return take_body<proto::SnapshotResponse>(std::move(response).value(), "snapshot");
}

namespace {

// The claimant an error answer to a ring admin request names, when it is another node than
// `asked`: nullptr otherwise (ok answers, no body, no address, or the node asked itself).
const proto::RingAdminResponse* claimant_elsewhere(const proto::ClientResponse& response,
                                                   const std::string& asked) {
  if (response.status.is_ok()) return nullptr;
  const auto* body = std::get_if<proto::RingAdminResponse>(&response.body);
  if (body == nullptr || body->claimant_address.empty() || body->claimant_address == asked) {
    return nullptr;
  }
  return body;
}

// A refusal from a non-claimant that names the claimant but not its address: gossip has
// not told that node the claimant's client address yet (just after a start).
bool claimant_address_unknown(const proto::ClientResponse& response) {
  const auto* body = std::get_if<proto::RingAdminResponse>(&response.body);
  return response.status.code() == StatusCode::kUnavailable && body != nullptr &&
         !body->claimant.empty() && body->claimant_address.empty();
}

// How long ring_admin asks such a node again (a few gossip rounds), and how often.
constexpr auto kClaimantAddressWait = std::chrono::seconds(5);
constexpr auto kClaimantAddressPoll = std::chrono::milliseconds(250);

}  // namespace

Result<proto::RingAdminResponse> Client::ring_admin(proto::RingAdminRequest request) {
  // A plan changes nothing: safe to repeat on the next node. The others change the staging
  // or the ring, and are not repeated once sent.
  const bool read_only = request.action == proto::RingAction::kPlan;
  auto first = impl_->call_any(request, 0, /*retry_after_send=*/read_only);
  if (!first.is_ok()) return first.status();
  proto::ClientResponse response = std::move(first->response);
  // The node refused without effect: asking it again is safe.
  const auto wait_until = std::chrono::steady_clock::now() + kClaimantAddressWait;
  while (claimant_address_unknown(response) && std::chrono::steady_clock::now() < wait_until) {
    std::this_thread::sleep_for(kClaimantAddressPoll);
    Attempt again = impl_->attempt_at(first->address, request);
    if (!again.response) break;
    response = std::move(*again.response);
  }
  if (const auto* claimant = claimant_elsewhere(response, first->address)) {
    std::string redirected =
        fmt::format("{} is not the claimant ({}); resent to the claimant {} at {}", first->address,
                    response.status.message(), claimant->claimant, claimant->claimant_address);
    Attempt attempt = impl_->attempt_at(claimant->claimant_address, request);
    if (!attempt.response) {
      bool unknown = attempt.sent && !read_only;
      return Status(attempt.failure.code(),
                    fmt::format("{}: {}{}", redirected, attempt.failure.message(),
                                unknown ? " (the change may have been applied: ask for a plan "
                                          "to see what is staged)"
                                        : ""));
    }
    response = std::move(*attempt.response);
  }
  return take_body<proto::RingAdminResponse>(std::move(response), "ring_admin");
}

}  // namespace qkv::client
