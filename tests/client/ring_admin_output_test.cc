// What qkvctl prints about ring changes: plan ids, the plan's tables and summary, the
// progress of a transition.
#include "client/ring_admin_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qkv::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(PlanId, PrintsAsFixedWidthHexAndParsesBackInEitherBase) {
  EXPECT_EQ(plan_id_text(0xff), "0x00000000000000ff");
  EXPECT_EQ(plan_id_text(UINT64_MAX), "0xffffffffffffffff");
  for (uint64_t id : {uint64_t{1}, uint64_t{0xfeedfacecafebeef}, UINT64_MAX}) {
    EXPECT_EQ(parse_plan_id(plan_id_text(id)).value(), id);
  }
  EXPECT_EQ(parse_plan_id("0XAbC").value(), 0xabcu);
  EXPECT_EQ(parse_plan_id("255").value(), 255u);
  EXPECT_EQ(parse_plan_id("18446744073709551615").value(), UINT64_MAX);
}

TEST(PlanId, MalformedIdsAreRefusedNamingThem) {
  for (const char* bad :
       {"", "0x", "0xg1", "12ab", "-1", "0x10000000000000000", "18446744073709551616"}) {
    auto parsed = parse_plan_id(bad);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr(std::string("'") + bad + "'"));
  }
}

TEST(StagedChange, IsTheClaimantsDescriptionOfTheRequest) {
  proto::RingAdminRequest join;
  join.kind = proto::RingChangeKind::kJoin;
  join.node = "n4";
  EXPECT_EQ(staged_change(join, {"leave n2", "join n4"}), "join n4");
  // By address: the claimant names it by id; the last join staged is the one just added.
  join.node = "10.0.0.4:7001";
  EXPECT_EQ(staged_change(join, {"join n5", "leave n2", "join n4"}), "join n4");
  EXPECT_EQ(staged_change(join, {}), "join 10.0.0.4:7001");
  // A rebalance staged twice is kept once, wherever it is.
  proto::RingAdminRequest rebalance;
  rebalance.kind = proto::RingChangeKind::kRebalance;
  EXPECT_EQ(staged_change(rebalance, {"rebalance", "join n4"}), "rebalance");
  EXPECT_EQ(describe_change(proto::RingChangeKind::kReplace, "n2", "n6"), "replace n2 with n6");
  EXPECT_EQ(describe_change(proto::RingChangeKind::kLeave, "n2", ""), "leave n2");
}

TEST(StageText, NamesTheChangeAndTheClaimantAndListsTheStaging) {
  proto::RingAdminRequest join;
  join.kind = proto::RingChangeKind::kJoin;
  join.node = "n4";
  proto::RingAdminResponse response;
  response.claimant = "n1";
  response.staged = {"leave n2", "join n4"};
  EXPECT_EQ(stage_text(join, response),
            "staged: join n4 (claimant n1); run `qkvctl ring plan`\n"
            "staged changes (2):\n  leave n2\n  join n4\n");
  EXPECT_EQ(staged_list_text({}), "staged changes: none\n");
}

std::vector<proto::RingTransfer> transfers(std::size_t count) {
  std::vector<proto::RingTransfer> out;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back({static_cast<uint32_t>(i), "n1", "n4"});
  }
  return out;
}

TEST(TransfersTable, ShowsTheFirstFortyAndCountsTheRest) {
  std::string all = transfers_table(transfers(45), 0);
  EXPECT_EQ(lines(all), 46u);  // a header and every transfer
  EXPECT_THAT(all, Not(HasSubstr("more")));

  std::string first = transfers_table(transfers(45), kPlanTransfersShown);
  EXPECT_EQ(lines(first), 42u);  // header, 40 rows, "... 5 more"
  EXPECT_THAT(first, HasSubstr("       39  n1 -> n4\n"));
  EXPECT_THAT(first, Not(HasSubstr("       40  n1 -> n4\n")));
  EXPECT_THAT(first, HasSubstr("... 5 more (--all lists every one)\n"));

  EXPECT_THAT(transfers_table(transfers(40), kPlanTransfersShown), Not(HasSubstr("more")));
}

