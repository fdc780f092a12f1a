// libFuzzer harness: proto::FrameReader (proto/framing.h), which splits every TCP byte
// stream (client and peer connections) into frames. The first input byte sets the read
// chunk size, so frames are split across reads as a socket splits them; the rest is the
// stream. Every frame handed out must be whole and within frame_bytes_max, and every byte
// read must be either in a frame or still buffered.
#include <algorithm>

#include "proto/framing.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr uint64_t kFrameBytesMax = 64 * 1024;

// The size a well-formed frame's segment table says it has.
uint64_t table_size(kj::ArrayPtr<const capnp::word> frame) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(frame.begin());
  auto u32 = [&](std::size_t i) {
    uint32_t v;
    std::memcpy(&v, bytes + 4 * i, sizeof v);
    return v;
  };
  uint64_t segments = uint64_t{u32(0)} + 1;
  uint64_t total = ((segments + 1) * 4 + 7) & ~uint64_t{7};
  for (uint64_t i = 0; i < segments; ++i) total += uint64_t{u32(1 + i)} * sizeof(capnp::word);
  return total;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace qkv;
  if (size == 0) return 0;
  const std::size_t chunk = std::size_t{data[0]} + 1;
  proto::FrameReader reader(kFrameBytesMax);
  std::size_t read = 0;
  std::size_t framed = 0;
  for (std::size_t at = 1; at < size;) {
    auto space = reader.prepare(chunk);
    fuzz::fuzz_require(space.size() >= chunk, "prepare gave less space than asked");
    std::size_t n = std::min(chunk, size - at);
    std::memcpy(space.data(), data + at, n);
    reader.commit(n);
    at += n;
    read += n;
    for (;;) {
      auto next = reader.next();
      if (!next.is_ok()) return 0;  // the connection is closed: nothing more to check
      if (!next.value().has_value()) break;
      auto frame = *next.value();
      const uint64_t bytes = frame.size() * sizeof(capnp::word);
      fuzz::fuzz_require(bytes <= kFrameBytesMax, "a frame over frame_bytes_max");
      fuzz::fuzz_require(table_size(frame) == bytes, "a frame whose table disagrees with it");
      framed += bytes;
    }
    fuzz::fuzz_require(framed + reader.buffered_bytes() == read, "bytes lost or duplicated");
  }
  return 0;
}
