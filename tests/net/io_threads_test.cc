// I/O threads (net/io_threads.h): a TcpServer whose sockets another thread serves behaves,
// seen from its owner thread, as one serving them itself — frames in order, answers out,
// pauses, frame errors answered before the close, TLS, closes from either end — and its
// handlers only ever run on the owner thread.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <thread>

#include "net/io_threads.h"
#include "net/peer_links.h"
#include "net/tcp_server.h"
#include "net/tls.h"
#include "tests/net/transport_test_util.h"
#include "tests/tls/test_certs.h"

namespace qkv::net {
namespace {

using testing::connect_client;
using testing::decode;
using testing::make_frame;
using testing::run_until;

// One set of certificates for the whole binary (openssl takes a moment per key).
qkv::testing::TestCerts& certs() {
  static qkv::testing::TestCerts certs(fmt::format(
      "{}/qkv-io-threads-test-{}", std::filesystem::temp_directory_path().string(), ::getpid()));
  return certs;
}

// A TLS context source of `role` with node `id`'s certificate, trusting the test CA and
// requiring a certificate of the other end.
std::unique_ptr<TlsContextSource> tls_source(TlsRole role, const std::string& id) {
  TlsOptions options;
  options.cert_file = certs().node(id).cert;
  options.key_file = certs().node(id).key;
  options.ca_file = certs().ca();
  options.require_client_cert = true;
  auto source = TlsContextSource::load(role, options);
  EXPECT_TRUE(source.is_ok()) << source.status().to_string();
  return source.is_ok() ? std::move(source).value() : nullptr;
}

// An echo server on the owner thread (the test's) whose sockets `threads` serve. Records
// what it received, and on which thread each handler ran.
struct ThreadedEcho {
  ThreadedEcho(asio::io_context& io, unsigned thread_count, TransportOptions options = {})
      : threads(io, thread_count),
        server(io, "127.0.0.1", 0, options, [this](std::shared_ptr<Connection> c) {
          Connection* raw = c.get();
          c->set_on_frame([this, raw](kj::ArrayPtr<const capnp::word> frame) {
            on_owner = on_owner && std::this_thread::get_id() == owner;
            received.push_back(decode(frame).request_id);
            if (echo) {
              EXPECT_TRUE(raw->send(kj::heapArray<capnp::word>(frame)).is_ok());
            }
          });
          c->set_on_error([this, raw](const Status& status) {
            errors.push_back(status);
            // The answer to a frame error crosses after the error did, and still leaves.
            EXPECT_TRUE(raw->send(make_frame(999, 1)).is_ok());
          });
          c->set_on_close([this] {
            on_owner = on_owner && std::this_thread::get_id() == owner;
            ++closed;
          });
          if (keep) connections.push_back(std::move(c));
        }) {
    server.set_io_threads(&threads);
    EXPECT_TRUE(server.listen().is_ok());
  }

  // Declared before the threads and the server: their handlers use these while those stop.
  std::thread::id owner = std::this_thread::get_id();
  std::vector<std::shared_ptr<Connection>> connections;
  std::vector<uint64_t> received;
  std::vector<Status> errors;
  int closed = 0;
  bool echo = true;
  bool keep = true;  // false: handlers hold the only (raw) references, as a peer port's do
  bool on_owner = true;
  IoThreads threads;
  TcpServer server;
};

// A client of `port` on the test's thread that records the request ids it is answered
// with and whether its connection closed.
struct RecordingClient {
  RecordingClient(asio::io_context& io, uint16_t port) : connection(connect_client(io, port)) {
    connection->set_on_frame([this](auto f) { answers.push_back(decode(f).request_id); });
    connection->set_on_close([this] { closed = true; });
    connection->start();
  }
  Status send(uint64_t id, std::size_t value_bytes = 10) {
    return connection->send(make_frame(id, value_bytes));
  }
  std::shared_ptr<FramedConnection> connection;
  std::vector<uint64_t> answers;
  bool closed = false;
};

TEST(IoThreadsTest, FramesCrossBothWaysInOrderAndHandlersRunOnTheOwnerThread) {
  asio::io_context io;
  ThreadedEcho server(io, 2);
  std::vector<std::shared_ptr<FramedConnection>> clients;
  std::vector<std::vector<uint64_t>> echoed(4);
  for (int c = 0; c < 4; ++c) {  // round-robin: two connections on each I/O thread
    clients.push_back(connect_client(io, server.server.port()));
    clients.back()->set_on_frame(
        [&, c](kj::ArrayPtr<const capnp::word> f) { echoed[c].push_back(decode(f).request_id); });
    clients.back()->start();
  }
  constexpr uint64_t kFrames = 2000;
  for (uint64_t i = 0; i < kFrames; ++i) {
    for (int c = 0; c < 4; ++c)
      ASSERT_TRUE(clients[c]->send(make_frame(c * kFrames + i, 100)).is_ok());
  }
  ASSERT_TRUE(run_until(io, [&] {
    for (const auto& e : echoed) {
      if (e.size() < kFrames) return false;
    }
    return true;
  }));
  for (int c = 0; c < 4; ++c) {
    for (uint64_t i = 0; i < kFrames; ++i) ASSERT_EQ(echoed[c][i], c * kFrames + i);
  }
  EXPECT_EQ(server.received.size(), 4 * kFrames);
  EXPECT_EQ(server.server.connection_count(), 4u);
  EXPECT_TRUE(server.connections[0]->remote_endpoint().starts_with("127.0.0.1:"));
  EXPECT_FALSE(server.connections[0]->is_tls());

  for (auto& c : clients) c->close();
  ASSERT_TRUE(run_until(io, [&] { return server.closed == 4; }));
  EXPECT_TRUE(server.on_owner) << "a handler ran on an I/O thread";
  EXPECT_EQ(server.server.connection_count(), 0u);
}

TEST(IoThreadsTest, AConnectionNobodyHoldsServesUntilItCloses) {
  asio::io_context io;
  ThreadedEcho server(io, 1);
  server.keep = false;
  RecordingClient client(io, server.server.port());
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(client.send(i).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return client.answers.size() == 10; }));
  client.connection->close();
  ASSERT_TRUE(run_until(io, [&] { return server.closed == 1; }));
}

