// The data directory's incarnation: new on a fresh directory, kept after a clean stop, new
// after an unclean one and after a restore from a snapshot, so no dot is ever issued twice.
#include "node/incarnation.h"

#include <gtest/gtest.h>

#include <deque>

#include "node/storage/memory_storage.h"
#include "tests/storage/temp_dir.h"

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

// Draws the given values in order, then 9000, 9001, ...
class Draws {
 public:
  explicit Draws(std::deque<uint64_t> values) : values_(std::move(values)) {}
  uint64_t operator()() {
    if (values_.empty()) return next_++;
    uint64_t v = values_.front();
    values_.pop_front();
    return v;
  }

 private:
  std::deque<uint64_t> values_;
  uint64_t next_ = 9000;
};

TEST(IncarnationTest, CleanStopKeepsItUncleanStopTakesANewOne) {
  storage::MemoryStorage store;
  uint64_t first = open_incarnation(store, fixed_random)->incarnation;
  ASSERT_TRUE(mark_clean_shutdown(store).is_ok());
  auto after_clean = open_incarnation(store, fixed_random);
  EXPECT_EQ(after_clean->incarnation, first);
  EXPECT_FALSE(after_clean->after_unclean);
  // No clean-shutdown mark this time: a crash. The draws offer the old incarnation and the
  // old one + 1 first: neither may be taken.
  Draws draws({first, first + 1, 77});
  auto after_crash = open_incarnation(store, std::ref(draws));
  EXPECT_EQ(after_crash->incarnation, 77u);
  EXPECT_TRUE(after_crash->after_unclean);
  EXPECT_FALSE(after_crash->restored);
  EXPECT_EQ(after_crash->previous, first);
}

TEST(IncarnationTest, ARestoredSnapshotTakesANewIncarnationNeverTheOldOrTheNextOne) {
  storage::MemoryStorage original;
  const uint64_t old = open_incarnation(original, fixed_random)->incarnation;
  storage::testing::TempDir dir;
  ASSERT_TRUE(original.checkpoint(dir.sub("snap"), snapshot_marker()).is_ok());
  auto restored = storage::MemoryStorage::open_checkpoint(dir.sub("snap"));
  ASSERT_TRUE(restored.is_ok()) << restored.status().to_string();
  Draws draws({old, old + 1, 0, 555});
  auto info = open_incarnation(**restored, std::ref(draws));
  ASSERT_TRUE(info.is_ok());
  EXPECT_TRUE(info->restored);
  EXPECT_EQ(info->previous, old);
  EXPECT_EQ(info->incarnation, 555u);
  // The marker is cleared: a clean restart of the restored node keeps its new actor.
  ASSERT_TRUE(mark_clean_shutdown(**restored).is_ok());
  auto again = open_incarnation(**restored, fixed_random);
  EXPECT_FALSE(again->restored);
  EXPECT_EQ(again->incarnation, 555u);
  // The snapshot never touched the original, whose clean restart keeps its own.
  ASSERT_TRUE(mark_clean_shutdown(original).is_ok());
  EXPECT_EQ(open_incarnation(original, fixed_random)->incarnation, old);
}

TEST(IncarnationTest, ACopyMadeAfterACleanStopIsARestoreOnceMarked) {
  // qkvd --restore-from marks any copy, even one of a cleanly stopped node (which has the
  // clean-shutdown marker and would otherwise keep the original's incarnation).
  storage::MemoryStorage store;
  const uint64_t old = open_incarnation(store, fixed_random)->incarnation;
  ASSERT_TRUE(mark_clean_shutdown(store).is_ok());
  ASSERT_TRUE(mark_restored(store).is_ok());
  Draws draws({});
  auto info = open_incarnation(store, std::ref(draws));
  EXPECT_TRUE(info->restored);
  EXPECT_NE(info->incarnation, old);
  EXPECT_NE(info->incarnation, old + 1);
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
