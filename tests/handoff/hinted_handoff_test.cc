// HintedHandoff (node/handoff/hinted_handoff.h) on in-memory storage, with a manual clock.
#include "node/handoff/hinted_handoff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "node/handoff/hint_value.h"
#include "tests/handoff/handoff_testing.h"

namespace qkv::handoff {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST_F(HintedHandoffTest, StoreJoinsWithTheHeldHintKeepingConcurrentSiblings) {
  open();
  const SiblingSet a = write_by("n1", "a"), b = write_by("n3", "b");
  store("n2", "k", a);
  store("n2", "k", b);
  EXPECT_EQ(handoff_->stats().stored, 2u);
  EXPECT_EQ(handoff_->pending().at("n2").first, 1u) << "one hint per (target, key)";
  auto deliveries = due();
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].target, "n2");
  EXPECT_EQ(deliveries[0].key, "k");
  EXPECT_EQ(deliveries[0].token, ring::token_of("k"));
  EXPECT_EQ(deliveries[0].state, SiblingSet::join(a, b));
  EXPECT_THAT(deliveries[0].state.values(), ElementsAre("a", "b"));
}

TEST_F(HintedHandoffTest, AJoinKeepsTheOldestCreationTime) {
  open();
  store("n2", "k", write_by("n1", "a"));
  advance(Duration(60'000));
  store("n2", "k", write_by("n3", "b"));
  auto held = stored_hint("n2", "k");
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(*decode_hint_created(*held), kStartUnixMs);
  // A write stamped earlier (the wall clock stepped back) makes the hint older.
  ASSERT_TRUE(handoff_->store("n2", ring::token_of("k"), "k", write_by("n4", "c"), kStartUnixMs - 5)
                  .is_ok());
  EXPECT_EQ(*decode_hint_created(*stored_hint("n2", "k")), kStartUnixMs - 5);
}

TEST_F(HintedHandoffTest, OpenRecountsHintsAfterARestart) {
  open();
  store("n2", "a", write_by("n1", "1"));
  store("n2", "b", write_by("n1", std::string(1000, 'x')));
  store("n3", "c", write_by("n1", "3"));
  const auto pending = handoff_->pending();
  const uint64_t bytes = handoff_->hint_bytes();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending.at("n2").first, 2u);
  EXPECT_EQ(pending.at("n3").first, 1u);
  EXPECT_GT(pending.at("n2").second, 1000u);
  EXPECT_EQ(bytes, pending.at("n2").second + pending.at("n3").second);

  // Bytes are what storage holds: hint key (target, 0x00, token, key) plus value.
  uint64_t on_disk = 0;
  ASSERT_TRUE(storage_
                  .scan_hints([&](const NodeId& target, auto, auto key, auto value) {
                    on_disk += target.size() + 1 + 8 + key.size() + value.size();
                    return true;
                  })
                  .is_ok());
  EXPECT_EQ(on_disk, bytes);

  open();  // a new HintedHandoff on the same storage
  EXPECT_EQ(handoff_->pending(), pending);
  EXPECT_EQ(handoff_->hint_bytes(), bytes);
  EXPECT_THAT(opened_lines_, ElementsAre("event=hints_loaded targets=2 hints=3 hint_bytes=" +
                                         std::to_string(bytes)));
  auto deliveries = due();
  EXPECT_EQ(deliveries.size(), 3u);
  for (const auto& d : deliveries) ack(d);
  EXPECT_TRUE(handoff_->pending().empty());
  EXPECT_EQ(handoff_->hint_bytes(), 0u);
}

TEST_F(HintedHandoffTest, NothingIsDueForTargetsThatAreDown) {
  open();
  store("n2", "a", write_by("n1", "1"));
  store("n3", "b", write_by("n1", "2"));
  up_ = {"n3"};
  EXPECT_THAT(targets_of(due()), ElementsAre("n3"));
  up_.clear();
  EXPECT_TRUE(due().empty());
  up_ = {"n2"};
  EXPECT_THAT(targets_of(due()), ElementsAre("n2"));
}

TEST_F(HintedHandoffTest, DueRespectsTheRateLimit) {
  config_.hints_per_second_max = 5;
  open();
  for (int i = 0; i < 20; ++i) store("n2", key(i), write_by("n1", "v"));
  EXPECT_EQ(due().size(), 5u) << "a full bucket: one second's worth";
  EXPECT_EQ(due().size(), 0u);
  advance(Duration(199));
  EXPECT_EQ(due().size(), 0u) << "0.995 of a delivery earned";
  advance(Duration(1));
  EXPECT_EQ(due().size(), 1u);
  advance(Duration(3000));  // (within delivery_timeout: nothing in flight is released)
  EXPECT_EQ(due().size(), 5u) << "the bucket holds at most one second's worth";
  EXPECT_EQ(handoff_->in_flight(), 11u);
}

TEST_F(HintedHandoffTest, DueRespectsTheInFlightBoundAndNeverResendsAHintInFlight) {
  config_.in_flight_max = 3;
  open();
  for (int i = 0; i < 10; ++i) store("n2", key(i), write_by("n1", "v"));
  auto first = due();
  ASSERT_EQ(first.size(), 3u);
  EXPECT_TRUE(due().empty()) << "three in flight";
  ack(first[0]);
  auto second = due();
  ASSERT_EQ(second.size(), 1u);
  std::set<std::string> keys = {first[1].key, first[2].key};
  EXPECT_FALSE(keys.count(second[0].key)) << second[0].key << " is in flight already";
  EXPECT_NE(second[0].key, first[0].key) << "that one was delivered";
  std::set<uint64_t> ids = {first[0].id, first[1].id, first[2].id, second[0].id};
  EXPECT_EQ(ids.size(), 4u) << "delivery ids are unique";
}

TEST_F(HintedHandoffTest, TargetsTakeTurnsAcrossCalls) {
  config_.in_flight_max = 2;
  open();
  for (const NodeId target : {"n1", "n2", "n3"}) {
    for (int i = 0; i < 4; ++i) store(target, key(i), write_by("n4", "v"));
  }
  std::vector<NodeId> order;
  for (int round = 0; round < 6; ++round) {
    auto deliveries = due();
    ASSERT_EQ(deliveries.size(), 2u);
    for (const auto& d : deliveries) {
      order.push_back(d.target);
      ack(d);
    }
  }
  EXPECT_THAT(order,
              ElementsAre("n1", "n2", "n3", "n1", "n2", "n3", "n1", "n2", "n3", "n1", "n2", "n3"));
  EXPECT_TRUE(due().empty());
  EXPECT_EQ(handoff_->stats().delivered, 12u);
}

TEST_F(HintedHandoffTest, OneTargetsHintsGoInTokenKeyOrder) {
  open();
  std::vector<std::pair<ring::Token, std::string>> expected;
  for (int i = 0; i < 8; ++i) {
    const std::string k = key(i);
    store("n2", k, write_by("n1", "v"));
    expected.emplace_back(ring::token_of(k), k);
  }
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> expected_keys;
  for (const auto& [token, k] : expected) expected_keys.push_back(k);
  EXPECT_EQ(keys_of(due()), expected_keys);
}

TEST_F(HintedHandoffTest, AnAckDeletesTheHint) {
  open();
  store("n2", "k", write_by("n1", "v"));
  auto deliveries = due();
  ASSERT_EQ(deliveries.size(), 1u);
  ack(deliveries[0]);
  EXPECT_EQ(stored_hint("n2", "k"), std::nullopt);
  EXPECT_TRUE(handoff_->pending().empty());
  EXPECT_EQ(handoff_->stats().delivered, 1u);
  EXPECT_EQ(handoff_->in_flight(), 0u);
  EXPECT_TRUE(due().empty());
  ack(deliveries[0]);  // a duplicate ack is ignored
  EXPECT_EQ(handoff_->stats().delivered, 1u);
}

TEST_F(HintedHandoffTest, AnAckAfterANewerJoinKeepsTheHintForTheNextRound) {
  open();
  const SiblingSet a = write_by("n1", "a"), b = write_by("n3", "b");
  store("n2", "k", a);
  auto first = due();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].state, a);
  store("n2", "k", b);  // while `a` is in flight
  EXPECT_TRUE(due().empty()) << "the hint is still in flight";
  ack(first[0]);
  ASSERT_TRUE(stored_hint("n2", "k").has_value()) << "the target has not seen b";
  EXPECT_EQ(handoff_->stats().delivered, 1u);
  auto second = due();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].state, SiblingSet::join(a, b));
  ack(second[0]);
  EXPECT_EQ(stored_hint("n2", "k"), std::nullopt);
}

