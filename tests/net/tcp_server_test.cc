#include "net/tcp_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/net/transport_test_util.h"

namespace qkv::net {
namespace {

using testing::connect_client;
using ::testing::HasSubstr;
using testing::make_frame;
using testing::run_until;

TEST(TcpServerTest, PortZeroBindsAFreePortAndServesConnections) {
  asio::io_context io;
  std::vector<std::shared_ptr<Connection>> accepted;
  TcpServer server(io, "127.0.0.1", 0, {},
                   [&](std::shared_ptr<Connection> c) { accepted.push_back(c); });
  EXPECT_EQ(server.port(), 0);
  ASSERT_TRUE(server.listen().is_ok());
  ASSERT_NE(server.port(), 0);

  auto client = connect_client(io, server.port());
  std::vector<uint64_t> received;
  client->set_on_frame([&](kj::ArrayPtr<const capnp::word> f) {
    received.push_back(testing::decode(f).request_id);
  });
  client->start();
  ASSERT_TRUE(run_until(io, [&] { return accepted.size() == 1; }));
  EXPECT_THAT(accepted[0]->remote_endpoint(), HasSubstr("127.0.0.1:"));
  ASSERT_TRUE(accepted[0]->send(make_frame(5, 10)).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return received.size() == 1; }));
  EXPECT_EQ(received[0], 5u);
  EXPECT_EQ(server.accepted_count(), 1u);
  EXPECT_EQ(server.connection_count(), 1u);
}

TEST(TcpServerTest, ListenOnAPortInUseIsIoErrorNamingIt) {
  asio::io_context io;
  TcpServer first(io, "127.0.0.1", 0, {}, nullptr);
  ASSERT_TRUE(first.listen().is_ok());
  TcpServer second(io, "127.0.0.1", first.port(), {}, nullptr);

  Status status = second.listen();
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_THAT(status.message(), HasSubstr("127.0.0.1:" + std::to_string(first.port())));
  EXPECT_THAT(status.message(), HasSubstr("in use"));
  EXPECT_EQ(second.port(), 0);
}

TEST(TcpServerTest, ListenTwiceIsInvalidArgument) {
  asio::io_context io;
  TcpServer server(io, "127.0.0.1", 0, {}, nullptr);
  ASSERT_TRUE(server.listen().is_ok());
  EXPECT_EQ(server.listen().code(), StatusCode::kInvalidArgument);
}

TEST(TcpServerTest, StopClosesAcceptedConnectionsAndTheAcceptor) {
  asio::io_context io;
  int server_side_closed = 0;
  TcpServer server(io, "127.0.0.1", 0, {}, [&](std::shared_ptr<Connection> c) {
    c->set_on_close([&] { ++server_side_closed; });  // the server keeps no strong reference
  });
  ASSERT_TRUE(server.listen().is_ok());
  const uint16_t port = server.port();

  int clients_closed = 0;
  std::vector<std::shared_ptr<FramedConnection>> clients;
  for (int i = 0; i < 2; ++i) {
    clients.push_back(connect_client(io, port));
    clients.back()->set_on_close([&] { ++clients_closed; });
    clients.back()->start();
  }
  ASSERT_TRUE(run_until(io, [&] { return server.connection_count() == 2; }));

  server.stop();
  EXPECT_EQ(server_side_closed, 2);
  EXPECT_EQ(server.connection_count(), 0u);
  ASSERT_TRUE(run_until(io, [&] { return clients_closed == 2; }));

  asio::ip::tcp::socket late(io);
  boost::system::error_code ec;
  late.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
  server.stop();  // idempotent
}

TEST(TcpServerTest, StopAcceptingKeepsOpenConnectionsServing) {
  asio::io_context io;
  std::vector<std::shared_ptr<Connection>> accepted;
  TcpServer server(io, "127.0.0.1", 0, {},
                   [&](std::shared_ptr<Connection> c) { accepted.push_back(c); });
  ASSERT_TRUE(server.listen().is_ok());
  const uint16_t port = server.port();
  auto client = connect_client(io, port);
  int received = 0;
  client->set_on_frame([&](kj::ArrayPtr<const capnp::word>) { ++received; });
  client->start();
  ASSERT_TRUE(run_until(io, [&] { return accepted.size() == 1; }));

  server.stop_accepting();
  asio::ip::tcp::socket late(io);
  boost::system::error_code ec;
  late.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
  ASSERT_TRUE(accepted[0]->send(make_frame(9, 10)).is_ok()) << "a draining server still replies";
  ASSERT_TRUE(run_until(io, [&] { return received == 1; }));
}

}  // namespace
}  // namespace qkv::net
