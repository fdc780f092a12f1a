// The tidy rules proven able to fail: each is fed synthetic sources with a violation and
// must report it (file, line, rule), and must not be fooled by comments or literals.
#include "tests/tidy/source_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

namespace qkv::tidy {
namespace {

using ::testing::HasSubstr;

// "void name() {", `lines` - 2 statements, "}": a body of exactly `lines` lines.
std::string function_of(const std::string& name, int lines) {
  std::string text = "void " + name + "() {\n";
  for (int i = 0; i < lines - 2; ++i) text += "  step();\n";
  return text + "}\n";
}

std::vector<std::string> names(const std::vector<FunctionBody>& functions) {
  std::vector<std::string> out;
  for (const FunctionBody& f : functions) out.push_back(f.name);
  return out;
}

LayeringPolicy small_policy() {
  LayeringPolicy policy;
  policy.modules = {"common", "causal", "ring", "gossip", "net", "node", "client", "tests"};
  policy.may_include = {{"common", {}},
                        {"causal", {"common"}},
                        {"ring", {"common"}},
                        {"gossip", {"common", "causal"}},
                        {"net", {"common"}},
                        {"node", {"common", "causal", "ring", "gossip", "net"}},
                        {"client", {"common", "net"}}};
  // Allow-lists name only folders here: a stale file entry is itself a violation.
  policy.dependencies = {{"asio", "Asio", {"boost/asio", "common/asio.h"}, {{"net/", "transport"}}},
                         {"rocksdb", "RocksDB", {"rocksdb/"}, {}}};
  return policy;
}

TEST(BlankSourceTest, BlanksCommentsAndLiteralsButKeepsLinesAndQuotes) {
  const std::string text =
      "int a = 1;  // { }\n"
      "/* { \n } */ const char* s = \"{ \\\" }\";\n"
      "char c = '{'; int n = 10'000; auto r = R\"x(})\" {)x\";\n";
  const std::string code = blank_source(text, true, false);
  ASSERT_EQ(code.size(), text.size());
  EXPECT_EQ(std::count(code.begin(), code.end(), '\n'), 4);
  EXPECT_EQ(code.find('{'), std::string::npos) << code;
  EXPECT_EQ(code.find('}'), std::string::npos) << code;
  EXPECT_NE(code.find("10'000"), std::string::npos) << "a digit separator is no char literal";
  EXPECT_NE(code.find("\"      \""), std::string::npos) << code;
  EXPECT_NE(blank_source(text, false, false).find("\"{ \\\" }\""), std::string::npos);
}

TEST(BlankSourceTest, BlanksDirectivesWithTheirContinuations) {
  const std::string code = blank_source("#define OPEN { \\\n  x\nint y;\n", true, true);
  EXPECT_EQ(code, std::string(16, ' ') + "\n   \nint y;\n");
}

TEST(FindIncludesTest, ReadsQuotedAndAngledIncludesOutsideCommentsAndLiterals) {
  const std::string text =
      "#include \"ring/ring.h\"\n"
      "  #  include <rocksdb/db.h>\n"
      "// #include \"node/node.h\"\n"
      "/*\n#include \"node/node.h\"\n*/\n"
      "const char* s = R\"(\n#include \"node/node.h\"\n)\";\n";
  const std::vector<Include> includes = find_includes(text);
  ASSERT_EQ(includes.size(), 2u);
  EXPECT_EQ(includes[0].line, 1);
  EXPECT_FALSE(includes[0].angled);
  EXPECT_EQ(includes[0].path, "ring/ring.h");
  EXPECT_EQ(includes[1].line, 2);
  EXPECT_TRUE(includes[1].angled);
  EXPECT_EQ(includes[1].path, "rocksdb/db.h");
}

TEST(LayeringTest, ReportsALowerModuleIncludingAHigherOne) {
  const std::vector<Violation> violations = check_layering(
      {{"ring/ring.cc", "#include \"common/status.h\"\n#include \"gossip/gossip_core.h\"\n"},
       {"gossip/gossip_core.h", "#include \"ring/ring.h\"\n"},
       {"causal/dot.h", "#include \"causal/actor.h\"\n// #include \"node/node.h\"\n"},
       {"common/status.h", "#include \"node/node.h\"\n"},
       {"client/client.cc", "#include \"net/peer.h\"\n#include \"node/node.h\"\n"},
       {"tests/ring_test.cc", "#include \"node/node.h\"\n"},
       {"node/node.cc", "#include \"gossip/gossip_core.h\"\n#include \"ring/ring.h\"\n"}},
      small_policy());
  ASSERT_EQ(violations.size(), 4u) << format(violations);
  EXPECT_EQ(violations[0].file, "client/client.cc");
  EXPECT_EQ(violations[0].line, 2);
  EXPECT_EQ(violations[0].rule, "layering");
  EXPECT_THAT(violations[0].message, HasSubstr("\"node/node.h\""));
  EXPECT_THAT(violations[0].message, HasSubstr("client/ may include only {common, net}"));
  EXPECT_EQ(violations[1].file, "common/status.h");
  EXPECT_EQ(violations[2].file, "gossip/gossip_core.h");
  EXPECT_EQ(violations[3].file, "ring/ring.cc");
  EXPECT_EQ(violations[3].line, 2);
  EXPECT_THAT(format(violations), HasSubstr("ring/ring.cc:2: [layering] includes"));
}

TEST(LayeringTest, ReportsAsioReachedThroughAProjectHeader) {
  LayeringPolicy policy = small_policy();
  policy.dependencies[0].allowed.push_back({"common/asio.h", "the wrapper"});
  const std::vector<Violation> violations =
      check_layering({{"common/asio.h", "#include <boost/asio.hpp>\n"},
                      {"net/peer.h", "#include \"common/asio.h\"\n"},
                      {"node/driver.h", "#include <vector>\n#include \"net/peer.h\"\n"},
                      {"node/node.cc", "#include \"node/driver.h\"\n"},
                      {"gossip/core.cc", "\n#include <boost/asio/steady_timer.hpp>\n"}},
                     policy);
  // node/node.cc reaches Asio too, but through node/driver.h, where it is reported.
  ASSERT_EQ(violations.size(), 2u) << format(violations);
  EXPECT_EQ(violations[0].file, "gossip/core.cc");
  EXPECT_EQ(violations[0].line, 2);
  EXPECT_EQ(violations[0].rule, "asio");
  EXPECT_EQ(violations[1].file, "node/driver.h");
  EXPECT_EQ(violations[1].line, 2);
  EXPECT_THAT(violations[1].message, HasSubstr("(net/peer.h -> common/asio.h)"));
  EXPECT_THAT(violations[1].message, HasSubstr("Asio allow-list"));
}

TEST(LayeringTest, ReportsRocksDbOutsideItsDriverAndStaleAllowListEntries) {
  LayeringPolicy policy = small_policy();
  policy.dependencies[0].allowed.push_back({"node/server.cc", "was the driver"});
  policy.dependencies[1].allowed.push_back({"node/db.cc", "the driver"});
  const std::vector<Violation> violations =
      check_layering({{"node/node.cc", "#include <rocksdb/db.h>\n"},
                      {"node/db.cc", "#include <rocksdb/db.h>\n"},
                      {"node/server.cc", "#include \"node/node.h\"\n"}},
                     policy);
  ASSERT_EQ(violations.size(), 2u) << format(violations);
  EXPECT_EQ(violations[0].file, "node/server.cc");
  EXPECT_EQ(violations[0].rule, "asio");
  EXPECT_THAT(violations[0].message, HasSubstr("remove it from the Asio allow-list"));
  EXPECT_EQ(violations[1].file, "node/node.cc");
  EXPECT_EQ(violations[1].line, 1);
  EXPECT_EQ(violations[1].rule, "rocksdb");
}

TEST(SystemClockTest, ReportsUsesOutsideTheAllowListAndStaleEntries) {
  const std::vector<Violation> violations =
      check_system_clock({{"node/node.cc",
                           "// system_clock is not read here\nauto s = \"system_clock\";\n"
                           "auto t = std::chrono::system_clock::now();\n"},
                          {"node/main.cc", "auto t = std::chrono::system_clock::now();\n"},
                          {"ring/ring.cc", "using std::chrono::system_clock;\n"}},
                         {{"node/main.cc", "shell"}, {"client/cli.cc", "gone"}});
  ASSERT_EQ(violations.size(), 3u) << format(violations);
  EXPECT_EQ(violations[0].file, "node/node.cc");
  EXPECT_EQ(violations[0].line, 3);
  EXPECT_EQ(violations[0].rule, "system_clock");
  EXPECT_THAT(violations[0].message, HasSubstr("Take the time as an argument"));
  EXPECT_EQ(violations[1].file, "ring/ring.cc");
  EXPECT_EQ(violations[2].file, "client/cli.cc");
  EXPECT_THAT(violations[2].message, HasSubstr("remove it from the system_clock allow-list"));
}

TEST(FindFunctionsTest, CountsABodyFromItsOpeningToItsClosingBraceLine) {
  const std::vector<FunctionBody> functions = find_functions(
      "namespace qkv {\n" + function_of("a", 3) + "\n" + function_of("b", 71) + "}\n");
  ASSERT_EQ(functions.size(), 2u);
  EXPECT_EQ(functions[0].name, "a");
  EXPECT_EQ(functions[0].first_line, 2);
  EXPECT_EQ(functions[0].lines(), 3);
  EXPECT_EQ(functions[1].name, "b");
  EXPECT_EQ(functions[1].first_line, 6);
  EXPECT_EQ(functions[1].lines(), 71);
}

TEST(FindFunctionsTest, IsNotFooledByBracesInStringsCharsCommentsAndDirectives) {
  const std::string text =
      "const char* kOpen = \"{{\";  // }\n"
      "#define BLOCK {\n"
      "int f(int x) {\n"
      "  const char* s = \"}}\";  /* } */\n"
      "  auto r = R\"(}\")\";  char c = '}';  char d = '\\'';\n"
      "  return x;  // }\n"
      "}\n"
      "int g() { return 1; }\n";
  const std::vector<FunctionBody> functions = find_functions(text);
  ASSERT_EQ(names(functions), (std::vector<std::string>{"f", "g"}));
  EXPECT_EQ(functions[0].first_line, 3);
  EXPECT_EQ(functions[0].last_line, 7);
  EXPECT_EQ(functions[1].lines(), 1);
}

TEST(FindFunctionsTest, CountsLambdasAndLocalClassesTowardTheirFunction) {
  const std::string text =
      "void Node::on_tick(TimePoint now) {\n"
      "  auto each = [&](int x) {\n"
      "    return x;\n"
      "  };\n"
      "  struct Local { int f() const { return 1; } };\n"
      "}\n"
      "auto kTwice = [](int x) {\n"
      "  return 2 * x;\n"
      "};\n";
  const std::vector<FunctionBody> functions = find_functions(text);
  ASSERT_EQ(names(functions), (std::vector<std::string>{"Node::on_tick", "(lambda)"}));
  EXPECT_EQ(functions[0].lines(), 6);
  EXPECT_EQ(functions[1].lines(), 3);
}

TEST(FindFunctionsTest, NamesMembersConstructorsAndOperatorsAndSkipsInitializers) {
  const std::string text =
      "namespace qkv::node {\n"
      "extern \"C\" { int c_api(void) { return 0; } }\n"
      "enum class Kind : uint8_t { kA, kB };\n"
      "const std::map<int, int> kTable{{1, 2}, {3, 4}};\n"
      "template <typename T>\n"
      "class Outer final : public Base<T> {\n"
      " public:\n"
      "  Outer(int x) noexcept : a_{x}, b_(Make{x}), c_([] { return 1; }) {\n"
      "    start();\n"
      "  }\n"
      "  ~Outer() override { stop(); }\n"
      "  bool operator()(const T& t) const { return t; }\n"
      "  explicit operator bool() const { return true; }\n"
      "  auto size() const -> std::size_t { return 0; }\n"
      "  void set(Options o = Options{}) { o_ = o; }\n"
      " private:\n"
      "  struct alignas(8) Inner {\n"
      "    int get() const& { return 1; }\n"
      "  };\n"
      "  int a_{0};\n"
      "  std::function<void()> f_ = [] {};\n"
      "};\n"
      "Outer::Outer(int x, int y)\n"
      "    : a_(x),\n"
      "      b_{y} {}\n"
      "bool Status::operator==(const Status& other) const { return true; }\n"
      "}  // namespace qkv::node\n";
  EXPECT_EQ(names(find_functions(text)),
            (std::vector<std::string>{"c_api", "Outer::Outer", "Outer::~Outer", "Outer::operator()",
                                      "Outer::operator bool", "Outer::size", "Outer::set",
                                      "Outer::Inner::get", "Outer::Outer", "Status::operator=="}));
}

std::vector<SourceFile> long_functions_tree() {
  return {{"node/node.cc", function_of("a", 71) + function_of("b", 70) + function_of("c", 90) +
                               function_of("d", 80) + function_of("e", 40)}};
}

TEST(FunctionLengthTest, ReportsAFunctionOverTheLimitThatIsNotExcepted) {
  const std::vector<Violation> violations = check_function_lengths(
      long_functions_tree(), 70, {{"node/node.cc", "c", 90}, {"node/node.cc", "d", 80}});
  ASSERT_EQ(violations.size(), 1u) << format(violations);
  EXPECT_EQ(violations[0].file, "node/node.cc");
  EXPECT_EQ(violations[0].line, 1);
  EXPECT_EQ(violations[0].rule, "function_length");
  EXPECT_THAT(violations[0].message, HasSubstr("a is 71 lines, over the limit of 70"));
}

TEST(FunctionLengthTest, ReportsAnExceptedFunctionThatGrew) {
  const std::vector<Violation> violations = check_function_lengths(
      long_functions_tree(), 70,
      {{"node/node.cc", "a", 71}, {"node/node.cc", "c", 89}, {"node/node.cc", "d", 80}});
  ASSERT_EQ(violations.size(), 1u) << format(violations);
  EXPECT_EQ(violations[0].line, 1 + 71 + 70);
  EXPECT_THAT(violations[0].message, HasSubstr("c grew to 90 lines, past its exception of 89"));
}

TEST(FunctionLengthTest, ReportsExceptionsThatNoLongerApply) {
  const std::vector<Violation> violations = check_function_lengths(long_functions_tree(), 70,
                                                                   {{"node/node.cc", "a", 71},
                                                                    {"node/node.cc", "b", 75},
                                                                    {"node/node.cc", "c", 90},
                                                                    {"node/node.cc", "d", 80},
                                                                    {"node/node.cc", "gone", 100},
                                                                    {"node/old.cc", "a", 100}});
  ASSERT_EQ(violations.size(), 3u) << format(violations);
  EXPECT_THAT(violations[0].message, HasSubstr("b is now 70 lines, within 70"));
  EXPECT_THAT(violations[1].message, HasSubstr("gone is gone"));
  EXPECT_EQ(violations[2].file, "node/old.cc");
  for (const Violation& v : violations) {
    EXPECT_THAT(v.message, HasSubstr("remove it from the function-length exception list"));
  }
}

TEST(ReadTreeTest, ReadsTheSourcesOfTheNamedModulesSortedByPath) {
  const std::filesystem::path root =
      std::filesystem::path(::testing::TempDir()) / "qkv_tidy_read_tree";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root / "ring" / "sub");
  std::filesystem::create_directories(root / "tests");
  for (const char* path : {"ring/ring.h", "ring/sub/a.cc", "ring/CMakeLists.txt", "tests/t.cc"}) {
    std::ofstream(root / path) << "#include \"gossip/gossip_core.h\"\n";
  }
  const std::vector<SourceFile> files = read_tree(root, {"ring", "absent"});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "ring/ring.h");
  EXPECT_EQ(files[1].path, "ring/sub/a.cc");
  EXPECT_EQ(check_layering(files, small_policy()).size(), 2u);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace qkv::tidy