TEST(IoThreadsTest, APausedConnectionDeliversNothingUntilResumed) {
  asio::io_context io;
  ThreadedEcho server(io, 1);
  server.echo = false;
  auto client = connect_client(io, server.server.port());
  client->start();
  ASSERT_TRUE(client->send(make_frame(1, 10)).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return server.received.size() == 1; }));

  server.connections[0]->pause_reading();
  EXPECT_TRUE(server.connections[0]->reading_paused());
  for (uint64_t i = 2; i <= 50; ++i) ASSERT_TRUE(client->send(make_frame(i, 10)).is_ok());
  // Nothing is delivered while paused, however long the owner runs.
  EXPECT_FALSE(run_until(
      io, [&] { return server.received.size() > 1; }, std::chrono::milliseconds(300)));
  server.connections[0]->resume_reading();
  ASSERT_TRUE(run_until(io, [&] { return server.received.size() == 50; }));
  for (uint64_t i = 0; i < 50; ++i) EXPECT_EQ(server.received[i], i + 1);
}

TEST(IoThreadsTest, AFrameErrorIsAnsweredThenTheConnectionCloses) {
  asio::io_context io;
  TransportOptions small;
  small.frame_bytes_max = 4096;
  ThreadedEcho server(io, 1, small);
  RecordingClient client(io, server.server.port());
  ASSERT_TRUE(client.send(1).is_ok());
  ASSERT_TRUE(client.send(2, 10000).is_ok());  // over frame_bytes_max
  ASSERT_TRUE(run_until(io, [&] { return client.closed; }));
  ASSERT_EQ(server.errors.size(), 1u);
  EXPECT_THAT(server.errors[0].message(), ::testing::HasSubstr("frame_bytes_max"));
  EXPECT_THAT(client.answers, ::testing::ElementsAre(1, 999));  // the echo, then the error's answer
  ASSERT_TRUE(run_until(io, [&] { return server.closed == 1; }));
}

TEST(IoThreadsTest, ClosingFromTheOwnerClosesTheSocketAndRefusesLaterSends) {
  asio::io_context io;
  ThreadedEcho server(io, 1);
  RecordingClient client(io, server.server.port());
  ASSERT_TRUE(client.send(1).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return server.received.size() == 1; }));

  auto handle = server.connections[0];
  handle->close();
  EXPECT_EQ(server.closed, 1);  // on_close runs within close(), as FramedConnection's does
  EXPECT_TRUE(handle->is_closed());
  EXPECT_EQ(handle->send(make_frame(2, 10)).code(), StatusCode::kUnavailable);
  handle->close();  // idempotent
  EXPECT_EQ(server.closed, 1);
  ASSERT_TRUE(run_until(io, [&] { return client.closed; }));
}

TEST(IoThreadsTest, CloseAfterFlushDeliversTheLastAnswersFirst) {
  asio::io_context io;
  ThreadedEcho server(io, 1);
  server.echo = false;
  RecordingClient client(io, server.server.port());
  ASSERT_TRUE(client.send(1).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return server.received.size() == 1; }));
  auto handle = server.connections[0];
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(handle->send(make_frame(i, 1000)).is_ok());
  handle->close_after_flush();
  EXPECT_EQ(handle->send(make_frame(100, 1)).code(), StatusCode::kUnavailable);
  ASSERT_TRUE(run_until(io, [&] { return client.closed; }));
  ASSERT_EQ(client.answers.size(), 100u);
  ASSERT_TRUE(run_until(io, [&] { return server.closed == 1; }));
}

