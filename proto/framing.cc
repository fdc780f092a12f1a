#include "proto/framing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace qkv::proto {
namespace {

uint32_t load_u32_le(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;  // x86-64 and aarch64 are little-endian, as is Cap'n Proto's framing.
}

}  // namespace

FrameReader::FrameReader(uint64_t frame_bytes_max) : frame_bytes_max_(frame_bytes_max) {}

std::span<std::byte> FrameReader::prepare(std::size_t min_bytes) {
  auto* base = reinterpret_cast<std::byte*>(buffer_.begin());
  std::size_t capacity = buffer_.size() * sizeof(capnp::word);
  if (capacity - end_ < min_bytes) {
    // Move the unread tail to the front (word aligned), then grow if still short.
    std::size_t live = end_ - begin_;
    if (begin_ > 0) {
      std::memmove(base, base + begin_, live);
      begin_ = 0;
      end_ = live;
    }
    if (capacity - end_ < min_bytes) {
      std::size_t want = std::max(capacity * 2, end_ + min_bytes);
      auto grown =
          kj::heapArray<capnp::word>((want + sizeof(capnp::word) - 1) / sizeof(capnp::word));
      if (end_ > 0) std::memcpy(grown.begin(), base, end_);  // begin_ is 0 here
      buffer_ = std::move(grown);
      base = reinterpret_cast<std::byte*>(buffer_.begin());
      capacity = buffer_.size() * sizeof(capnp::word);
    }
  }
  return {base + end_, capacity - end_};
}

void FrameReader::commit(std::size_t bytes) {
  end_ += bytes;
}

Result<std::optional<kj::ArrayPtr<const capnp::word>>> FrameReader::next() {
  const auto* base = reinterpret_cast<const std::byte*>(buffer_.begin());
  std::size_t avail = end_ - begin_;
  if (avail < 4) return std::optional<kj::ArrayPtr<const capnp::word>>();
  uint32_t segments = load_u32_le(base + begin_) + 1;
  if (segments == 0 || segments > kFrameSegmentsMax) {
    return Status::corruption(fmt::format("frame has {} segments; the maximum is {}",
                                          segments == 0 ? (1ull << 32) : segments,
                                          kFrameSegmentsMax));
  }
  std::size_t table_bytes = ((segments + 1) * 4 + 7) & ~std::size_t{7};
  if (avail < table_bytes) return std::optional<kj::ArrayPtr<const capnp::word>>();
  uint64_t total = table_bytes;
  for (uint32_t i = 0; i < segments; ++i) {
    total += uint64_t{load_u32_le(base + begin_ + 4 + 4 * i)} * sizeof(capnp::word);
  }
  if (total > frame_bytes_max_) {
    return Status::invalid_argument(
        fmt::format("frame is {} bytes; frame_bytes_max is {}", total, frame_bytes_max_));
  }
  if (avail < total) return std::optional<kj::ArrayPtr<const capnp::word>>();
  const auto* words = reinterpret_cast<const capnp::word*>(base + begin_);
  begin_ += total;
  if (begin_ == end_) begin_ = end_ = 0;  // the frame stays valid: nothing is moved yet
  return std::optional(kj::arrayPtr(words, total / sizeof(capnp::word)));
}

}  // namespace qkv::proto
