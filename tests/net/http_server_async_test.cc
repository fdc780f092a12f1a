// HttpServer's asynchronous handler (net/http_server.h): what the key-value API relies on —
// an answer given later is written, in order, without the idle timeout cutting the request;
// a connection closed meanwhile drops it safely; body limits follow the path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "net/http_server.h"
#include "tests/common/http_get.h"

namespace qkv::net {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The server on its own io_context thread. "/slow" is answered 300 ms later (from a timer),
// "/held" when the test calls release(); anything else at once, echoing method, path,
// connection and body size.
class AsyncHttpServerTest : public ::testing::Test {
 protected:
  void start(HttpOptions options = {}) {
    server_ = std::make_unique<HttpServer>(
        io_, "127.0.0.1", 0, options, [this](HttpRequest request, HttpServer::Respond respond) {
          HttpResponse out;
          out.body = request.method + " " + request.path + " c" +
                     std::to_string(request.connection) + " " + std::to_string(request.body.size());
          if (request.path == "/held") {
            held_ = std::move(respond);
            held_out_ = std::move(out);
            held_promise_.set_value();
            return;
          }
          if (request.path != "/slow") return respond(std::move(out));
          auto timer = std::make_shared<boost::asio::steady_timer>(io_);
          timer->expires_after(std::chrono::milliseconds(300));
          timer->async_wait([timer, respond, out](const boost::system::error_code&) mutable {
            respond(std::move(out));
          });
        });
    server_->set_on_close([this](uint64_t connection) { closed_.push_back(connection); });
    ASSERT_TRUE(server_->listen().is_ok());
    guard_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] { server_->stop(); });
    guard_.reset();
    thread_.join();
    server_.reset();
  }
  // Runs `f` on the server's thread and waits for it.
  template <typename F>
  void on_server(F f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().get();
  }

  std::string exchange_raw(const std::string& bytes) {
    return testing::exchange_raw(server_->port(), bytes);
  }

  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::thread thread_;
  HttpServer::Respond held_;
  HttpResponse held_out_;
  std::promise<void> held_promise_;
  std::vector<uint64_t> closed_;  // the server thread's
};

TEST_F(AsyncHttpServerTest, ALaterAnswerIsWrittenInOrderAndTheIdleTimeoutDoesNotCutIt) {
  HttpOptions options;
  options.idle_timeout_ms = 100;  // shorter than /slow's 300 ms
  start(options);
  const std::string out = exchange_raw(
      "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
      "PUT /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
  const auto slow = out.find("GET /slow c1 0");
  const auto fast = out.find("PUT /fast c1 3");
  ASSERT_NE(slow, std::string::npos) << out;
  ASSERT_NE(fast, std::string::npos) << out;
  EXPECT_LT(slow, fast) << "the next request waits for the answer before it";
  EXPECT_THAT(exchange_raw("DELETE /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
              HasSubstr("DELETE /x c2 0"))
      << "every method reaches an asynchronous handler; each connection has its own id";
}

TEST_F(AsyncHttpServerTest, AnAnswerToAClosedConnectionIsDroppedSafely) {
  start();
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
    const std::string request = "GET /held HTTP/1.1\r\nHost: x\r\n\r\n";
    boost::asio::write(socket, boost::asio::buffer(request));
    ASSERT_EQ(held_promise_.get_future().wait_for(std::chrono::seconds(5)),
              std::future_status::ready);
  }  // the client goes away while the answer is due
  on_server([&] { server_->stop(); });
  on_server([&] { held_(std::move(held_out_)); });  // after the stop too: dropped
  on_server([&] { EXPECT_EQ(closed_, std::vector<uint64_t>{1}); });
}

TEST_F(AsyncHttpServerTest, BodyLimitsFollowThePath) {
  HttpOptions options;
  options.body_bytes_max = 100;
  options.body_limits.push_back({"/big/", 2000, [] {
                                   HttpResponse out;
                                   out.body = "over value_bytes_max";
                                   return out;
                                 }});
  start(options);
  auto post = [&](const std::string& path, std::size_t bytes) {
    return exchange_raw("POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                        "Content-Length: " + std::to_string(bytes) + "\r\n\r\n" +
                        std::string(bytes, 'b'));
  };
  EXPECT_THAT(post("/big/k", 1000), HasSubstr("POST /big/k c1 1000"));
  const std::string over = post("/big/k", 3000);
  EXPECT_THAT(over, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(over, HasSubstr("over value_bytes_max"));
  const std::string small = post("/other", 1000);
  EXPECT_THAT(small, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(small, HasSubstr("over 100 bytes"));
}

}  // namespace
}  // namespace qkv::net

namespace qkv::net {
namespace {

// curl sends "Expect: 100-continue" before a body over 1 MiB and waits (1 s) for the go-ahead:
// the server must give it as soon as the head passed its checks.
TEST_F(AsyncHttpServerTest, AClientExpectingContinueIsToldToSendTheBody) {
  start();
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  timeval timeout{5, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  boost::asio::write(socket, boost::asio::buffer(std::string(
                                 "PUT /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                                 "Expect: 100-continue\r\nConnection: close\r\n\r\n")));
  std::string head;
  char buffer[4096];
  boost::system::error_code ec;
  while (head.find("\r\n\r\n") == std::string::npos && !ec) {
    head.append(buffer, socket.read_some(boost::asio::buffer(buffer), ec));
  }
  ASSERT_THAT(head, StartsWith("HTTP/1.1 100 Continue\r\n")) << "no go-ahead before the body";
  boost::asio::write(socket, boost::asio::buffer(std::string("abc")));
  std::string rest = head.substr(head.find("\r\n\r\n") + 4);
  for (;;) {
    const std::size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
    if (ec) break;
    rest.append(buffer, n);
  }
  EXPECT_THAT(rest, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(rest, HasSubstr("PUT /fast"));
  EXPECT_THAT(rest, HasSubstr(" 3"));
}

}  // namespace
}  // namespace qkv::net
