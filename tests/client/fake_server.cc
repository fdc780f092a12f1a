#include "tests/client/fake_server.h"

#include <fmt/format.h>

#include "common/assert.h"
#include "proto/client_codec.h"
#include "proto/framing.h"

namespace qkv::client::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct FakeServer::Session {
  explicit Session(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  proto::FrameReader reader{64 * 1024 * 1024};
};

FakeServer::FakeServer(Script script)
    : script_(std::move(script)),
      acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

FakeServer::~FakeServer() {
  io_.stop();
  thread_.join();
}

std::string FakeServer::address() const {
  return fmt::format("127.0.0.1:{}", acceptor_.local_endpoint().port());
}

std::vector<proto::ClientRequest> FakeServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t FakeServer::connections_accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

std::size_t FakeServer::connections_closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

bool FakeServer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

bool FakeServer::wait_for_closed(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return closed_ >= n; });
}

void FakeServer::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec) return;
    {
      std::lock_guard lock(mu_);
      ++accepted_;
    }
    read(std::make_shared<Session>(std::move(socket)));
    accept();
  });
}

void FakeServer::read(std::shared_ptr<Session> session) {
  auto space = session->reader.prepare(64 * 1024);
  session->socket.async_read_some(
      asio::buffer(space.data(), space.size()),
      [this, session](const boost::system::error_code& ec, std::size_t n) {
        if (ec) return;  // the client went away: drop the session
        session->reader.commit(n);
        for (;;) {
          auto frame = session->reader.next();
          QKV_ASSERT(frame.is_ok());
          if (!frame->has_value()) break;
          auto request = proto::decode_client_request(**frame);
          QKV_ASSERT(request.is_ok());
          handle(*session, *request);
          if (!session->socket.is_open()) return;
        }
        read(session);
      });
}

void FakeServer::handle(Session& session, const proto::ClientRequest& request) {
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
  }
  cv_.notify_all();
  Reply reply = script_(request);
  boost::system::error_code ec;
  for (const auto& response : reply.responses) {
    auto frame = proto::encode(response);
    asio::write(session.socket, asio::buffer(frame.begin(), frame.size() * sizeof(capnp::word)),
                ec);
  }
  if (reply.close) {
    session.socket.shutdown(tcp::socket::shutdown_both, ec);
    session.socket.close(ec);
    {
      std::lock_guard lock(mu_);
      ++closed_;
    }
    cv_.notify_all();
  }
}

std::string refusing_address() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto port = acceptor.local_endpoint().port();
  acceptor.close();
  return fmt::format("127.0.0.1:{}", port);
}

FakeServer::Script MemoryStore::script() {
  return [this](const proto::ClientRequest& request) { return Reply{{apply(request)}, false}; };
}

proto::ClientResponse MemoryStore::apply(const proto::ClientRequest& request) {
  std::lock_guard lock(mu_);
  proto::ClientResponse response;
  response.request_id = request.request_id;
  if (const auto* get = std::get_if<proto::GetRequest>(&request.op)) {
    const State& state = keys_[get->key];
    if (state.siblings.empty()) response.status = Status::not_found("not found");
    response.body = proto::GetResponse{state.siblings, fmt::format("v{}", state.version)};
  } else if (const auto* put = std::get_if<proto::PutRequest>(&request.op)) {
    State& state = keys_[put->key];
    if (put->context == fmt::format("v{}", state.version)) state.siblings.clear();
    state.siblings.push_back(put->value);
    ++state.version;
    response.body = proto::PutResponse{fmt::format("v{}", state.version)};
  } else if (const auto* del = std::get_if<proto::DeleteRequest>(&request.op)) {
    State& state = keys_[del->key];
    if (del->context == fmt::format("v{}", state.version)) state.siblings.clear();
    ++state.version;
    response.body = proto::PutResponse{fmt::format("v{}", state.version)};
  } else if (std::holds_alternative<proto::RingRequest>(request.op)) {
    response.body = proto::RingResponse{4, 2, {"n1", "n2", "n1", "n1"}};
  } else {
    proto::StatusResponse status;
    status.node_id = "n1";
    status.incarnation = 7;
    status.version = "test";
    status.n = 3;
    status.r = status.w = 2;
    status.members = {"n1", "n2"};
    status.counters = {{"client_requests", 1}};
    response.body = std::move(status);
  }
  return response;
}

}  // namespace qkv::client::testing
