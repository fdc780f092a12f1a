// HintedHandoff when storage fails, and the bound on its log lines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/handoff/hinted_handoff.h"
#include "tests/handoff/handoff_testing.h"

namespace qkv::handoff {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST_F(HintedHandoffTest, AStoreThatCannotBeWrittenIsAnErrorAndNotCounted) {
  open();
  storage_.fail_hint_writes = true;
  Status status = handoff_->store("n2", 1, "k", write_by("n1", "v"), unix_ms_);
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_TRUE(handoff_->pending().empty());
  EXPECT_EQ(handoff_->hint_bytes(), 0u);
  EXPECT_EQ(handoff_->stats().stored, 0u);
  EXPECT_EQ(handoff_->store("n2", 2, "k2", write_by("n1", "v"), unix_ms_).code(),
            StatusCode::kIoError);
  EXPECT_THAT(log_texts(),
              ElementsAre(HasSubstr("event=hint_storage_error doing=\"storing a hint\"")))
      << "a run of storage errors is logged once";
  storage_.fail_hint_writes = false;
  store("n2", "k", write_by("n1", "v"));
  storage_.fail_hint_writes = true;
  EXPECT_EQ(handoff_->store("n2", 3, "k3", write_by("n1", "v"), unix_ms_).code(),
            StatusCode::kIoError);
  EXPECT_EQ(log_texts().size(), 1u) << "logged again after a write worked";
}

TEST_F(HintedHandoffTest, AHintWhoseDeleteFailsAfterItsAckIsReplayedLater) {
  open();
  store("n2", "k", write_by("n1", "v"));
  auto first = due();
  ASSERT_EQ(first.size(), 1u);
  storage_.fail_hint_writes = true;
  ack(first[0]);
  EXPECT_EQ(handoff_->stats().delivered, 1u);
  EXPECT_EQ(handoff_->pending().at("n2").first, 1u) << "kept: replaying again is harmless";
  storage_.fail_hint_writes = false;
  auto second = due();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].key, "k");
  ack(second[0]);
  EXPECT_TRUE(handoff_->pending().empty());
  EXPECT_EQ(stored_hint("n2", "k"), std::nullopt);
}

TEST_F(HintedHandoffTest, UnreadableHintsAreSkippedUntilStorageWorks) {
  open();
  store("n2", "k", write_by("n1", "v"));
  storage_.fail_hint_reads = true;
  EXPECT_TRUE(due().empty());
  EXPECT_EQ(handoff_->in_flight(), 0u);
  EXPECT_EQ(handoff_->pending().at("n2").first, 1u);
  storage_.fail_hint_reads = false;
  EXPECT_EQ(due().size(), 1u);
}

TEST_F(HintedHandoffTest, AnExpiredHintWhoseDeleteFailsIsDroppedOnALaterCall) {
  open();
  store("n2", "k", write_by("n1", "v"));
  unix_ms_ += config_.hint_age_max.count() + 1;
  storage_.fail_hint_writes = true;
  up_.clear();
  (void)due();
  EXPECT_EQ(handoff_->stats().dropped_expired, 0u);
  EXPECT_TRUE(stored_hint("n2", "k").has_value());
  storage_.fail_hint_writes = false;
  (void)due();
  EXPECT_EQ(handoff_->stats().dropped_expired, 1u);
  EXPECT_EQ(stored_hint("n2", "k"), std::nullopt);
}

TEST_F(HintedHandoffTest, OpenFailsWhenHintsCannotBeRead) {
  storage_.fail_hint_reads = true;
  HintedHandoff handoff(config_, storage_);
  EXPECT_EQ(handoff.open().code(), StatusCode::kIoError);
}

TEST_F(HintedHandoffTest, LogLinesAreBoundedAndTheRestCounted) {
  config_.in_flight_max = 1000;
  open();
  constexpr int kTargets = static_cast<int>(HintedHandoff::kLogLinesMax) + 44;
  for (int i = 0; i < kTargets; ++i) {
    store(key(i), "k", write_by("n1", "v"));
    up_.insert(key(i));
  }
  auto deliveries = due();
  ASSERT_EQ(deliveries.size(), static_cast<std::size_t>(kTargets));
  for (const auto& d : deliveries) ack(d, Status::timeout("no answer"));
  EXPECT_TRUE(due().empty()) << "every target backs off, with one line each";
  auto lines = log_texts();
  ASSERT_EQ(lines.size(), HintedHandoff::kLogLinesMax + 1);
  EXPECT_THAT(lines.back(), "event=handoff_log_lines_suppressed count=44 log_lines_max=256");
  EXPECT_TRUE(log_texts().empty());
}

}  // namespace
}  // namespace qkv::handoff
