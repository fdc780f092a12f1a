#include "proto/flat_builder.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "proto/common.capnp.h"

namespace qkv::proto {
namespace {

// A sibling set of `siblings` siblings with `value_bytes`-byte values.
template <typename Builder>
void fill(Builder& builder, int siblings, std::size_t value_bytes) {
  auto root = builder.template initRoot<wire::SiblingSet>();
  auto list = root.initSiblings(siblings);
  for (int i = 0; i < siblings; ++i) {
    std::string value(value_bytes, static_cast<char>('a' + i));
    list[i].setValue(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(value.data()), value.size()));
    list[i].getActor().setNode("node-" + std::to_string(i));
    list[i].setCounter(static_cast<uint64_t>(i) + 1);
  }
}

std::string flat_bytes(capnp::MessageBuilder& builder) {
  auto words = capnp::messageToFlatArray(builder);
  return std::string(words.asChars().begin(), words.asChars().size());
}

std::string as_string(const kj::Array<capnp::word>& words) {
  return std::string(words.asChars().begin(), words.asChars().size());
}

// What a reader sees: the values, in order.
std::string values_of(kj::ArrayPtr<const capnp::word> words) {
  capnp::FlatArrayMessageReader reader(words);
  std::string out;
  for (auto s : reader.getRoot<wire::SiblingSet>().getSiblings()) {
    out.append(reinterpret_cast<const char*>(s.getValue().begin()), s.getValue().size());
    out += '|';
  }
  return out;
}

TEST(FlatMessageBuilderTest, AMessageThatFitsIsTheSameBytesAsMessageToFlatArray) {
  for (std::size_t value_bytes : {0, 1, 100, 1000, 10000}) {
    capnp::MallocMessageBuilder reference(4096);
    fill(reference, 2, value_bytes);
    FlatMessageBuilder words(4096);
    fill(words, 2, value_bytes);
    FlatMessageBuilder string(4096, FlatMessageBuilder::Output::kString);
    fill(string, 2, value_bytes);

    ASSERT_EQ(words.getSegmentsForOutput().size(), 1u);
    const std::string expected = flat_bytes(reference);
    EXPECT_EQ(as_string(words.finish_words()), expected) << value_bytes << "-byte values";
    EXPECT_EQ(string.finish_string(), expected) << value_bytes << "-byte values";
  }
}

TEST(FlatMessageBuilderTest, AMessageThatOutgrowsItsFirstSegmentTakesMoreAndReadsTheSame) {
  // One word of first segment: the root alone asks for more, and every value spills.
  for (uint32_t first_words : {1u, 8u, 200u}) {
    capnp::MallocMessageBuilder reference;
    fill(reference, 5, 1000);
    FlatMessageBuilder words(first_words);
    fill(words, 5, 1000);
    FlatMessageBuilder string(first_words, FlatMessageBuilder::Output::kString);
    fill(string, 5, 1000);

    EXPECT_GT(words.getSegmentsForOutput().size(), 1u) << first_words;
    const std::string expected = values_of(capnp::messageToFlatArray(reference));
    auto framed = words.finish_words();
    EXPECT_EQ(values_of(framed), expected);
    EXPECT_EQ(capnp::computeSerializedSizeInWords(string.getSegmentsForOutput()) * 8,
              string.finish_string().size());
  }
}

TEST(FlatMessageBuilderTest, AStringMessageReadsBackThroughAnAlignedCopy) {
  FlatMessageBuilder builder(2000, FlatMessageBuilder::Output::kString);
  fill(builder, 3, 1234);
  const std::string bytes = builder.finish_string();
  ASSERT_EQ(bytes.size() % sizeof(capnp::word), 0u);
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  EXPECT_EQ(values_of(words), std::string(1234, 'a') + "|" + std::string(1234, 'b') + "|" +
                                  std::string(1234, 'c') + "|");
}

}  // namespace
}  // namespace qkv::proto
