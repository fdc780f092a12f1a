#include "proto/flat_builder.h"

#include <capnp/serialize.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/assert.h"

namespace qkv::proto {
namespace {

capnp::word* zeroed_words(std::size_t words) {
  void* p = std::calloc(words, sizeof(capnp::word));
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<capnp::word*>(p);
}

// Frees a buffer from zeroed_words() whatever size the array over it claims.
class FreeDisposer final : public kj::ArrayDisposer {
 public:
  static const FreeDisposer instance;

 protected:
  void disposeImpl(void* first, std::size_t, std::size_t, std::size_t,
                   void (*)(void*)) const override {
    std::free(first);
  }
};
const FreeDisposer FreeDisposer::instance;

}  // namespace

FlatMessageBuilder::FlatMessageBuilder(uint32_t first_segment_words, Output output)
    : first_words_(std::max<uint32_t>(first_segment_words, 1)), output_(output) {}

FlatMessageBuilder::~FlatMessageBuilder() noexcept(false) {
  if (output_ == Output::kWords) std::free(buffer_);
  for (capnp::word* segment : more_) std::free(segment);
}

kj::ArrayPtr<capnp::word> FlatMessageBuilder::allocateSegment(unsigned int minimum_words) {
  if (last_words_ == 0) {  // the first segment
    first_words_ = std::max<uint32_t>(first_words_, minimum_words);
    last_words_ = first_words_;
    const std::size_t words = std::size_t{first_words_} + 1;
    if (output_ == Output::kString) {
      string_.resize(words * sizeof(capnp::word));  // zero-filled, as a segment must be
      // operator new's alignment (16) holds for a string this long; checked all the same.
      QKV_ASSERT(reinterpret_cast<std::uintptr_t>(string_.data()) % alignof(capnp::word) == 0);
      buffer_ = reinterpret_cast<capnp::word*>(string_.data());
    } else {
      buffer_ = zeroed_words(words);
    }
    return kj::arrayPtr(buffer_ + 1, first_words_);
  }
  // As MallocMessageBuilder's default (GROW_HEURISTICALLY): each segment at least as large as
  // all before it, so a message takes few segments.
  last_words_ = std::max<uint32_t>(minimum_words, last_words_);
  capnp::word* segment = zeroed_words(last_words_);
  more_.push_back(segment);
  return kj::arrayPtr(segment, last_words_);
}

std::size_t FlatMessageBuilder::seal_single_segment() {
  auto segments = getSegmentsForOutput();
  if (segments.size() != 1 || segments[0].begin() != buffer_ + 1) return 0;
  // The stream framing's segment table for one segment: u32 (segment count - 1) = 0, then
  // u32 the segment's size in words, little-endian.
  const auto size = static_cast<uint32_t>(segments[0].size());
  unsigned char table[8] = {0,
                            0,
                            0,
                            0,
                            static_cast<unsigned char>(size),
                            static_cast<unsigned char>(size >> 8),
                            static_cast<unsigned char>(size >> 16),
                            static_cast<unsigned char>(size >> 24)};
  std::memcpy(buffer_, table, sizeof table);
  return std::size_t{1} + size;
}

kj::Array<capnp::word> FlatMessageBuilder::finish_words() {
  QKV_ASSERT(output_ == Output::kWords);
  const std::size_t words = seal_single_segment();
  if (words == 0) return capnp::messageToFlatArray(getSegmentsForOutput());
  capnp::word* out = buffer_;
  buffer_ = nullptr;  // the array owns it now
  return kj::Array<capnp::word>(out, words, FreeDisposer::instance);
}

std::string FlatMessageBuilder::finish_string() {
  QKV_ASSERT(output_ == Output::kString);
  const std::size_t words = seal_single_segment();
  if (words == 0) {
    auto words = capnp::messageToFlatArray(getSegmentsForOutput());
    return std::string(words.asChars().begin(), words.asChars().size());
  }
  string_.resize(words * sizeof(capnp::word));  // shrinks in place
  buffer_ = nullptr;
  return std::move(string_);
}

}  // namespace qkv::proto
