// Cap'n Proto stream framing over a byte stream (TCP): one message = a segment table
// (u32 segment count - 1, u32 size in words per segment, padded to 8 bytes) followed by
// the segments. FrameReader splits a byte stream into whole frames without copying them
// out, and refuses a frame larger than frame_bytes_max before buffering it.
//
// Thread-safety: none; one FrameReader per connection.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/status.h"

namespace qkv::proto {

// Segment count above which a frame is treated as corrupt (capnp's own reader refuses 512+).
inline constexpr uint32_t kFrameSegmentsMax = 512;

class FrameReader {
 public:
  explicit FrameReader(uint64_t frame_bytes_max);

  // Space to read at least `min_bytes` into, at the end of the buffered bytes.
  std::span<std::byte> prepare(std::size_t min_bytes);
  // Marks `bytes` of the space from prepare() as filled.
  void commit(std::size_t bytes);

  // The next whole frame (valid until the next call to prepare/next), nullopt when
  // more bytes are needed, or an error: invalid_argument when the frame's size exceeds
  // frame_bytes_max (the message names both), corruption for an impossible segment
  // table. After an error the stream cannot be resynchronized: close the connection.
  Result<std::optional<kj::ArrayPtr<const capnp::word>>> next();

  // Bytes buffered and not yet returned as frames.
  std::size_t buffered_bytes() const { return end_ - begin_; }

 private:
  uint64_t frame_bytes_max_;
  // Not a std::vector: capnp::word is not copyable under clang (capnp/common.h), which the
  // fuzz build (tests/fuzz) uses.
  kj::Array<capnp::word> buffer_;
  std::size_t begin_ = 0;  // byte offsets into buffer_; begin_ is always word aligned
  std::size_t end_ = 0;
};

}  // namespace qkv::proto
