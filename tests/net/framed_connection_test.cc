#include "net/framed_connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "net/tcp_server.h"
#include "tests/net/transport_test_util.h"

namespace qkv::net {
namespace {

using testing::connect_client;
using testing::decode;
using ::testing::HasSubstr;
using testing::make_frame;
using testing::run_until;

// A server whose connections record every frame they receive and may echo it back.
struct RecordingServer {
  RecordingServer(asio::io_context& io, TransportOptions options, bool echo)
      : server(io, "127.0.0.1", 0, options, [this, echo](std::shared_ptr<Connection> c) {
          Connection* raw = c.get();
          c->set_on_frame([this, raw, echo](kj::ArrayPtr<const capnp::word> frame) {
            received.push_back(decode(frame));
            if (echo) {
              EXPECT_TRUE(raw->send(kj::heapArray<capnp::word>(frame)).is_ok());
            }
          });
          c->set_on_close([this] { ++closed; });
          connections.push_back(std::move(c));
        }) {
    EXPECT_TRUE(server.listen().is_ok());
  }

  TcpServer server;
  std::vector<testing::Decoded> received;
  std::vector<std::shared_ptr<Connection>> connections;
  int closed = 0;
};

TEST(FramedConnectionTest, RoundTripsThousandsOfFramesInOrder) {
  asio::io_context io;
  RecordingServer server(io, {}, /*echo=*/true);
  auto client = connect_client(io, server.server.port());
  std::vector<testing::Decoded> echoed;
  client->set_on_frame([&](kj::ArrayPtr<const capnp::word> f) { echoed.push_back(decode(f)); });
  client->start();

  constexpr uint64_t kFrames = 3000;
  const std::size_t sizes[] = {0, 1, 8, 100, 1000, 4000, 20000};
  auto value_bytes = [&](uint64_t i) -> std::size_t {
    return i % 1000 == 999 ? (1u << 20) : sizes[i % std::size(sizes)];  // 1 MiB now and then
  };
  for (uint64_t i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(client->send(make_frame(i, value_bytes(i), /*multi_segment=*/i % 3 == 0)).is_ok());
  }
  ASSERT_TRUE(run_until(io, [&] { return echoed.size() == kFrames; }));

  for (uint64_t i = 0; i < kFrames; ++i) {
    for (const auto* got : {&server.received[i], &echoed[i]}) {
      ASSERT_EQ(got->request_id, i);
      ASSERT_EQ(got->value_bytes, value_bytes(i));
      ASSERT_TRUE(got->pattern_ok) << "frame " << i;
    }
    // A 16-word first segment cannot hold a value of 100 bytes or more.
    if (i % 3 == 0 && value_bytes(i) >= 100) {
      ASSERT_GT(echoed[i].segments, 1u) << "frame " << i;
    }
  }
  EXPECT_EQ(client->stats().frames_sent, kFrames);
  EXPECT_EQ(client->stats().frames_received, kFrames);
  EXPECT_EQ(client->queued_bytes(), 0u);
}

TEST(FramedConnectionTest, APausedConnectionReadsNothingNewUntilResumedAndTheSenderBacksUp) {
  asio::io_context io;
  std::vector<testing::Decoded> received;
  std::shared_ptr<Connection> accepted;
  TcpServer server(io, "127.0.0.1", 0, {}, [&](std::shared_ptr<Connection> c) {
    c->set_on_frame([&](kj::ArrayPtr<const capnp::word> f) { received.push_back(decode(f)); });
    c->pause_reading();  // before TcpServer starts it: not even the first read
    accepted = std::move(c);
  });
  ASSERT_TRUE(server.listen().is_ok());
  auto client = connect_client(io, server.port());
  client->start();

  // More than loopback's socket buffers hold on both sides, so the sender must back up.
  constexpr uint64_t kFrames = 48;
  for (uint64_t i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(client->send(make_frame(i, 1u << 20)).is_ok());
  }
  ASSERT_TRUE(run_until(io, [&] { return accepted != nullptr; }));
  ASSERT_TRUE(accepted->reading_paused());
  // The kernel buffers fill and stay full: nothing is delivered, the client keeps a queue.
  EXPECT_FALSE(run_until(
      io, [&] { return !received.empty(); }, std::chrono::milliseconds(300)));
  EXPECT_GT(client->queued_bytes(), 0u);

  accepted->resume_reading();
  ASSERT_TRUE(run_until(io, [&] { return received.size() == kFrames; }));
  for (uint64_t i = 0; i < kFrames; ++i) ASSERT_EQ(received[i].request_id, i);

  // Paused while idle, its next read already outstanding: a frame that read brings is
  // held, not delivered, until resumed.
  accepted->pause_reading();
  ASSERT_TRUE(client->send(make_frame(kFrames, 16)).is_ok());
  EXPECT_FALSE(run_until(
      io, [&] { return received.size() > kFrames; }, std::chrono::milliseconds(300)));
  accepted->resume_reading();
  ASSERT_TRUE(run_until(io, [&] { return received.size() == kFrames + 1; }));

  // Paused while frames flow: nothing more is delivered until resumed, nothing is lost.
  accepted->pause_reading();
  for (uint64_t i = 1; i <= kFrames; ++i) {
    ASSERT_TRUE(client->send(make_frame(kFrames + i, 1u << 20)).is_ok());
  }
  EXPECT_FALSE(run_until(
      io, [&] { return received.size() > kFrames + 1; }, std::chrono::milliseconds(300)));
  accepted->resume_reading();
  ASSERT_TRUE(run_until(io, [&] { return received.size() == 2 * kFrames + 1; }));
  for (uint64_t i = 0; i <= 2 * kFrames; ++i) ASSERT_EQ(received[i].request_id, i);
}

TEST(FramedConnectionTest, CoalescesBackToBackSendsIntoFewWrites) {
  asio::io_context io;
  RecordingServer server(io, {}, /*echo=*/false);
  auto client = connect_client(io, server.server.port());
  client->start();

  constexpr uint64_t kFrames = 1000;
  for (uint64_t i = 0; i < kFrames; ++i) ASSERT_TRUE(client->send(make_frame(i, 100)).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return server.received.size() == kFrames; }));