TEST(IoThreadsTest, DestroyingTheThreadsClosesTheirSocketsAndLeavesHandlesSafe) {
  asio::io_context io;
  auto server = std::make_unique<ThreadedEcho>(io, 2);
  RecordingClient client(io, server->server.port());
  ASSERT_TRUE(client.send(1).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return server->received.size() == 1; }));
  std::shared_ptr<Connection> handle = server->connections[0];
  server->server.stop_accepting();
  server->connections.clear();
  {
    // The server's members, threads last; the handle outlives them.
    auto gone = std::move(server);
  }
  ASSERT_TRUE(run_until(io, [&] { return client.closed; }));
  EXPECT_FALSE(handle->send(make_frame(2, 10)).is_ok());
  handle->close();  // does nothing harmful once its thread is gone
}

TEST(IoThreadsTest, TlsHandshakesRunOnTheIoThreadAndPlaintextIsRefused) {
  auto server_tls = tls_source(TlsRole::kServer, "n1");
  auto client_tls = tls_source(TlsRole::kClient, "n2");
  ASSERT_TRUE(server_tls && client_tls);
  asio::io_context io;
  ThreadedEcho server(io, 1);
  std::vector<Status> failures;
  server.server.set_tls([&] { return server_tls->current(); }, {std::byte{'n'}, std::byte{'o'}},
                        [&](const Status& s) { failures.push_back(s); });

  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), server.server.port()});
  std::optional<Result<TlsStream>> outcome;
  connect_tls(std::move(socket), client_tls->current(), "127.0.0.1", false, 5000,
              [&](Result<TlsStream> s) { outcome.emplace(std::move(s)); });
  ASSERT_TRUE(run_until(io, [&] { return outcome.has_value(); }));
  ASSERT_TRUE(outcome->is_ok()) << outcome->status().to_string();
  auto client = FramedConnection::create(std::move(*outcome).value(), client_tls->current(), {});
  std::vector<uint64_t> echoed;
  client->set_on_frame([&](auto f) { echoed.push_back(decode(f).request_id); });
  client->start();
  for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(client->send(make_frame(i, 1000)).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return echoed.size() == 20; }));
  ASSERT_EQ(server.connections.size(), 1u);
  EXPECT_TRUE(server.connections[0]->is_tls());
  EXPECT_THAT(server.connections[0]->peer_names(), ::testing::ElementsAre("n2", "localhost"));

  asio::ip::tcp::socket plain(io);
  plain.connect({asio::ip::make_address("127.0.0.1"), server.server.port()});
  auto frame = make_frame(7, 10);
  asio::write(plain, asio::buffer(frame.begin(), testing::frame_bytes(frame)));
  ASSERT_TRUE(run_until(io, [&] { return failures.size() == 1; }));
  EXPECT_THAT(failures[0].message(), ::testing::HasSubstr("plaintext"));
  EXPECT_EQ(server.server.tls_handshake_failures(), 1u);
  EXPECT_EQ(server.connections.size(), 1u);  // the refused one never reached on_accept
}

// Outbound peer links whose sockets (and client handshakes) an I/O thread serves.
TEST(IoThreadsTest, PeerLinksSendInOrderFromAnIoThreadAndAWronglyNamedPeerIsAFailedConnect) {
  auto server_tls = tls_source(TlsRole::kServer, "n2");
  auto client_tls = tls_source(TlsRole::kClient, "n1");
  ASSERT_TRUE(server_tls && client_tls);

  asio::io_context io;
  std::vector<uint64_t> received;
  TcpServer peer_port(io, "127.0.0.1", 0, {}, [&](std::shared_ptr<Connection> c) {
    c->set_on_frame([&](auto f) { received.push_back(decode(f).request_id); });
  });
  peer_port.set_tls([&] { return server_tls->current(); }, {}, nullptr);
  ASSERT_TRUE(peer_port.listen().is_ok());

  IoThreads threads(io, 1);
  PeerLinks links(io, {});
  links.set_io_threads(&threads);
  links.set_tls([&] { return client_tls->current(); },
                [](const NodeId& link) { return link == "impostor" ? "n3" : link; });
  std::vector<std::string> unreachable;
  links.set_on_unreachable(
      [&](const NodeId& peer, const std::string&, bool) { unreachable.push_back(peer); });
  links.set_address("n2", "127.0.0.1", peer_port.port());
  links.set_address("impostor", "127.0.0.1", peer_port.port());  // n2 answers, not n3

  for (uint64_t i = 0; i < 500; ++i) ASSERT_TRUE(links.send("n2", make_frame(i, 200)).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return received.size() == 500; }));
  for (uint64_t i = 0; i < 500; ++i) ASSERT_EQ(received[i], i);
  EXPECT_EQ(links.counters().connects, 1u);

  ASSERT_TRUE(links.send("impostor", make_frame(1000, 10)).is_ok());  // queued while connecting
  ASSERT_TRUE(run_until(io, [&] { return !unreachable.empty(); }));
  EXPECT_EQ(unreachable[0], "impostor");
  EXPECT_EQ(links.counters().tls_handshake_failures, 1u);
  EXPECT_EQ(links.counters().frames_dropped, 1u);
  EXPECT_EQ(received.size(), 500u);
  links.close_all();
}

}  // namespace
}  // namespace qkv::net
