#include "client/repair_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qkv::client {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000;

proto::RepairProgress progress(uint32_t total, uint32_t done, uint32_t failed, bool running) {
  proto::RepairProgress p;
  p.running = running;
  p.partitions_total = total;
  p.partitions_done = done;
  p.partitions_failed = failed;
  return p;
}

NodeRepair node(std::string address, std::string node_id, bool accepted, uint32_t queued,
                proto::RepairProgress p, std::string error) {
  NodeRepair n;
  n.address = std::move(address);
  n.node_id = std::move(node_id);
  n.accepted = accepted;
  n.partitions_queued = queued;
  n.progress = std::move(p);
  n.error = std::move(error);
  return n;
}

TEST(AgeText, UsesTheLargestWholeUnit) {
  EXPECT_EQ(age_text(0), "0s");
  EXPECT_EQ(age_text(3'999), "3s");
  EXPECT_EQ(age_text(59'999), "59s");
  EXPECT_EQ(age_text(60'000), "1m");
  EXPECT_EQ(age_text(4 * 60'000 + 59'000), "4m");
  EXPECT_EQ(age_text(2 * 3'600'000 + 1), "2h");
  EXPECT_EQ(age_text(23 * 3'600'000 + 3'599'999), "23h");
  EXPECT_EQ(age_text(3 * 86'400'000), "3d");
  EXPECT_EQ(age_text(-5'000), "0s");  // a node clock ahead of ours
}

TEST(ByteSizeText, BinaryUnitsWithOneDecimal) {
  EXPECT_EQ(byte_size_text(0), "0 B");
  EXPECT_EQ(byte_size_text(1023), "1023 B");
  EXPECT_EQ(byte_size_text(1024), "1.0 KiB");
  EXPECT_EQ(byte_size_text(1536), "1.5 KiB");
  EXPECT_EQ(byte_size_text(1'258'291), "1.2 MiB");
  EXPECT_EQ(byte_size_text(1024 * 1024 - 1), "1.0 MiB");  // not "1024.0 KiB"
  EXPECT_EQ(byte_size_text(3ull << 30), "3.0 GiB");
  EXPECT_EQ(byte_size_text(UINT64_MAX), "16.0 EiB");
}

TEST(CountText, GroupsThousands) {
  EXPECT_EQ(count_text(0), "0");
  EXPECT_EQ(count_text(999), "999");
  EXPECT_EQ(count_text(3400), "3,400");
  EXPECT_EQ(count_text(1'234'567), "1,234,567");
  EXPECT_EQ(count_text(100'000), "100,000");
}

TEST(RepairProgressText, ShowsFailedOnlyWhenThereAreAny) {
  proto::RepairProgress p = progress(256, 12, 1, true);
  p.keys_compared = 3400;
  p.keys_repaired = 120;
  p.bytes_sent = 1'258'291;
  EXPECT_EQ(repair_progress_text(p),
            "partitions 12/256 (1 failed)  keys compared 3,400  repaired 120  sent 1.2 MiB");
  p.partitions_failed = 0;
  EXPECT_EQ(repair_progress_text(p),
            "partitions 12/256  keys compared 3,400  repaired 120  sent 1.2 MiB");
}

TEST(SumProgress, AddsCountsAndKeepsTheLastError) {
  auto a = progress(10, 10, 1, false);
  a.keys_compared = 5;
  a.last_error = "n2: timeout";
  auto b = progress(20, 4, 0, true);
  b.bytes_sent = 100;
  auto c = progress(0, 0, 0, false);
  auto sum = sum_progress({a, b, c});
  EXPECT_TRUE(sum.running);
  EXPECT_EQ(sum.partitions_total, 30u);
  EXPECT_EQ(sum.partitions_done, 14u);
  EXPECT_EQ(sum.partitions_failed, 1u);
  EXPECT_EQ(sum.keys_compared, 5u);
  EXPECT_EQ(sum.bytes_sent, 100u);
  EXPECT_EQ(sum.last_error, "n2: timeout");
  EXPECT_EQ(sum_progress({}), proto::RepairProgress{});
}

TEST(ExchangeAges, NewestAndOldestOfTheExchangedNeverApart) {
  std::vector<proto::PartitionExchange> ex = {
      {0, kNow - 3'000}, {1, 0}, {2, kNow - 2 * 3'600'000}, {3, kNow - 60'000}};
  ExchangeAges ages = exchange_ages(ex, kNow);
  EXPECT_EQ(ages.partitions, 4u);
  EXPECT_EQ(ages.never, 1u);
  EXPECT_EQ(ages.newest_age_ms, 3'000);
  EXPECT_EQ(ages.oldest_age_ms, 2 * 3'600'000);
  EXPECT_EQ(anti_entropy_line(ex, kNow),
            "anti-entropy: 4 partitions, last exchanged: newest 3s ago, oldest 2h ago, never: 1");
}

TEST(ExchangeAges, NoneExchangedAndNoPartitions) {
  std::vector<proto::PartitionExchange> never = {{0, 0}, {7, 0}};
  EXPECT_EQ(exchange_ages(never, kNow).newest_age_ms, std::nullopt);
  EXPECT_EQ(anti_entropy_line(never, kNow),
            "anti-entropy: 2 partitions, last exchanged: newest -, oldest -, never: 2");
  EXPECT_EQ(anti_entropy_line({}, kNow), "anti-entropy: 0 partitions");
}

TEST(ExchangesTable, OneRowPerPartition) {
  std::string table = exchanges_table({{4, kNow - 4 * 60'000}, {9, 0}}, kNow);
  EXPECT_EQ(table,
            "  partition  last exchange\n"
            "          4  4m ago\n"
            "          9  never\n");
}

TEST(NodeRepair, SucceedsOnlyWhenEveryPartitionDidAndNothingFailed) {
  NodeRepair n = node("a:1", "n1", true, 4, progress(4, 4, 0, false), "");
  EXPECT_TRUE(n.succeeded());
  EXPECT_EQ(n.partitions_unsucceeded(), 0u);

  NodeRepair failed = n;
  failed.progress = progress(4, 4, 1, false);
  EXPECT_FALSE(failed.succeeded());
  EXPECT_EQ(failed.partitions_unsucceeded(), 1u);

  NodeRepair running = n;
  running.progress = progress(4, 2, 0, true);
  EXPECT_FALSE(running.succeeded());
  EXPECT_EQ(running.partitions_unsucceeded(), 2u);

  NodeRepair lost = n;
  lost.error = "status: unavailable";
  EXPECT_FALSE(lost.succeeded());

  NodeRepair refused = node("a:1", "", false, 0, proto::RepairProgress(), "connect failed");
  EXPECT_FALSE(refused.succeeded());
  EXPECT_EQ(refused.partitions_unsucceeded(), 0u);

  NodeRepair nothing_to_do = node("a:1", "n1", true, 0, proto::RepairProgress(), "");
  EXPECT_TRUE(nothing_to_do.succeeded());
}

std::vector<NodeRepair> two_nodes() {
  NodeRepair a = node("127.0.0.1:7001", "n1", true, 86, progress(86, 86, 0, false), "");
  a.progress.keys_compared = 3400;
  a.progress.keys_repaired = 120;
  a.progress.bytes_sent = 2048;
  NodeRepair b = node("127.0.0.1:7002", "", false, 0, proto::RepairProgress(),
                      "127.0.0.1:7002: connect failed");
  return {a, b};
}

TEST(RepairTable, RowPerNodeAndATotal) {
  std::string table = repair_table(two_nodes());
  EXPECT_THAT(table, HasSubstr("node"));
  EXPECT_THAT(table, HasSubstr("last error"));
  EXPECT_THAT(table, HasSubstr("n1                     86/86       0         3,400           120"
                               "    2.0 KiB  -\n"));
  // A node that never answered is named by its address, with its error.
  EXPECT_THAT(table, HasSubstr("127.0.0.1:7002"));
  EXPECT_THAT(table, HasSubstr("127.0.0.1:7002: connect failed\n"));
  EXPECT_THAT(table, HasSubstr("total (2 nodes)        86/86"));
}

TEST(RepairFailureText, CountsNamesAndLastError) {
  auto nodes = two_nodes();
  nodes[0].progress = progress(86, 80, 2, false);
  nodes[0].progress.last_error = "n3: exchange timed out";
  EXPECT_EQ(repair_failure_text(nodes, false, 600),
            "repair incomplete: 8 of 86 partitions did not succeed (2 failed); last error: n3: "
            "exchange timed out; 127.0.0.1:7002: 127.0.0.1:7002: connect failed");
  nodes.pop_back();
  nodes[0].progress = progress(86, 10, 0, true);
  EXPECT_EQ(repair_failure_text(nodes, true, 30),
            "the repair was still running after --timeout-s 30: 76 of 86 partitions did not "
            "succeed (0 failed)");
}

TEST(RepairReportJson, NodesTotalAndVerdict) {
  json j = repair_report_json(two_nodes(), /*timed_out=*/false);
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0]["node_id"], "n1");
  EXPECT_EQ(j["nodes"][0]["accepted"], true);
  EXPECT_EQ(j["nodes"][0]["partitions_queued"], 86);
  EXPECT_EQ(j["nodes"][0]["partitions_done"], 86);
  EXPECT_EQ(j["nodes"][0]["keys_compared"], 3400);
  EXPECT_EQ(j["nodes"][0]["error"], "");
  EXPECT_EQ(j["nodes"][1]["accepted"], false);
  EXPECT_EQ(j["nodes"][1]["error"], "127.0.0.1:7002: connect failed");
  EXPECT_EQ(j["total"]["nodes"], 2);
  EXPECT_EQ(j["total"]["partitions_total"], 86);
  EXPECT_EQ(j["total"]["bytes_sent"], 2048);
  EXPECT_EQ(j["ok"], false);  // a node refused
  EXPECT_EQ(j["timed_out"], false);

  auto good = two_nodes();
  good.pop_back();
  EXPECT_EQ(repair_report_json(good, false)["ok"], true);
  EXPECT_EQ(repair_report_json(good, true)["ok"], false);
}

}  // namespace
}  // namespace qkv::client
