// FlatMessageBuilder: a Cap'n Proto MessageBuilder that builds a message in the buffer it
// leaves in. Its first segment starts one word into that buffer, after room for the segment
// table, so a message that fits in the first segment is flat the moment it is built:
// finish() writes the one-word table in front and hands the buffer over, where
// capnp::messageToFlatArray allocates a second buffer and copies every segment into it.
// The codecs size the first segment to the message's payload, so that is the usual case; a
// message that outgrows it gets more segments and is flattened by a copy, as before. The
// bytes are the same either way (the standard stream framing, capnp/serialize.h).
//
// Why: a 1 KB value is copied once less per frame sent and per state stored (and its 1 KB
// allocation, above glibc's per-thread cache, is saved); docs/performance.md.
//
// Use: build through getRoot/initRoot as with MallocMessageBuilder, then call one finish
// function once. Thread-safety: none (one builder per message).
#pragma once

#include <capnp/message.h>
#include <kj/array.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qkv::proto {

class FlatMessageBuilder final : public capnp::MessageBuilder {
 public:
  enum class Output { kWords, kString };  // which finish function will be called
  // `first_segment_words`: the first segment's size in 8-byte words (at least what the
  // root asks for); later segments are at least as large as the one before.
  explicit FlatMessageBuilder(uint32_t first_segment_words, Output output = Output::kWords);
  ~FlatMessageBuilder() noexcept(false) override;
  FlatMessageBuilder(const FlatMessageBuilder&) = delete;
  FlatMessageBuilder& operator=(const FlatMessageBuilder&) = delete;

  kj::ArrayPtr<capnp::word> allocateSegment(unsigned int minimum_words) override;

  // The flat message as a frame (proto/framing.h). REQUIRES: Output::kWords; called once,
  // last.
  kj::Array<capnp::word> finish_words();
  // The flat message as bytes (a stored state, a causal context). REQUIRES:
  // Output::kString; called once, last.
  std::string finish_string();

 private:
  // Writes the single-segment table in front of the first segment and returns the words
  // of table and segment; 0 if the message spilled into more segments (the caller copies).
  std::size_t seal_single_segment();

  uint32_t first_words_;
  Output output_;
  // The table word, then the first segment: calloc'd (kWords), or string_'s bytes (kString).
  capnp::word* buffer_ = nullptr;
  std::string string_;
  std::vector<capnp::word*> more_;  // further segments (calloc'd)
  uint32_t last_words_ = 0;         // size of the latest segment
};

}  // namespace qkv::proto