TEST(OwnershipTable, ShowsTheSignedChange) {
  std::string table = ownership_table({{"n1", 86, 64}, {"n2", 85, 85}, {"n4", 0, 64}});
  EXPECT_THAT(table, HasSubstr("n1                    86      64     -22\n"));
  EXPECT_THAT(table, HasSubstr("n2                    85      85       0\n"));
  EXPECT_THAT(table, HasSubstr("n4                     0      64     +64\n"));
}

proto::RingAdminResponse plan_of(std::size_t transfer_count) {
  proto::RingAdminResponse plan;
  plan.claimant = "n1";
  plan.staged = {"join n4"};
  plan.plan_id = 0xab;
  plan.from_version = 7;
  plan.transfers = transfers(transfer_count);
  plan.ownership = {{"n1", 128, 64}, {"n4", 0, 64}};
  plan.moved = 64;
  plan.balance = 1.0234;
  plan.estimated_keys = 1234567;
  plan.estimated_bytes = 3 * 1024 * 1024;
  return plan;
}

TEST(PlanText, SummarisesAndEndsWithTheExactCommitCommand) {
  proto::RingAdminResponse plan = plan_of(3);
  EXPECT_EQ(plan_summary_line(plan),
            "3 transfers, 64 partitions change owner, balance max/mean 1.02, ~1,234,567 keys / "
            "3.0 MiB to move (estimate), plan id 0x00000000000000ab");
  std::string text = plan_text(plan, {"a:1", "b:2"}, false);
  EXPECT_THAT(text, HasSubstr("staged changes (1):\n  join n4\n"));
  EXPECT_THAT(text, HasSubstr("n4                     0      64     +64\n"));
  EXPECT_THAT(text, Not(HasSubstr("violations")));
  EXPECT_TRUE(text.ends_with(
      "to commit it: qkvctl --cluster a:1,b:2 ring commit --plan-id 0x00000000000000ab\n"))
      << text;
  EXPECT_THAT(plan_text(plan_of(41), {"a:1"}, false), HasSubstr("... 1 more"));
  EXPECT_THAT(plan_text(plan_of(41), {"a:1"}, true), Not(HasSubstr("more")));
  EXPECT_THAT(plan_text(plan_of(0), {"a:1"}, false), HasSubstr("no key ranges to transfer"));
}

TEST(PlanText, NamesOnlyTheViolationsThatOccur) {
  proto::RingAdminResponse plan = plan_of(1);
  EXPECT_EQ(violations_line(plan), "");
  plan.zone_violations = 2;
  EXPECT_THAT(violations_line(plan), HasSubstr("violations: 2 zone"));
  EXPECT_THAT(violations_line(plan), Not(HasSubstr("spacing")));
  plan.spacing_violations = 1;
  EXPECT_THAT(violations_line(plan), HasSubstr("violations: 1 spacing"));
  EXPECT_THAT(plan_text(plan, {"a:1"}, false), HasSubstr("2 zone"));
}

TEST(CommitAndCancelText, SayWhatHappened) {
  proto::RingAdminResponse committed;
  committed.plan_id = 0xab;
  committed.ring_version = 9;
  EXPECT_EQ(commit_text(committed),
            "committed plan 0x00000000000000ab as ring version 9; transfers start once every "
            "node has the new ring: watch with `qkvctl ring status`");
  EXPECT_EQ(cancel_text(proto::RingAdminResponse{}), "cancelled the staged changes");
  EXPECT_EQ(cancel_text(committed),
            "cancelled the transition; ring version 9 keeps the old owners");
}

TEST(RingAdminJson, HasEveryFieldAndThePlanIdAsText) {
  auto j = ring_admin_json(plan_of(2));
  EXPECT_EQ(j["plan_id"], "0x00000000000000ab");
  EXPECT_EQ(j["transfers"].size(), 2u);
  EXPECT_EQ(j["transfers"][1]["partition"], 1);
  EXPECT_EQ(j["ownership"][0]["before"], 128);
  EXPECT_EQ(j["estimated_keys"], 1234567);
  EXPECT_EQ(j["claimant"], "n1");
}

