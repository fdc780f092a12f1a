// HintedHandoff::join_of_hints: what a fallback serves for a key it holds hints of.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "node/handoff/hint_value.h"
#include "node/handoff/hinted_handoff.h"
#include "tests/handoff/handoff_testing.h"

namespace qkv::handoff {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::optional<SiblingSet> joined(HintedHandoff& handoff, const std::string& key, int64_t unix_ms) {
  auto result = handoff.join_of_hints(ring::token_of(key), key, unix_ms);
  EXPECT_TRUE(result.is_ok()) << result.status().to_string();
  return result.is_ok() ? *result : std::nullopt;
}

TEST_F(HintedHandoffTest, TheHintsOfAKeyAreJoinedAcrossTargets) {
  open();
  const SiblingSet a = write_by("n1", "a"), b = write_by("n4", "b");
  store("n2", "k", a);  // standing in for n2, then for n3, for the same key
  store("n3", "k", b);
  store("n2", "other", write_by("n1", "x"));
  auto got = joined(*handoff_, "k", unix_ms_);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, SiblingSet::join(a, b));
  EXPECT_THAT(got->values(), ElementsAre("a", "b")) << "concurrent hints stay siblings";
  EXPECT_EQ(joined(*handoff_, "absent", unix_ms_), std::nullopt);
  EXPECT_EQ(handoff_->pending().at("n2").first, 2u) << "a read changes no hint";
}

TEST_F(HintedHandoffTest, ADeliveredHintIsNoLongerServed) {
  open();
  store("n2", "k", write_by("n1", "a"));
  auto deliveries = due();
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_TRUE(joined(*handoff_, "k", unix_ms_).has_value()) << "in flight: still held";
  ack(deliveries[0]);
  EXPECT_EQ(joined(*handoff_, "k", unix_ms_), std::nullopt);
}

TEST_F(HintedHandoffTest, AnUndecodableHintIsSkippedAndAStorageErrorReturned) {
  open();
  store("n2", "k", write_by("n1", "a"));
  store("n3", "k", write_by("n1", "b"));
  const std::string garbage =
      encode_hint_value(unix_ms_, {}).substr(0, kHintHeaderBytes) + "not a sibling set";
  ASSERT_TRUE(storage_.put_hint("n3", ring::token_of("k"), "k", garbage).is_ok());
  auto got = joined(*handoff_, "k", unix_ms_);
  ASSERT_TRUE(got.has_value());
  EXPECT_THAT(got->values(), ElementsAre("a")) << "the readable hint is served";
  EXPECT_THAT(log_texts(), ElementsAre(HasSubstr("event=hint_corrupt target=n3")));

  storage_.fail_hint_reads = true;
  EXPECT_EQ(handoff_->join_of_hints(ring::token_of("k"), "k", unix_ms_).status().code(),
            StatusCode::kIoError);
}

TEST_F(HintedHandoffTest, AnExpiredHintIsNotServedEvenBeforeItIsDropped) {
  // It may hold a value a reaped tombstone deleted: the reaper's grace counts on it being
  // gone after hint_age_max (node/reaper.h).
  open();
  store("n2", "k", write_by("n1", "a"));
  const int64_t created = unix_ms_;
  EXPECT_TRUE(joined(*handoff_, "k", created + config_.hint_age_max.count()).has_value());
  EXPECT_EQ(joined(*handoff_, "k", created + config_.hint_age_max.count() + 1), std::nullopt);
}

}  // namespace
}  // namespace qkv::handoff
