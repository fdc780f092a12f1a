// The simulation itself: deterministic, and passing on the cores as they are.
#include <gtest/gtest.h>

#include "tests/sim/simulation.h"

namespace qkv::sim {
namespace {

SimConfig small(uint64_t seed, Faults faults) {
  SimConfig config;
  config.seed = seed;
  config.ops = 150;
  config.faults = faults;
  return config;
}

TEST(SimTest, TheSameSeedGivesTheSameTrace) {
  for (uint64_t seed : {1u, 7u, 42u}) {
    SimResult a = run_simulation(small(seed, Faults::all()));
    SimResult b = run_simulation(small(seed, Faults::all()));
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.events, b.events) << "seed " << seed;
  }
}

TEST(SimTest, DifferentSeedsGiveDifferentRuns) {
  EXPECT_NE(run_simulation(small(1, Faults::all())).trace_hash,
            run_simulation(small(2, Faults::all())).trace_hash);
}

TEST(SimTest, AFaultFreeRunPassesEveryCheckAndAcknowledgesItsWrites) {
  SimResult result = run_simulation(small(3, Faults::none()));
  for (const auto& v : result.violations) ADD_FAILURE() << v;
  EXPECT_FALSE(result.destructive_event);
  // Without faults every operation succeeds, whatever its R or W.
  EXPECT_EQ(result.ops_unsuccessful, 0u);
  EXPECT_EQ(result.ops_acknowledged, result.ops);
}

TEST(SimTest, RunsWithEveryFaultClassPass) {
  for (uint64_t seed = 10; seed < 20; ++seed) {
    SimResult result = run_simulation(small(seed, Faults::all()));
    for (const auto& v : result.violations) ADD_FAILURE() << v;
  }
}

TEST(SimTest, NodesWithTheCommitPipelinePassUnderEveryFaultClass) {
  // Writes land 0-3 ms after the node hands them over, reads and the next batch build on
  // them meanwhile, and a crash in between loses the write before anyone was told of it.
  for (uint64_t seed = 10; seed < 20; ++seed) {
    SimConfig config = small(seed, Faults::all());
    config.commit_pipeline = true;
    config.sync_writes = seed % 2 == 0;
    SimResult result = run_simulation(config);
    for (const auto& v : result.violations) ADD_FAILURE() << "seed " << seed << ": " << v;
  }
  SimConfig aae = small(21, Faults::all());
  aae.commit_pipeline = true;
  aae.repair = SimConfig::Repair::kAntiEntropy;
  SimResult result = run_simulation(aae);
  for (const auto& v : result.violations) ADD_FAILURE() << v;
}

TEST(SimTest, GetsAskingAQuorumOfPrimariesPassUnderEveryFaultClass) {
  for (uint64_t seed = 10; seed < 16; ++seed) {
    SimConfig config = small(seed, Faults::all());
    config.read_fanout = coordinator::Fanout::kQuorum;
    SimResult result = run_simulation(config);
    for (const auto& v : result.violations) ADD_FAILURE() << "seed " << seed << ": " << v;
  }
  SimConfig quiet = small(3, Faults::none());
  quiet.read_fanout = coordinator::Fanout::kQuorum;
  SimResult result = run_simulation(quiet);
  for (const auto& v : result.violations) ADD_FAILURE() << v;
  EXPECT_EQ(result.ops_acknowledged, result.ops) << "without faults every operation succeeds";
}

TEST(SimTest, RingChangesUnderEveryFaultClassMoveDataAndPass) {
  // Six nodes: four in the ring, two spares; a join, a leave and a replace, one at a time,
  // while every fault class is on. (The seed is one whose operator draws one of each: the
  // draws follow the run, so a change in the cores' message order can change them.)
  SimConfig config = small(1, Faults::all());
  config.nodes = 6;
  config.ring_changes = 3;
  SimResult result = run_simulation(config);
  for (const auto& v : result.violations) ADD_FAILURE() << v;
  EXPECT_EQ(result.ring_joins, 1);
  EXPECT_EQ(result.ring_leaves, 1);
  EXPECT_EQ(result.ring_replaces, 1);
  EXPECT_EQ(result.ring_switches, 3) << "every transition completed";
  EXPECT_EQ(result.ring_version, 7u);
  EXPECT_GT(result.transfer_keys_received, 0u);
  EXPECT_GT(result.ranges_dropped, 0u);
  EXPECT_GE(result.nodes_removed, 1) << "the nodes that left exited holding nothing";
  // Ring events are in the trace: the same seed, the same run.
  SimResult again = run_simulation(config);
  EXPECT_EQ(result.trace_hash, again.trace_hash);
  EXPECT_EQ(result.events, again.events);
}

TEST(SimTest, SparesWithAutoJoinJoinByThemselvesUnderEveryFaultClass) {
  SimConfig config = small(3, Faults::all());
  config.nodes = 6;
  config.ring_changes = 2;  // the operator's: leaves and replaces
  config.auto_join = true;
  SimResult result = run_simulation(config);
  for (const auto& v : result.violations) ADD_FAILURE() << v;
  EXPECT_EQ(result.ring_joins, 0) << "the operator stages no joins";
  EXPECT_EQ(result.spares_joined, 2);
  EXPECT_GT(result.transfer_keys_received, 0u);
}

TEST(SimTest, NodesRestoredFromOldSnapshotsLoseNoAcknowledgedWrite) {
  // The restore fault: a snapshot of a node's storage, writes going on past it, then the node
  // restarted from the snapshot with a new incarnation. Other replicas, read repair and
  // anti-entropy bring back what it had taken after the snapshot.
  int restores = 0;
  for (uint64_t seed = 30; seed < 50; ++seed) {
    SimConfig config = small(seed, Faults::parse("restore,crash").value());
    config.ops = 300;
    SimResult result = run_simulation(config);
    for (const auto& v : result.violations) ADD_FAILURE() << v;
    restores += result.restores;
  }
  EXPECT_GE(restores, 8) << "the fault must actually restore nodes";
}

TEST(SimTest, FaultsParseAndNameThemselves) {
  auto f = Faults::parse("loss=0.2,crash,skew");
  ASSERT_TRUE(f.is_ok());
  EXPECT_DOUBLE_EQ(f->loss, 0.2);
  EXPECT_TRUE(f->crashes);
  EXPECT_FALSE(f->wipes);
  EXPECT_EQ(f->to_string(), "loss=0.2,crash,skew");
  EXPECT_TRUE(Faults::all().restores);
  EXPECT_EQ(Faults::parse("restore,crash")->to_string(), "crash,restore");
  EXPECT_FALSE(Faults::parse("gremlins").is_ok());
  EXPECT_FALSE(Faults::parse("loss=2").is_ok());
  EXPECT_EQ(Faults::parse("skew,long")->to_string(), "skew,long");
  EXPECT_FALSE(Faults::all().long_outage) << "long outages run in sweeps of their own";
}

TEST(SimTest, TombstonesAreReapedWhileANodeIsDownLongerThanTheGrace) {
  SimConfig config;
  config.seed = 7;
  config.keys = 100;
  config.ops = 800;
  config.faults = Faults::parse("loss,dup,delay,partition,skew,long").value();
  SimResult result = run_simulation(config);
  for (const auto& v : result.violations) ADD_FAILURE() << v;
  EXPECT_GT(result.tombstones_reaped, 0u) << "the run must reap for the checker to judge it";
}

}  // namespace
}  // namespace qkv::sim
