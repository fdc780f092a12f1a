// The fault suite's pure parts, without root: the checker catches what it must (a lost
// acknowledged add, a phantom, an unread key, stale reads past a bound, a missed acceptance
// bound) and passes what it must; fault planning and the ">= W side" rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tests/faults/checker.h"
#include "tests/faults/nemesis.h"

namespace qkv::faults {
namespace {

Op set_put(uint32_t key, uint64_t element, bool ok, int fault = -1) {
  Op op;
  op.workload = WorkloadKind::kSet;
  op.kind = OpKind::kPut;
  op.ok = ok;
  op.eligible = true;
  op.fault = fault;
  op.key = key;
  op.element = element;
  op.end_us = 1000;
  return op;
}

FinalKey final_key(const std::string& key, std::vector<std::string> values) {
  FinalKey f;
  f.key = key;
  f.read = true;
  f.agree = true;
  f.values = std::move(values);
  return f;
}

bool mentions(const Verdict& v, const std::string& word) {
  return std::any_of(v.failures.begin(), v.failures.end(),
                     [&](const std::string& f) { return f.find(word) != std::string::npos; });
}

TEST(FaultsCheckerTest, SiblingsTogetherHoldEveryAcknowledgedAdd) {
  History h;
  h.ops = {set_put(0, 1, true), set_put(0, 2, true), set_put(0, 3, false)};
  std::vector<FinalKey> keys = {final_key("set-0", {"1", "2,3"})};
  Verdict v = check(RunFacts{h, {}, keys, {}}, Bounds{});
  EXPECT_TRUE(v.failures.empty()) << v.report;
}

TEST(FaultsCheckerTest, AnAcknowledgedAddMissingIsLost) {
  History h;
  h.ops = {set_put(0, 1, true), set_put(0, 2, true)};
  std::vector<FinalKey> keys = {final_key("set-0", {"1"})};
  Verdict v = check(RunFacts{h, {}, keys, {}}, Bounds{});
  EXPECT_TRUE(mentions(v, "lost: the acknowledged add of 2 to set-0")) << v.report;
}

TEST(FaultsCheckerTest, AnUnacknowledgedAddMissingIsNoLoss) {
  History h;
  h.ops = {set_put(0, 1, true), set_put(0, 2, false)};
  Verdict v = check(RunFacts{h, {}, {final_key("set-0", {"1"})}, {}}, Bounds{});
  EXPECT_TRUE(v.failures.empty()) << v.report;
}

TEST(FaultsCheckerTest, AnElementNeverAttemptedIsAPhantom) {
  History h;
  h.ops = {set_put(0, 1, true), set_put(1, 7, false)};
  // 7 was attempted on set-1, not on set-0; "x" is no element at all.
  Verdict v = check(RunFacts{h, {}, {final_key("set-0", {"1,7", "x"})}, {}}, Bounds{});
  EXPECT_TRUE(mentions(v, "phantom: set-0 holds '7'")) << v.report;
  EXPECT_TRUE(mentions(v, "phantom: set-0 holds 'x'")) << v.report;
}

TEST(FaultsCheckerTest, AKeyNeverReadFailsTheRun) {
  History h;
  h.ops = {set_put(0, 1, true)};
  FinalKey unread;
  unread.key = "set-0";
  Verdict v = check(RunFacts{h, {}, {unread}, {}}, Bounds{});
  EXPECT_TRUE(mentions(v, "unread")) << v.report;
}

TEST(FaultsCheckerTest, StaleReadsFailOnlyUnderTheirBound) {
  History h;
  h.checked = {{0, 5, 5, 100}, {0, 6, 4, 200}};
  Verdict off = check(RunFacts{h, {}, {}, {}}, Bounds{});
  EXPECT_TRUE(off.failures.empty()) << off.report;
  EXPECT_NE(off.report.find("stale 1"), std::string::npos) << off.report;
  Bounds b;
  b.max_stale_reads = 0;
  EXPECT_TRUE(mentions(check(RunFacts{h, {}, {}, {}}, b), "stale reads: 1"));
}

TEST(FaultsCheckerTest, PartitionAvailabilityBoundCountsPutsToTheSidesHoldingW) {
  std::mt19937_64 rng(1);
  Fault f = plan_fault(FaultKind::kPartition, 5, rng);
  History h;
  for (int i = 0; i < 98; ++i) h.ops.push_back(set_put(0, i + 1, true, 0));
  h.ops.push_back(set_put(0, 99, false, 0));
  h.ops.push_back(set_put(0, 100, false, 0));
  std::vector<std::string> all;
  for (int i = 1; i <= 98; ++i) all.push_back(std::to_string(i));
  Bounds b;
  b.min_partition_put_pct = 99;
  Verdict v = check(RunFacts{h, {f}, {final_key("set-0", all)}, {}}, b);
  EXPECT_TRUE(mentions(v, "98.00%")) << v.report;
  b.min_partition_put_pct = 98;
  EXPECT_TRUE(check(RunFacts{h, {f}, {final_key("set-0", all)}, {}}, b).failures.empty());
}

TEST(FaultsNemesisTest, SidesOfAtLeastWNodesAreEligible) {
  auto count = [](const std::vector<bool>& v) { return std::count(v.begin(), v.end(), true); };
  std::mt19937_64 rng(7);
  Fault halves = plan_fault(FaultKind::kPartition, 5, rng);
  EXPECT_EQ(eligible_nodes(halves, 5, 2), std::vector<bool>(5, true)) << halves.description;
  EXPECT_EQ(count(eligible_nodes(halves, 5, 3)), 3) << halves.description;

  Fault isolate = plan_fault(FaultKind::kIsolate, 5, rng);
  EXPECT_EQ(count(eligible_nodes(isolate, 5, 2)), 4) << isolate.description;

  Fault kill = plan_fault(FaultKind::kKill, 5, rng);
  ASSERT_EQ(kill.nodes.size(), 2u);
  std::vector<bool> live = eligible_nodes(kill, 5, 2);
  for (int i : kill.nodes) EXPECT_FALSE(live[i]);
  EXPECT_EQ(count(live), 3);

  // One way: no pair across the halves exchanges packets both ways.
  Fault oneway = plan_fault(FaultKind::kOneWay, 5, rng);
  int cut_one_way = 0;
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) cut_one_way += oneway.deaf[i][j] && !oneway.deaf[j][i];
  }
  EXPECT_EQ(cut_one_way, 6) << oneway.description;

  Fault bridge = plan_fault(FaultKind::kBridge, 5, rng);
  EXPECT_EQ(eligible_nodes(bridge, 5, 3), std::vector<bool>(5, true)) << bridge.description;
}

TEST(FaultsNemesisTest, ParsesKindsAndGroups) {
  EXPECT_EQ(parse_nemesis("all")->size(), 7u);
  EXPECT_EQ(parse_nemesis("partitions")->size(), 4u);
  EXPECT_EQ(*parse_nemesis("kill,skew"),
            (std::vector<FaultKind>{FaultKind::kKill, FaultKind::kSkew}));
  EXPECT_FALSE(parse_nemesis("kill,flood").has_value());
  EXPECT_FALSE(parse_nemesis("").has_value());
}

}  // namespace
}  // namespace qkv::faults