TEST_F(HintedHandoffTest, AStoreThatAddsNothingDoesNotKeepTheHintAfterItsAck) {
  open();
  const SiblingSet a = write_by("n1", "a");
  store("n2", "k", a);
  auto deliveries = due();
  ASSERT_EQ(deliveries.size(), 1u);
  store("n2", "k", a);  // the same state again (a retried write): the hint is unchanged
  ack(deliveries[0]);
  EXPECT_EQ(stored_hint("n2", "k"), std::nullopt);
}

TEST_F(HintedHandoffTest, AFailedDeliveryIsRetriedAfterTheBackoff) {
  open();
  store("n2", "k", write_by("n1", "v"));
  store("n3", "k", write_by("n1", "v"));
  auto deliveries = due();
  ASSERT_EQ(deliveries.size(), 2u);
  ASSERT_EQ(deliveries[0].target, "n2");
  ack(deliveries[0], Status::unavailable("replica is starting"));
  ack(deliveries[1]);
  EXPECT_EQ(handoff_->stats().failed_deliveries, 1u);
  EXPECT_TRUE(stored_hint("n2", "k").has_value());
  store("n3", "other", write_by("n1", "v"));
  EXPECT_THAT(targets_of(due()), ElementsAre("n3")) << "only n2 backs off";
  advance(config_.retry_backoff - Duration(1));
  EXPECT_TRUE(due().empty());
  advance(Duration(1));
  auto retry = due();
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].target, "n2");
  EXPECT_EQ(retry[0].key, "k");
  EXPECT_NE(retry[0].id, deliveries[0].id);
  EXPECT_THAT(log_texts(), ElementsAre(HasSubstr("event=hint_delivery_failed target=n2")));
}

