// HttpServer (net/http_server.h): what the operations port promises any HTTP client —
// requests routed with their decoded query, keep-alive, HEAD, and bad input answered with
// a status naming the limit instead of a hang or a crash.
#include "net/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "tests/common/http_get.h"

namespace qkv::net {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The server on its own io_context thread; the handler echoes what it was given.
class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpOptions options = {}) {
    server_ =
        std::make_unique<HttpServer>(io_, "127.0.0.1", 0, options, [](const HttpRequest& request) {
          HttpResponse out;
          out.body = request.method + " " + request.path;
          for (const auto& [k, v] : request.query) {
            out.body += " " + k + "=" + v;
          }
          if (!request.body.empty()) out.body += " body";
          return out;
        });
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
  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  std::string exchange_raw(const std::string& bytes) {
    return testing::exchange_raw(server_->port(), bytes);
  }

  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::thread thread_;
};

TEST_F(HttpServerTest, RoutesAGetWithItsDecodedQuery) {
  start();
  auto reply = testing::http_request(address(), "/health/ready?settled=1&name=a%20b+c");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
  EXPECT_EQ(reply->body, "GET /health/ready name=a b c settled=1");
}

TEST_F(HttpServerTest, KeepsTheConnectionForTheNextRequest) {
  start();
  const std::string out = exchange_raw(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("GET /a"));
  EXPECT_THAT(out, HasSubstr("GET /b"));
}

TEST_F(HttpServerTest, HeadAnswersTheHeadersOfAGetWithoutItsBody) {
  start();
  const std::string out = exchange_raw("HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(out, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(out, HasSubstr("Content-Length: 7\r\n")) << "that of 'HEAD /x'";
  EXPECT_THAT(out, ::testing::EndsWith("\r\n\r\n")) << "no body";
}

TEST_F(HttpServerTest, AnOversizedHeadGets431NamingTheLimit) {
  HttpOptions options;
  options.header_bytes_max = 1024;
  start(options);
  const std::string out =
      exchange_raw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_THAT(out, StartsWith("HTTP/1.1 431"));
  EXPECT_THAT(out, HasSubstr("over 1024 bytes"));
}

TEST_F(HttpServerTest, AnOversizedBodyGets413NamingTheLimit) {
  HttpOptions options;
  options.body_bytes_max = 100;
  start(options);
  const std::string out = exchange_raw(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b'));
  EXPECT_THAT(out, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(out, HasSubstr("over 100 bytes"));
}

TEST_F(HttpServerTest, GarbageGets400AndTheServerGoesOn) {
  start();
  EXPECT_THAT(exchange_raw("NOT HTTP AT ALL\r\n\r\n"), StartsWith("HTTP/1.1 400"));
  auto reply = testing::http_request(address(), "/still-there");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
}

TEST_F(HttpServerTest, MethodsOtherThanGetHeadAndPostGet405) {
  start();
  auto reply = testing::http_request(address(), "/x", "DELETE");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 405u);
  EXPECT_THAT(reply->body, HasSubstr("DELETE"));
}

TEST_F(HttpServerTest, ConnectionsPastTheMaximumAreClosed) {
  HttpOptions options;
  options.connections_max = 2;
  start(options);
  boost::asio::io_context io;
  std::vector<boost::asio::ip::tcp::socket> open;
  for (int i = 0; i < 2; ++i) {
    open.emplace_back(io);
    open.back().connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  }
  // Wait (bounded) until the server has taken both.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::size_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::promise<std::size_t> count;
    boost::asio::post(io_, [&] { count.set_value(server_->connection_count()); });
    if ((seen = count.get_future().get()) == 2) break;
    std::this_thread::yield();
  }
  ASSERT_EQ(seen, 2u);
  EXPECT_EQ(exchange_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "") << "closed unanswered";
}

TEST(HttpTargetTest, SplitsPathAndQuery) {
  auto [path, query] = HttpServer::parse_target("/p%2Fq?a=1&b&c=%zz&=x");
  EXPECT_EQ(path, "/p/q");
  EXPECT_EQ(query.at("a"), "1");
  EXPECT_EQ(query.at("b"), "");
  EXPECT_EQ(query.at("c"), "%zz") << "a malformed escape is kept";
  EXPECT_EQ(query.at(""), "x");
}

}  // namespace
}  // namespace qkv::net
