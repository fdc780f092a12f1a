// Tests of the qkvctl dataset (client/dataset.h) and of load/verify (client/bulk.h) against
// the in-memory fake server.
#include "client/bulk.h"

#include <gtest/gtest.h>

#include <atomic>

#include "client/dataset.h"
#include "tests/client/fake_server.h"

namespace qkv::client {
namespace {

using testing::FakeServer;
using testing::MemoryStore;

TEST(Dataset, LinesBecomeDictKeysWithTheirNeighbours) {
  Dataset data = dataset_from_lines("apple\nbanana\r\n\ncherry\napple\n");
  ASSERT_EQ(data.entries.size(), 3u);
  EXPECT_EQ(data.duplicates, 1u);
  EXPECT_EQ(data.entries[0].key, "dict/apple");
  EXPECT_EQ(data.entries[0].value, "word: apple\nline: 1\nprevious: \nnext: banana\n");
  EXPECT_EQ(data.entries[1].key, "dict/banana");
  EXPECT_EQ(data.entries[1].value, "word: banana\nline: 2\nprevious: apple\nnext: \n");
  EXPECT_EQ(data.entries[2].key, "dict/cherry");
  EXPECT_EQ(data.entries[2].value, "word: cherry\nline: 4\nprevious: \nnext: apple\n");
}

TEST(Dataset, StanzasBecomeDpkgKeysWithTheWholeStanza) {
  Dataset data = dataset_from_stanzas(
      "Package: adduser\nStatus: install ok installed\nArchitecture: all\n"
      "Description: add users\n more text\n\n\n"
      "Package: libc6\nArchitecture: amd64\n\n"
      "Status: no package field\n\n"
      "Package: adduser\nArchitecture: all\n");
  ASSERT_EQ(data.entries.size(), 2u);
  EXPECT_EQ(data.skipped, 1u);
  EXPECT_EQ(data.duplicates, 1u);
  EXPECT_EQ(data.entries[0].key, "dpkg/adduser:all");
  EXPECT_EQ(data.entries[0].value,
            "Package: adduser\nStatus: install ok installed\nArchitecture: all\n"
            "Description: add users\n more text\n");
  EXPECT_EQ(data.entries[1].key, "dpkg/libc6:amd64");
  EXPECT_EQ(data.entries[1].value, "Package: libc6\nArchitecture: amd64\n");
}

TEST(Dataset, ReadFileNamesAMissingFile) {
  auto missing = read_file("/nonexistent/qkv-dataset");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_NE(missing.status().message().find("/nonexistent/qkv-dataset"), std::string::npos);
}

Options options_for(const FakeServer& server) {
  Options options;
  options.nodes = {server.address()};
  options.timeout_ms = 3000;
  return options;
}

std::vector<DatasetEntry> sample(std::size_t n) {
  std::string text;
  for (std::size_t i = 0; i < n; ++i) text += "word" + std::to_string(i) + "\n";
  return dataset_from_lines(text).entries;
}

TEST(Bulk, LoadThenVerifyFindsEveryKey) {
  MemoryStore store;
  FakeServer server(store.script());
  auto entries = sample(200);
  std::atomic<int> progress_calls{0};
  BulkOptions options;
  options.mode = BulkMode::kLoad;
  options.concurrency = 4;
  options.progress_interval_ms = 1;
  options.on_progress = [&](const BulkCounts&, double) { ++progress_calls; };

  BulkReport load = run_bulk(options_for(server), entries, options);
  EXPECT_TRUE(load.ok());
  EXPECT_EQ(load.counts.done, 200u);
  EXPECT_EQ(load.counts.written, 200u);
  EXPECT_EQ(load.counts.ops, 400u);  // a get and a put per key
  EXPECT_EQ(server.connections_accepted(), 4u);

  // Loading again writes nothing and so creates no siblings.
  BulkReport again = run_bulk(options_for(server), entries, options);
  EXPECT_EQ(again.counts.unchanged, 200u);
  EXPECT_EQ(again.counts.written, 0u);

  options.mode = BulkMode::kVerify;
  BulkReport verify = run_bulk(options_for(server), entries, options);
  EXPECT_TRUE(verify.ok());
  EXPECT_EQ(verify.counts.ok, 200u);
  EXPECT_TRUE(verify.failures.empty());
}

TEST(Bulk, VerifyReportsMissingAndWrongKeys) {
  MemoryStore store;
  FakeServer server(store.script());
  auto entries = sample(20);
  Client client(options_for(server));
  for (std::size_t i = 0; i < 18; ++i)
    ASSERT_TRUE(client.put(entries[i].key, entries[i].value).is_ok());
  ASSERT_TRUE(client.put(entries[0].key, "concurrent").is_ok());  // a second sibling
  ASSERT_TRUE(client.put(entries[1].key, "wrong", client.get(entries[1].key)->context).is_ok());

  BulkOptions options;
  options.mode = BulkMode::kVerify;
  options.concurrency = 3;
  options.failures_max = 3;
  BulkReport report = run_bulk(options_for(server), entries, options);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.counts.ok, 16u);
  EXPECT_EQ(report.counts.missing, 2u);
  EXPECT_EQ(report.counts.mismatches, 2u);
  EXPECT_EQ(report.failures.size(), 3u);  // capped at failures_max
}

TEST(Bulk, UnreachableClusterCountsErrors) {
  Options options;
  options.nodes = {testing::refusing_address()};
  BulkOptions bulk;
  bulk.mode = BulkMode::kLoad;
  BulkReport report = run_bulk(options, sample(5), bulk);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.counts.errors, 5u);
  ASSERT_FALSE(report.failures.empty());
  EXPECT_NE(report.failures[0].problem.find("unavailable"), std::string::npos);
}

}  // namespace
}  // namespace qkv::client
