// The data directory's incarnation: new on a fresh directory, kept after a clean stop,
// advanced after an unclean one, so no dot is ever issued twice.
#include "node/incarnation.h"

#include <gtest/gtest.h>

#include "node/storage/memory_storage.h"

namespace qkv::node {
namespace {

uint64_t fixed_random() {
  return 4242;
}

TEST(IncarnationTest, FreshDirectoryGetsARandomIncarnation) {
  storage::MemoryStorage store;
  auto info = open_incarnation(store, fixed_random);
  ASSERT_TRUE(info.is_ok());
  EXPECT_TRUE(info->fresh);
  EXPECT_EQ(info->incarnation, 4242u);
}

TEST(IncarnationTest, CleanStopKeepsItUncleanStopAdvancesIt) {
  storage::MemoryStorage store;
  uint64_t first = open_incarnation(store, fixed_random)->incarnation;
  ASSERT_TRUE(mark_clean_shutdown(store).is_ok());
  auto after_clean = open_incarnation(store, fixed_random);
  EXPECT_EQ(after_clean->incarnation, first);
  EXPECT_FALSE(after_clean->after_unclean);
  // No clean-shutdown mark this time: a crash.
  auto after_crash = open_incarnation(store, fixed_random);
  EXPECT_EQ(after_crash->incarnation, first + 1);
  EXPECT_TRUE(after_crash->after_unclean);
}

TEST(IncarnationTest, WipedDirectoryNeverReusesTheOldIncarnation) {
  uint64_t seq = 0;
  auto counter = [&] { return ++seq; };
  storage::MemoryStorage before, after;
  uint64_t a = open_incarnation(before, counter)->incarnation;
  uint64_t b = open_incarnation(after, counter)->incarnation;
  EXPECT_NE(a, b);
}

TEST(IncarnationTest, ZeroIsNeverAnIncarnation) {
  int calls = 0;
  auto zero_then_seven = [&]() -> uint64_t { return calls++ == 0 ? 0 : 7; };
  storage::MemoryStorage store;
  EXPECT_EQ(open_incarnation(store, zero_then_seven)->incarnation, 7u);
}

TEST(IncarnationTest, EveryStartTakesAHigherGeneration) {
  storage::MemoryStorage store;
  EXPECT_EQ(next_generation(store, 1000).value(), 1000u);
  ASSERT_TRUE(mark_clean_shutdown(store).is_ok());
  EXPECT_EQ(next_generation(store, 1000).value(), 1001u)
      << "a clean restart in the same ms still needs a new generation";
  EXPECT_EQ(next_generation(store, 5).value(), 1002u) << "a clock gone back changes nothing";
  EXPECT_EQ(next_generation(store, 9000).value(), 9000u);
}

TEST(IncarnationTest, AWipedDiskStillStartsAboveItsOldGeneration) {
  // The old generation went with the disk; gossip peers still hold it, and take the new
  // start's state only if its generation is higher (gossip/node_state.h newer_than).
  storage::MemoryStorage before;
  const uint64_t old_generation = next_generation(before, 1'700'000'000'000).value();
  storage::MemoryStorage wiped;
  EXPECT_GT(next_generation(wiped, 1'700'000'000'500).value(), old_generation);
}

TEST(IncarnationTest, GarbageInTheMetadataIsCorruption) {
  storage::MemoryStorage store;
  ASSERT_TRUE(store.put_meta("incarnation", "12x").is_ok());
  EXPECT_EQ(open_incarnation(store, fixed_random).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace qkv::node
