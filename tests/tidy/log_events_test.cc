// The documented log events stay true (issue 14): docs/operations.md ("Log events") lists
// exactly the names of common/log_events.h, each with exactly the keys the code gives it;
// every listed name is used; and only the log writer talks to spdlog, so every line qkvd
// writes has the one format.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "common/log_events.h"
#include "tests/tidy/source_rules.h"

namespace qkv::tidy {
namespace {

using Keys = std::set<std::string>;

const std::vector<std::string> kModules = {"common", "proto",       "causal", "ring",  "gossip",
                                           "net",    "antientropy", "node",   "client"};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The rows of the table under "## Log events": event name -> keys.
std::map<std::string, Keys> documented_events(const std::string& doc) {
  std::map<std::string, Keys> events;
  const std::size_t begin = doc.find("\n## Log events\n");
  if (begin == std::string::npos) return events;
  const std::size_t end = doc.find("\n## ", begin + 1);
  std::istringstream section(doc.substr(begin, end - begin));
  static const std::regex kRow(R"(^\| `([a-z0-9_]+)` \| [a-z]+ \| ([^|]*) \|)");
  static const std::regex kKey("`([a-z0-9_]+)`");
  for (std::string line; std::getline(section, line);) {
    std::smatch row;
    if (!std::regex_search(line, row, kRow)) continue;
    Keys& keys = events[row[1]];
    const std::string cell = row[2];
    for (auto it = std::sregex_iterator(cell.begin(), cell.end(), kKey);
         it != std::sregex_iterator(); ++it) {
      keys.insert((*it)[1]);
    }
  }
  return events;
}

// Every `LogEvent::<level>("name")` in the sources -> the keys of the `.with("key", ...)`
// calls that follow it in the same statement (comments ignored; a ';' inside a string
// literal does not end the statement).
std::map<std::string, Keys> events_in_code(const std::vector<SourceFile>& files) {
  static const std::regex kEvent(
      R"re(LogEvent::(debug|info|warn|error|critical)\("([a-z0-9_]+)"\))re");
  static const std::regex kWith(R"re(\.with\(\s*"([a-z0-9_]+)")re");
  std::map<std::string, Keys> events;
  for (const SourceFile& file : files) {
    const std::string code = blank_source(file.text, /*blank_literals=*/false, false);
    const std::string statements = blank_source(file.text, /*blank_literals=*/true, false);
    for (auto it = std::sregex_iterator(code.begin(), code.end(), kEvent);
         it != std::sregex_iterator(); ++it) {
      const std::size_t from = static_cast<std::size_t>(it->position() + it->length());
      const std::size_t to = statements.find(';', from);
      const std::string rest = code.substr(from, to - from);
      Keys& keys = events[(*it)[2]];
      for (auto w = std::sregex_iterator(rest.begin(), rest.end(), kWith);
           w != std::sregex_iterator(); ++w) {
        keys.insert((*w)[1]);
      }
    }
  }
  return events;
}

TEST(LogEventsTest, TheDocumentedListIsTheCodesList) {
  const auto documented =
      documented_events(read_file(std::string(QKV_SOURCE_DIR) + "/docs/operations.md"));
  ASSERT_FALSE(documented.empty()) << "no \"## Log events\" table in docs/operations.md";
  std::set<std::string> listed(kLogEventNames.begin(), kLogEventNames.end());
  EXPECT_EQ(listed.size(), kLogEventNames.size()) << "a name is twice in common/log_events.h";
  std::set<std::string> in_doc;
  for (const auto& [name, keys] : documented) in_doc.insert(name);
  std::string only_doc, only_code;
  for (const auto& name : in_doc) only_doc += listed.contains(name) ? "" : " " + name;
  for (const auto& name : listed) only_code += in_doc.contains(name) ? "" : " " + name;
  EXPECT_EQ(in_doc, listed) << "docs/operations.md (Log events) and common/log_events.h differ: "
                            << "only in the doc:" << only_doc << "; only in the code:" << only_code;
}

TEST(LogEventsTest, EveryEventIsUsedWithTheDocumentedKeys) {
  const auto documented =
      documented_events(read_file(std::string(QKV_SOURCE_DIR) + "/docs/operations.md"));
  const auto in_code = events_in_code(read_tree(QKV_SOURCE_DIR, kModules));
  for (std::string_view name : kLogEventNames) {
    const std::string event(name);
    auto code = in_code.find(event);
    if (code == in_code.end()) {
      ADD_FAILURE() << "event " << event << " is listed but never logged: a stable name is "
                    << "not removed while code may still need it; if it really is gone, "
                    << "remove it from common/log_events.h and docs/operations.md";
      continue;
    }
    auto doc = documented.find(event);
    if (doc == documented.end()) continue;  // reported by the test above
    EXPECT_EQ(code->second, doc->second)
        << "keys of event " << event << ": the code's (left) and docs/operations.md's differ";
  }
}

TEST(LogEventsTest, OnlyTheLogWriterTalksToSpdlog) {
  static const std::regex kSpdlog(R"(\bspdlog::|<spdlog/)");
  for (const SourceFile& file : read_tree(QKV_SOURCE_DIR, kModules)) {
    if (file.path.starts_with("node/log_writer.")) continue;
    const std::string code = blank_source(file.text, /*blank_literals=*/false, false);
    EXPECT_FALSE(std::regex_search(code, kSpdlog))
        << file.path << " uses spdlog: log a LogEvent through node/log_writer.h, so every "
        << "line has the one format (docs/operations.md, Log events)";
  }
}

}  // namespace
}  // namespace qkv::tidy
