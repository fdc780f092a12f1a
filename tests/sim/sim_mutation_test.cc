// Mutation tests: the checker must catch a deliberately broken core within a bounded
// number of seeds (design.md §5.4). Built against the QKV_MUTATIONS cores only.
#include <gtest/gtest.h>

#include "common/mutation.h"
#include "tests/sim/simulation.h"

namespace qkv::sim {
namespace {

class MutationTest : public ::testing::Test {
 protected:
  void TearDown() override { mutation::active = mutation::Kind::kNone; }

  // The first seed in [1, max_seeds] whose run reports a violation, or 0.
  static uint64_t first_caught(SimConfig config, uint64_t max_seeds) {
    for (uint64_t seed = 1; seed <= max_seeds; ++seed) {
      config.seed = seed;
      if (!run_simulation(config).ok) return seed;
    }
    return 0;
  }
};

TEST_F(MutationTest, TheUnmutatedCoresPassTheSameRuns) {
  SimConfig config;
  config.ops = 200;
  config.faults = Faults::none();
  EXPECT_EQ(first_caught(config, 5), 0u);
}

TEST_F(MutationTest, AckingBeforeWReplicasAckedIsCaught) {
  mutation::active = mutation::Kind::kAckBeforeW;
  SimConfig config;
  config.ops = 200;
  config.faults = Faults::parse("delay=0.2").value();  // replication lags behind the ack
  EXPECT_NE(first_caught(config, 20), 0u) << "read-your-writes must fail when W is not waited for";
}

TEST_F(MutationTest, AMergeThatDropsConcurrentSiblingsIsCaught) {
  mutation::active = mutation::Kind::kJoinDropsConcurrent;
  SimConfig config;
  config.ops = 200;
  config.faults = Faults::none();
  EXPECT_NE(first_caught(config, 20), 0u) << "concurrent writes must not vanish";
}

TEST_F(MutationTest, ReusingDotsAfterACrashIsCaught) {
  // Needs a crash that loses unsynced writes, then a write of the same key coordinated by
  // the same node: a small, busy cluster makes that common enough.
  mutation::active = mutation::Kind::kNoIncarnationBump;
  SimConfig config;
  config.nodes = 3;
  config.keys = 2;
  config.ops = 600;
  config.faults = Faults::parse("crash").value();
  config.sync_writes = false;
  EXPECT_NE(first_caught(config, 150), 0u) << "kv679: a reused dot must lose a write";
  // The same runs pass with the incarnation bump in place.
  mutation::active = mutation::Kind::kNone;
  EXPECT_EQ(first_caught(config, 150), 0u);
}

TEST_F(MutationTest, WritesThatSkipTheReceiversOfATransitionAreCaught) {
  // With n=1 a range's receiver is its only next replica: a write made during the
  // transition after the receiver copied the range, and not sent to it, is gone once the
  // old replica drops the range at the switch. Lossless faults: no destructive event, so
  // every acknowledged W=1 write is checked. (With n=3 the replicas that stay through a
  // change keep such writes and repair puts them back: the mutant survives there.)
  mutation::active = mutation::Kind::kWritesSkipReceivers;
  SimConfig config;
  config.nodes = 3;
  config.n = 1;
  config.ring_changes = 3;
  config.faults = Faults::parse("delay=0.2,dup,skew").value();
  EXPECT_NE(first_caught(config, 5), 0u)
      << "writes during a transition must reach the receivers, or the switch loses them";
  // The same runs pass with the receivers written to.
  mutation::active = mutation::Kind::kNone;
  EXPECT_EQ(first_caught(config, 20), 0u);
}

TEST_F(MutationTest, AWipedNodeRestartingBelowItsOldGenerationIsCaught) {
  // A crash, then a wipe of that node: its peers hold the generation of its life before the
  // wipe and ignore every state of the new one (status, ring progress, heartbeats): gossip
  // never converges on it.
  mutation::active = mutation::Kind::kGenerationNotClocked;
  SimConfig config;
  config.faults = Faults::parse("crash,wipe").value();
  // The first seed that catches it is 54 (5 of seeds 1..200).
  EXPECT_NE(first_caught(config, 100), 0u) << "a restart after a wipe must outrank the old life";
  mutation::active = mutation::Kind::kNone;
  EXPECT_EQ(first_caught(config, 100), 0u);
}

TEST_F(MutationTest, ReapingWithoutAskingTheOtherPrimariesIsCaught) {
  // A primary down longer than the grace misses a delete (its hint expires before it is
  // back); reaped on the others, the value it still holds comes back with it.
  mutation::active = mutation::Kind::kReapWithoutCheck;
  SimConfig config;
  config.keys = 100;
  config.ops = 800;
  config.faults = Faults::parse("loss,dup,delay,partition,skew,long").value();
  EXPECT_NE(first_caught(config, 40), 0u) << "a reap that one primary missed must resurrect";
  mutation::active = mutation::Kind::kNone;
  EXPECT_EQ(first_caught(config, 40), 0u);
}

TEST_F(MutationTest, ReadingValuesPastTheirTimeToLiveIsCaught) {
  // Many keys, so an expiring value stays the latest long enough to be read after its end.
  mutation::active = mutation::Kind::kTtlIgnoredOnRead;
  SimConfig config;
  config.keys = 60;
  config.ops = 800;
  config.faults = Faults::parse("dup,delay,skew,ttl").value();
  EXPECT_NE(first_caught(config, 30), 0u) << "an expired value must not be read";
  mutation::active = mutation::Kind::kNone;
  EXPECT_EQ(first_caught(config, 30), 0u);
}

TEST_F(MutationTest, ARestoredSnapshotKeepingItsOldActorIsCaught) {
  // kv679 through a backup: a node restarted from a snapshot of its storage keeps the
  // snapshot's incarnation, so its counters are behind the dots it issued after the
  // snapshot, which the other replicas hold; its next write of such a key reissues one of
  // them, and the replicas take it for the write they already have. Needs that write before
  // read repair or anti-entropy catches the node up: one key, a busy cluster of three.
  mutation::active = mutation::Kind::kRestoreKeepsActor;
  SimConfig config;
  config.nodes = 3;
  config.keys = 1;
  config.ops = 1500;
  config.faults = Faults::parse("restore").value();
  // The first seed that catches it is 26 (6 of seeds 1..100).
  EXPECT_NE(first_caught(config, 100), 0u) << "a restored node reusing dots must lose a write";
  // The same runs pass with a new incarnation at the restore.
  mutation::active = mutation::Kind::kNone;
  EXPECT_EQ(first_caught(config, 60), 0u);
}

}  // namespace
}  // namespace qkv::sim