  for (uint64_t i = 0; i < kFrames; ++i) ASSERT_EQ(server.received[i].request_id, i);
  EXPECT_EQ(client->stats().frames_sent, kFrames);
  // The first frame leaves at once; the others queue behind it and leave together.
  EXPECT_LE(client->stats().write_calls, kFrames / 100);
}

TEST(FramedConnectionTest, OversizedFrameNamesLimitAndServerSendsOneFrameBeforeClose) {
  asio::io_context io;
  TransportOptions server_options;
  server_options.frame_bytes_max = 4096;
  std::vector<uint64_t> server_received;
  Status frame_error;
  Status error_reply;
  TcpServer server(io, "127.0.0.1", 0, server_options, [&](std::shared_ptr<Connection> c) {
    Connection* raw = c.get();
    c->set_on_frame([&](kj::ArrayPtr<const capnp::word> f) {
      server_received.push_back(decode(f).request_id);
    });
    c->set_on_error([&, raw](const Status& status) {
      frame_error = status;
      // Large enough not to leave in one write: the close must wait for the flush.
      error_reply = raw->send(make_frame(777, 8u << 20));
    });
  });
  ASSERT_TRUE(server.listen().is_ok());

  auto client = connect_client(io, server.port());
  std::vector<testing::Decoded> client_received;
  bool client_closed = false;
  client->set_on_frame(
      [&](kj::ArrayPtr<const capnp::word> f) { client_received.push_back(decode(f)); });
  client->set_on_close([&] { client_closed = true; });
  client->start();
  ASSERT_TRUE(client->send(make_frame(1, 100)).is_ok());
  ASSERT_TRUE(client->send(make_frame(2, 10000)).is_ok());  // over frame_bytes_max
  ASSERT_TRUE(client->send(make_frame(3, 100)).is_ok());    // after the error: never read

  ASSERT_TRUE(run_until(io, [&] { return client_closed && server.connection_count() == 0; }));
  EXPECT_EQ(server_received, std::vector<uint64_t>{1});
  EXPECT_EQ(frame_error.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(frame_error.message(), HasSubstr("frame_bytes_max is 4096"));
  EXPECT_TRUE(error_reply.is_ok()) << error_reply.to_string();
  ASSERT_EQ(client_received.size(), 1u);
  EXPECT_EQ(client_received[0].request_id, 777u);
  EXPECT_EQ(client_received[0].value_bytes, 8u << 20);
  EXPECT_TRUE(client_received[0].pattern_ok);
}

TEST(FramedConnectionTest, ImpossibleSegmentTableIsCorruption) {
  asio::io_context io;
  Status frame_error;
  int server_closed = 0;
  TcpServer server(io, "127.0.0.1", 0, {}, [&](std::shared_ptr<Connection> c) {
    c->set_on_error([&](const Status& status) { frame_error = status; });
    c->set_on_close([&] { ++server_closed; });
  });
  ASSERT_TRUE(server.listen().is_ok());
  auto client = connect_client(io, server.port());
  client->start();

  auto bogus = kj::heapArray<capnp::word>(2);
  std::memset(reinterpret_cast<kj::byte*>(bogus.begin()), 0, testing::frame_bytes(bogus));
  uint32_t segments_minus_one = 100000;
  std::memcpy(reinterpret_cast<kj::byte*>(bogus.begin()), &segments_minus_one,
              sizeof segments_minus_one);
  ASSERT_TRUE(client->send(std::move(bogus)).is_ok());

  ASSERT_TRUE(run_until(io, [&] { return server_closed == 1; }));
  EXPECT_EQ(frame_error.code(), StatusCode::kCorruption);
  EXPECT_THAT(frame_error.message(), HasSubstr("segments"));
}

TEST(FramedConnectionTest, SendQueueOverItsBoundIsOverloaded) {
  asio::io_context io;
  RecordingServer server(io, {}, /*echo=*/false);
  TransportOptions options;
  options.send_queue_bytes_max = 64 * 1024;
  auto client = connect_client(io, server.server.port(), options);
  client->start();

  // The io_context does not run between these sends, so no write completes: the whole
  // queue, in flight included, counts against the bound.
  const uint64_t frame_size = testing::frame_bytes(make_frame(0, 16000));
  const uint64_t fits = options.send_queue_bytes_max / frame_size;
  for (uint64_t i = 0; i < fits; ++i) ASSERT_TRUE(client->send(make_frame(i, 16000)).is_ok());
  EXPECT_EQ(client->queued_bytes(), fits * frame_size);
  Status overloaded = client->send(make_frame(fits, 16000));
  EXPECT_EQ(overloaded.code(), StatusCode::kOverloaded);
  EXPECT_THAT(overloaded.message(), HasSubstr("send_queue_bytes_max 65536"));

  // Once the queue drains, sends are accepted again.
  ASSERT_TRUE(run_until(io, [&] { return client->queued_bytes() == 0; }));
  ASSERT_TRUE(client->send(make_frame(fits, 16000)).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return server.received.size() == fits + 1; }));
  EXPECT_EQ(server.received.back().request_id, fits);
}