TEST(ProgressBar, FillsInProportionAndIsFullOnlyWhenDone) {
  EXPECT_EQ(progress_bar(0, 32, 10), "[..........]");
  EXPECT_EQ(progress_bar(16, 32, 10), "[#####.....]");
  EXPECT_EQ(progress_bar(31, 32, 10), "[#########.]");  // 9.7 rounds down, never to full
  EXPECT_EQ(progress_bar(32, 32, 10), "[##########]");
  EXPECT_EQ(progress_bar(0, 0, 4), "[####]");
  EXPECT_EQ(progress_bar(12, 32).size(), 22u);
}

TEST(Pace, RateAndEtaFollowTheTimeSoFar) {
  EXPECT_EQ(rate_text(10 * 1024 * 1024, 2000), "5.0 MiB/s");
  EXPECT_EQ(rate_text(100, 0), "--");
  EXPECT_EQ(eta_text(12'000, 12, 32), "20s");  // 12 s for 12, so 20 s for the other 20
  EXPECT_EQ(eta_text(12'000, 0, 32), "--");
  EXPECT_EQ(eta_text(0, 5, 32), "--");
  EXPECT_EQ(eta_text(12'000, 32, 32), "0s");
  EXPECT_EQ(eta_text(60'000, 1, 3), "2m");
}

NodeTransfers receiver(std::string id, std::size_t done, std::size_t total) {
  NodeTransfers node;
  node.node_id = std::move(id);
  node.ring_version = 9;
  for (std::size_t i = 0; i < total; ++i) {
    node.transfers.push_back(
        {static_cast<uint32_t>(i), "n1", 1000, 1024 * 1024, i < done, i == done});
  }
  return node;
}

TEST(TransferProgressLine, ShowsRangesKeysBytesRateAndEta) {
  NodeTransfers node = receiver("n4", 12, 32);
  node.transfer_started_unix_ms = 1'000'000;
  EXPECT_EQ(transfer_progress_line(node, 1'012'000),
            "n4  [#######.............] 12/32 ranges  32,000 keys  32.0 MiB  2.7 MiB/s  ETA 20s");
  node.transfer_started_unix_ms = 0;  // unknown start: no pace
  EXPECT_THAT(transfer_progress_line(node, 1'012'000), HasSubstr("32.0 MiB  --  ETA --"));
}

TEST(Transition, CountsReceiversDoneByReportOrByRanges) {
  EXPECT_EQ(transition_line(transition_summary({})), "no transition in progress");
  NodeTransfers idle;  // no inbound ranges: not a receiver
  idle.node_id = "n1";
  idle.ring_version = 9;
  NodeTransfers reported = receiver("n5", 1, 2);
  reported.transfers_done = 9;
  auto summary = transition_summary({idle, receiver("n4", 3, 3), receiver("n6", 1, 4), reported});
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->ring_version, 9u);
  EXPECT_EQ(summary->receivers, 3u);
  EXPECT_EQ(summary->receivers_done, 2u);
  EXPECT_EQ(transition_line(summary), "transition to ring version 9: 2 of 3 receivers done");
  EXPECT_EQ(transition_json(summary)["receivers_done"], 2);
  EXPECT_TRUE(transition_json(std::nullopt).is_null());
}

TEST(MergeMemberViews, KeepsTheNewestVersionsAndAnyUpVerdict) {
  proto::MemberInfo a;
  a.id = "n2";
  a.status = "normal";
  a.ring_version = 8;
  a.transfers_done = 7;
  proto::MemberInfo b = a;
  b.ring_version = 9;
  b.transfers_done = 6;
  b.up = true;
  b.status = "leaving";  // a later view's other fields are not taken
  proto::MemberInfo c;
  c.id = "n1";
  auto merged = merge_member_views({{{a}, 8}, {{b, c}, 9}});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].id, "n1");  // sorted by id
  EXPECT_EQ(merged[1].ring_version, 9u);
  EXPECT_EQ(merged[1].transfers_done, 7u);
  EXPECT_TRUE(merged[1].up);
  EXPECT_EQ(merged[1].status, "normal");
  EXPECT_THAT(ring_members_table(merged),
              HasSubstr("n2               normal   up               9"));
}

}  // namespace
}  // namespace qkv::client