TEST_F(HintedHandoffTest, ExpiredHintsAreDroppedCountedAndLogged) {
  open();
  store("n2", "old", write_by("n1", "v"));
  store("n3", "old", write_by("n1", "v"));
  advance(Duration(60'000));
  store("n2", "new", write_by("n1", "v"));
  up_.clear();  // hints expire whether or not their target is up
  advance(config_.hint_age_max - Duration(60'000));
  (void)due();
  EXPECT_EQ(handoff_->stats().dropped_expired, 0u) << "exactly hint_age_max old is not older";
  advance(Duration(1));
  (void)due();
  EXPECT_EQ(handoff_->stats().dropped_expired, 2u);
  EXPECT_EQ(stored_hint("n2", "old"), std::nullopt);
  EXPECT_EQ(stored_hint("n3", "old"), std::nullopt);
  EXPECT_TRUE(stored_hint("n2", "new").has_value());
  EXPECT_EQ(handoff_->pending().size(), 1u);
  EXPECT_THAT(log_texts(),
              ElementsAre("event=hints_expired target=n2 count=1 hint_age_max_ms=10800000",
                          "event=hints_expired target=n3 count=1 hint_age_max_ms=10800000"));
  EXPECT_TRUE(log_texts().empty()) << "counts are logged once";
}

TEST_F(HintedHandoffTest, AHintExpiringInFlightIsForgottenAndItsAckIgnored) {
  open();
  store("n2", "k", write_by("n1", "v"));
  auto deliveries = due();
  ASSERT_EQ(deliveries.size(), 1u);
  unix_ms_ += config_.hint_age_max.count() + 1;  // the wall clock jumps; `now` does not
  EXPECT_TRUE(due().empty());
  EXPECT_EQ(handoff_->stats().dropped_expired, 1u);
  ack(deliveries[0]);
  EXPECT_EQ(handoff_->stats().delivered, 1u);
  EXPECT_TRUE(handoff_->pending().empty());
}

TEST_F(HintedHandoffTest, TheByteBoundRefusesAndCounts) {
  open();
  store("n2", "k0", write_by("n1", "v"));
  const uint64_t one = handoff_->hint_bytes();
  config_.hint_bytes_max = 2 * one + one / 2;
  open();
  store("n2", "k1", write_by("n1", "v"));
  Status refused = handoff_->store("n2", ring::token_of("k2"), "k2", write_by("n1", "v"), unix_ms_);
  EXPECT_EQ(refused.code(), StatusCode::kOverloaded);
  EXPECT_THAT(refused.message(),
              HasSubstr("hint_bytes_max is " + std::to_string(config_.hint_bytes_max)));
  // Growing a held hint past the bound is refused too, and leaves it as it was.
  const auto before = stored_hint("n2", "k1");
  refused = handoff_->store("n2", ring::token_of("k1"), "k1", write_by("n3", std::string(one, 'x')),
                            unix_ms_);
  EXPECT_EQ(refused.code(), StatusCode::kOverloaded);
  EXPECT_EQ(stored_hint("n2", "k1"), before);
  EXPECT_EQ(stored_hint("n2", "k2"), std::nullopt);
  EXPECT_EQ(handoff_->stats().dropped_full, 2u);
  EXPECT_THAT(log_texts(), ElementsAre(HasSubstr("event=hints_refused_full target=n2 count=2")));
  EXPECT_EQ(handoff_->hint_bytes(), 2 * one);
  config_.hint_bytes_max = one;  // lowered across a restart: over the bound already
  open();
  store("n2", "k1", write_by("n1", "v"));  // adds nothing, so it is not refused
  EXPECT_EQ(handoff_->stats().dropped_full, 0u);
  config_.hint_bytes_max = 2 * one + one / 2;
  open();
  // Delivering one makes room.
  auto deliveries = due();
  ASSERT_EQ(deliveries.size(), 2u);
  ack(deliveries[0]);
  store("n2", "k2", write_by("n1", "v"));
}

TEST_F(HintedHandoffTest, ALostAckIsRetriedAfterTheDeliveryTimeout) {
  open();
  store("n2", "k", write_by("n1", "v"));
  auto sent = due();
  ASSERT_EQ(sent.size(), 1u);
  advance(config_.delivery_timeout - Duration(1));
  EXPECT_TRUE(due().empty()) << "still waiting for the ack";
  EXPECT_EQ(handoff_->stats().failed_deliveries, 0u);
  advance(Duration(1));
  EXPECT_TRUE(due().empty()) << "released, but the target backs off first";
  EXPECT_EQ(handoff_->stats().failed_deliveries, 1u);
  EXPECT_EQ(handoff_->in_flight(), 0u);
  advance(config_.retry_backoff);
  auto again = due();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].key, "k");
  ack(sent[0]);  // the lost ack turns up late: ignored, the replay decides
  EXPECT_TRUE(stored_hint("n2", "k").has_value());
  EXPECT_EQ(handoff_->stats().delivered, 0u);
  ack(again[0]);
  EXPECT_EQ(stored_hint("n2", "k"), std::nullopt);
  EXPECT_THAT(log_texts(), ElementsAre(HasSubstr("event=hint_delivery_failed target=n2 "
                                                 "error=\"1 deliveries unacknowledged after "
                                                 "delivery_timeout_ms=5000\"")));
}

TEST_F(HintedHandoffTest, CorruptHintsAreDroppedCountedAndLogged) {
  // A valid creation time (now) followed by bytes that are no sibling set.
  const std::string undecodable =
      encode_hint_value(unix_ms_, {}).substr(0, kHintHeaderBytes) + "not a sibling set";
  ASSERT_TRUE(storage_.put_hint("n2", 1, "short", "1234").is_ok());
  ASSERT_TRUE(storage_.put_hint("n2", 2, "garbage", undecodable).is_ok());
  open();
  EXPECT_EQ(handoff_->stats().dropped_corrupt, 1u) << "too short for a creation time";
  ASSERT_EQ(opened_lines_.size(), 2u);
  EXPECT_THAT(opened_lines_[0], HasSubstr("event=hint_corrupt target=n2 token=1 action=dropped"));
  EXPECT_THAT(opened_lines_[1], HasSubstr("event=hints_loaded targets=1 hints=1"));
  EXPECT_EQ(handoff_->pending().at("n2").first, 1u);
  EXPECT_TRUE(due().empty());
  EXPECT_EQ(handoff_->stats().dropped_corrupt, 2u);
  EXPECT_TRUE(handoff_->pending().empty());
  EXPECT_FALSE(storage_.get_hint("n2", 2, "garbage")->has_value());
  auto lines = log_texts();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("event=hint_corrupt target=n2 token=2 action=dropped"));
}

TEST_F(HintedHandoffTest, InvalidTargetsAreRefused) {
  open();
  EXPECT_EQ(handoff_->store("", 1, "k", write_by("n1", "v"), unix_ms_).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(handoff_->store("a b", 1, "k", write_by("n1", "v"), unix_ms_).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(handoff_->pending().empty());
}

TEST(HandoffConfigTest, ValidateNamesTheFieldOutOfRange) {
  EXPECT_TRUE(validate(HandoffConfig{}).is_ok());
  HandoffConfig config;
  config.in_flight_max = 0;
  EXPECT_THAT(validate(config).message(), HasSubstr("in_flight_max"));
  config = {};
  config.hints_per_second_max = 0;
  EXPECT_THAT(validate(config).message(), HasSubstr("hints_per_second_max"));
  config = {};
  config.hint_age_max = Duration(0);
  EXPECT_EQ(validate(config).code(), StatusCode::kInvalidArgument);
  config = {};
  config.retry_backoff = Duration(-1);
  EXPECT_THAT(validate(config).message(), HasSubstr("retry_backoff_ms"));
}

}  // namespace
}  // namespace qkv::handoff
