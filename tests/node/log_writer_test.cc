// qkvd's log writer: the writer's keys first, escaped logfmt values, the same line as JSON.
#include "node/log_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace qkv::node {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kAt = 1714564800123;  // 2024-05-01T12:00:00.123Z

LogEvent awkward_event() {
  return LogEvent::warn("client_frame_error")
      .with("client", 7)
      .with("error", "bad \"frame\"\nat C:\\x")
      .with("empty", "")
      .with("eq", "a=b");
}

TEST(LogWriterTest, LogfmtStartsWithTsLevelNodeEvent) {
  EXPECT_EQ(
      format_log_line(LogEvent::info("node_up").with("peer", "n2"), LogFormat::kLogfmt, "n1", kAt),
      "ts=2024-05-01T12:00:00.123Z level=info node=n1 event=node_up peer=n2");
}

TEST(LogWriterTest, LogfmtEscapesEveryValue) {
  EXPECT_EQ(format_log_line(awkward_event(), LogFormat::kLogfmt, "n 1", kAt),
            "ts=2024-05-01T12:00:00.123Z level=warn node=\"n 1\" event=client_frame_error "
            "client=7 error=\"bad \\\"frame\\\"\\nat C:\\\\x\" empty=\"\" eq=\"a=b\"");
}

TEST(LogWriterTest, TimestampsAreUtcWithMilliseconds) {
  EXPECT_THAT(format_log_line(LogEvent::info("ready"), LogFormat::kLogfmt, "n1", 0),
              ::testing::StartsWith("ts=1970-01-01T00:00:00.000Z "));
  EXPECT_THAT(format_log_line(LogEvent::info("ready"), LogFormat::kLogfmt, "n1", 951825599999),
              ::testing::StartsWith("ts=2000-02-29T11:59:59.999Z "));
}

TEST(LogWriterTest, JsonIsOneObjectWithTheSameKeysInTheSameOrder) {
  const std::string line = format_log_line(awkward_event(), LogFormat::kJson, "n1", kAt);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line";
  auto parsed = nlohmann::ordered_json::parse(line);
  std::vector<std::string> keys;
  for (const auto& [key, value] : parsed.items()) {
    keys.push_back(key);
    EXPECT_TRUE(value.is_string()) << key;
  }
  EXPECT_THAT(keys, ElementsAre("ts", "level", "node", "event", "client", "error", "empty", "eq"));
  EXPECT_EQ(parsed["ts"], "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(parsed["level"], "warn");
  EXPECT_EQ(parsed["node"], "n1");
  EXPECT_EQ(parsed["event"], "client_frame_error");
  EXPECT_EQ(parsed["client"], "7");
  EXPECT_EQ(parsed["error"], "bad \"frame\"\nat C:\\x");
  EXPECT_EQ(parsed["empty"], "");
}

TEST(LogWriterTest, JsonReplacesBytesThatAreNotUtf8) {
  const std::string line = format_log_line(LogEvent::warn("siblings_warn").with("key", "k\xff"),
                                           LogFormat::kJson, "n1", kAt);
  EXPECT_EQ(nlohmann::json::parse(line)["key"], "k\xef\xbf\xbd");
}

TEST(LogWriterTest, ParsesTheFormatNames) {
  EXPECT_EQ(parse_log_format("logfmt"), LogFormat::kLogfmt);
  EXPECT_EQ(parse_log_format("json"), LogFormat::kJson);
  EXPECT_EQ(parse_log_format("JSON"), std::nullopt);
  EXPECT_EQ(parse_log_format("text"), std::nullopt);
}

// log_event() through spdlog: whole lines, the level filter, the configured format.
TEST(LogWriterTest, LogEventWritesEnabledLevelsAsWholeLines) {
  std::ostringstream out;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  set_up_log(LogFormat::kJson, "n1", "info");
  log_event(LogEvent::debug("peer_unreachable").with("peer", "n2"));
  log_event(LogEvent::info("node_up").with("peer", "n2"));
  set_up_log(LogFormat::kLogfmt, "n1", "warn");
  log_event(LogEvent::info("node_up").with("peer", "n3"));
  log_event(LogEvent::warn("node_down").with("peer", "n3"));
  spdlog::set_default_logger(previous);
  spdlog::set_level(spdlog::level::info);

  std::istringstream lines(out.str());
  std::vector<std::string> got;
  for (std::string line; std::getline(lines, line);) got.push_back(line);
  ASSERT_EQ(got.size(), 2u) << out.str();
  auto json = nlohmann::json::parse(got[0]);
  EXPECT_EQ(json["event"], "node_up");
  EXPECT_EQ(json["node"], "n1");
  EXPECT_THAT(got[1],
              ::testing::MatchesRegex("ts=[0-9T:.-]+Z level=warn node=n1 event=node_down peer=n3"));
}

}  // namespace
}  // namespace qkv::node