TEST(FramedConnectionTest, CloseIsIdempotentAndLaterSendsAreUnavailable) {
  asio::io_context io;
  RecordingServer server(io, {}, /*echo=*/false);
  auto client = connect_client(io, server.server.port());
  int client_closed = 0;
  client->set_on_close([&] { ++client_closed; });
  client->start();
  ASSERT_TRUE(run_until(io, [&] { return server.connections.size() == 1; }));

  client->close();
  client->close();
  EXPECT_EQ(client_closed, 1);
  EXPECT_TRUE(client->is_closed());
  Status late = client->send(make_frame(1, 10));
  EXPECT_EQ(late.code(), StatusCode::kUnavailable);
  EXPECT_THAT(late.message(), HasSubstr("127.0.0.1:"));
  ASSERT_TRUE(run_until(io, [&] { return server.closed == 1; }));  // the peer sees it
}

TEST(FramedConnectionTest, CloseAfterFlushDeliversQueuedFramesFirst) {
  asio::io_context io;
  RecordingServer server(io, {}, /*echo=*/false);
  auto client = connect_client(io, server.server.port());
  bool client_closed = false;
  client->set_on_close([&] { client_closed = true; });
  client->start();
  for (uint64_t i = 0; i < 50; ++i) ASSERT_TRUE(client->send(make_frame(i, 5000)).is_ok());
  client->close_after_flush();
  EXPECT_EQ(client->send(make_frame(99, 1)).code(), StatusCode::kUnavailable);

  // The server reads all 50 frames, sees the end of the stream and closes; the client,
  // draining, sees that and closes too (well before close_linger_ms).
  ASSERT_TRUE(run_until(io, [&] { return client_closed && server.closed == 1; }));
  ASSERT_EQ(server.received.size(), 50u);
  EXPECT_EQ(server.received.back().request_id, 49u);
}

}  // namespace
}  // namespace qkv::net
