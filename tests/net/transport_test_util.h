// Helpers for the transport tests: frames built from a real generated struct, and running
// an io_context until a condition holds or a deadline passes (never sleep-and-hope).
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>

#include "common/asio.h"
#include "net/framed_connection.h"
#include "proto/client.capnp.h"

namespace qkv::net::testing {

inline constexpr std::chrono::milliseconds kDeadline(10000);

inline uint8_t pattern_byte(uint64_t id, std::size_t i) {
  return static_cast<uint8_t>(id + i);
}

// A framed ClientRequest with `request_id` and a put of `value_bytes` patterned bytes.
// `multi_segment`: small fixed-size segments, so the frame has several segments.
inline kj::Array<capnp::word> make_frame(uint64_t request_id, std::size_t value_bytes,
                                         bool multi_segment = false) {
  auto builder = multi_segment ? std::make_unique<capnp::MallocMessageBuilder>(
                                     16, capnp::AllocationStrategy::FIXED_SIZE)
                               : std::make_unique<capnp::MallocMessageBuilder>();
  auto request = builder->initRoot<wire::ClientRequest>();
  request.setRequestId(request_id);
  auto put = request.initPut();
  put.setKey(kj::arrayPtr(reinterpret_cast<const kj::byte*>("key"), 3));
  auto value = put.initValue(value_bytes);
  for (std::size_t i = 0; i < value_bytes; ++i) value[i] = pattern_byte(request_id, i);
  return capnp::messageToFlatArray(*builder);
}

inline uint64_t frame_bytes(const kj::Array<capnp::word>& frame) {
  return frame.size() * sizeof(capnp::word);
}

struct Decoded {
  uint64_t request_id = 0;
  std::size_t value_bytes = 0;
  bool pattern_ok = false;
  uint32_t segments = 0;
};

inline Decoded decode(kj::ArrayPtr<const capnp::word> frame) {
  Decoded out;
  uint32_t segments_minus_one;
  std::memcpy(&segments_minus_one, frame.begin(), sizeof segments_minus_one);
  out.segments = segments_minus_one + 1;
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 1u << 24;
  options.nestingLimit = 16;
  capnp::FlatArrayMessageReader reader(frame, options);
  auto request = reader.getRoot<wire::ClientRequest>();
  out.request_id = request.getRequestId();
  auto value = request.getPut().getValue();
  out.value_bytes = value.size();
  out.pattern_ok = true;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != pattern_byte(out.request_id, i)) out.pattern_ok = false;
  }
  return out;
}

// Runs `io` until `done()` holds (true) or `timeout` passes (false).
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = kDeadline) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto work = asio::make_work_guard(io);  // so run_one_until waits instead of returning
  io.restart();
  while (!done()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    io.run_one_until(std::min(deadline, now + std::chrono::milliseconds(10)));
  }
  return true;
}

// A client connection to 127.0.0.1:`port` (a blocking connect: the kernel completes it
// from the listen backlog, before the server's accept handler runs).
inline std::shared_ptr<FramedConnection> connect_client(asio::io_context& io, uint16_t port,
                                                        const TransportOptions& options = {}) {
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  return FramedConnection::create(std::move(socket), options);
}

// A loopback port with no listener (bound by the kernel, then released).
inline uint16_t free_port(asio::io_context& io) {
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

}  // namespace qkv::net::testing
