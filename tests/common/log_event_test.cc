// LogEvent: fields in order, the logfmt escaping of values, and the key rules.
#include "common/log_event.h"

#include <gtest/gtest.h>

namespace qkv {
namespace {

TEST(LogEventTest, KeepsFieldsInTheOrderAdded) {
  LogEvent e = LogEvent::warn("node_down").with("peer", "n2").with("phi", 8.5).with("up", false);
  EXPECT_EQ(e.level(), LogLevel::kWarn);
  EXPECT_EQ(e.event(), "node_down");
  ASSERT_EQ(e.fields().size(), 3u);
  EXPECT_EQ(e.fields()[0], (LogField{"peer", "n2"}));
  EXPECT_EQ(e.fields()[1], (LogField{"phi", "8.5"}));
  EXPECT_EQ(e.fields()[2], (LogField{"up", "false"}));
  EXPECT_EQ(e.to_string(), "event=node_down peer=n2 phi=8.5 up=false");
}

TEST(LogEventTest, FormatsNumbersStringsAndStatuses) {
  LogEvent e = LogEvent::info("ready");
  e.with("count", uint64_t{18446744073709551615u}).with("id", std::string("n1"));
  e.with("error", Status::unavailable("no quorum")).with("ok", Status::ok());
  EXPECT_EQ(e.field("count"), "18446744073709551615");
  EXPECT_EQ(e.field("id"), "n1");
  EXPECT_EQ(e.field("error"), "unavailable: no quorum");
  EXPECT_EQ(e.field("ok"), "ok");
  EXPECT_EQ(e.field("missing"), std::nullopt);
}

TEST(LogEventTest, EscapesValuesThatWouldBreakTheLine) {
  EXPECT_EQ(logfmt_value("plain-value_1.2:3/x"), "plain-value_1.2:3/x");
  EXPECT_EQ(logfmt_value(""), "\"\"");
  EXPECT_EQ(logfmt_value("two words"), "\"two words\"");
  EXPECT_EQ(logfmt_value("a=b"), "\"a=b\"");
  EXPECT_EQ(logfmt_value("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(logfmt_value(R"(C:\dir)"), R"("C:\\dir")");
  EXPECT_EQ(logfmt_value("line\nnext\r\tend"), R"("line\nnext\r\tend")");
  EXPECT_EQ(logfmt_value(std::string_view("nul\0bell\a", 9)), R"("nul\u0000bell\u0007")");
  EXPECT_EQ(logfmt_value("del\x7f"), R"("del\u007f")");
  EXPECT_EQ(logfmt_value("caf\xc3\xa9"), "caf\xc3\xa9") << "UTF-8 stays as it is";
}

TEST(LogEventTest, AnEscapedValueCannotForgeAKey) {
  LogEvent e = LogEvent::warn("client_frame_error").with("error", "x\" level=info node=n9 a=\"");
  EXPECT_EQ(e.to_string(), R"(event=client_frame_error error="x\" level=info node=n9 a=\"")");
}

// The writer's keys and malformed keys do not compile (see also the compile-fail tests in
// tests/common/CMakeLists.txt); the rule itself:
static_assert(is_log_key("peer") && is_log_key("hint_age_max_ms") && is_log_key("n"));
static_assert(!is_log_key("ts") && !is_log_key("level") && !is_log_key("node") &&
              !is_log_key("event"));
static_assert(!is_log_key("") && !is_log_key("Peer") && !is_log_key("1st") && !is_log_key("a-b") &&
              !is_log_key("a b") && !is_log_key("a=b"));
static_assert(is_log_event_name("ready") && !is_log_event_name("not_an_event"));

TEST(LogEventDeathTest, AKeyAddedTwiceIsABug) {
  EXPECT_DEATH(LogEvent::info("ready").with("peer", "a").with("peer", "b"), "field");
}

}  // namespace
}  // namespace qkv
