// The tidy rules (design.md §2 dependency direction, §3 time as a parameter, §4.2 function
// length) as plain functions over source text, so that each rule is unit-tested on synthetic
// sources before it judges the real tree. Scanning is lexical: no compiler, no preprocessor.
// Comments and string/char literals (raw strings too) are blanked before anything is matched,
// so braces, includes or `system_clock` inside them never count.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::tidy {

// One source file: `path` is relative to the repository root with '/' separators
// ("node/node.cc"); the first component is the module.
struct SourceFile {
  std::string path;
  std::string text;
};

// One broken rule at file:line (line 0: the file as a whole, or a stale list entry).
struct Violation {
  std::string file;
  int line = 0;
  std::string rule;     // "layering", "asio", "rocksdb", "system_clock", "function_length"
  std::string message;  // what is wrong and what to do
};

// "file:line: [rule] message", one per line, for a test failure.
std::string format(const std::vector<Violation>& violations);

// The .cc and .h files under root/<module> for each module, sorted by path.
std::vector<SourceFile> read_tree(const std::filesystem::path& root,
                                  const std::vector<std::string>& modules);

// The 1-based line of each offset in one text.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);
  int line_at(std::size_t offset) const;

 private:
  std::vector<std::size_t> starts_;  // offset of each line's first character
};

// The first path component: "node/storage/storage.h" -> "node".
std::string module_of(std::string_view path);

// `text` with every comment replaced by spaces; with `blank_literals`, the contents of string
// and char literals too (their quotes stay); with `blank_preprocessor`, every directive line
// (continuations included). Newlines are kept, so offsets and line numbers are unchanged.
std::string blank_source(std::string_view text, bool blank_literals, bool blank_preprocessor);

// An #include outside comments: `path` as written between the quotes or angle brackets.
struct Include {
  int line = 0;
  bool angled = false;
  std::string path;
};
std::vector<Include> find_includes(std::string_view text);

// An allow-list entry: a file ("node/main.cc") or, ending in '/', a folder ("net/"); `why`
// is the reason it is allowed, kept beside it so the list is reviewed, not just grown.
struct Allowed {
  std::string path;
  std::string why;
};
bool is_allowed(std::string_view path, const std::vector<Allowed>& allowed);

// A dependency only some files may reach: a file reaches it when one of its includes starts
// with a marker, or includes a project header that reaches it (transitively).
struct Dependency {
  std::string rule;                  // "asio"
  std::string name;                  // "Asio", for messages
  std::vector<std::string> markers;  // include-path prefixes: "boost/asio", "common/asio.h"
  std::vector<Allowed> allowed;
};

struct LayeringPolicy {
  // Every top-level module; a quoted include whose first component is one of them is a
  // project include.
  std::set<std::string> modules;
  // Module -> the other modules its files may include. A module absent from the map (tests,
  // bench) may include anything and is not checked for dependencies either.
  std::map<std::string, std::set<std::string>> may_include;
  std::vector<Dependency> dependencies;
};

// Quoted project includes against `may_include`, and every dependency's reach. An allow-list
// entry naming a file that no longer reaches its dependency is reported as stale.
std::vector<Violation> check_layering(const std::vector<SourceFile>& files,
                                      const LayeringPolicy& policy);

// Uses of `std::chrono::system_clock` (any mention outside comments and literals) in files
// not allowed; an allowed file that no longer uses it is reported as stale.
std::vector<Violation> check_system_clock(const std::vector<SourceFile>& files,
                                          const std::vector<Allowed>& allowed);

// A function body found at namespace or class scope: from its `{` to the matching `}`, both
// lines included, so lambdas and local classes count toward the function that holds them.
// `name` is qualified by the enclosing classes ("Node::on_tick"), not by namespaces.
struct FunctionBody {
  std::string name;
  int first_line = 0;
  int last_line = 0;
  int lines() const { return last_line - first_line + 1; }
};
std::vector<FunctionBody> find_functions(std::string_view text);

// A function allowed to pass the limit, at most `max_lines` long. It covers every function of
// that name in the file (overloads share the entry).
struct LengthException {
  std::string file;
  std::string function;
  int max_lines = 0;
};

// Functions longer than `limit` lines and not excepted, excepted ones longer than their
// `max_lines`, and exceptions that no longer apply (the function is gone or fits the limit).
std::vector<Violation> check_function_lengths(const std::vector<SourceFile>& files, int limit,
                                              const std::vector<LengthException>& exceptions);

}  // namespace qkv::tidy
