#include "tests/tidy/source_rules.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

namespace qkv::tidy {
namespace {

bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// The identifier-or-number token that ends just before `pos`.
std::string_view token_before(std::string_view text, std::size_t pos) {
  std::size_t start = pos;
  while (start > 0 && is_word(text[start - 1])) --start;
  return text.substr(start, pos - start);
}

// End (one past the closing quote) of the literal opening at `pos` with `quote`; a raw string
// when `raw` ("R\"delim( ... )delim\""). An unterminated literal ends before its newline.
std::size_t literal_end(std::string_view text, std::size_t pos, char quote, bool raw) {
  if (raw) {
    const std::size_t open = text.find('(', pos + 1);
    if (open == std::string_view::npos) return text.size();
    const std::string close = ")" + std::string(text.substr(pos + 1, open - pos - 1)) + "\"";
    const std::size_t end = text.find(close, open + 1);
    return end == std::string_view::npos ? text.size() : end + close.size();
  }
  std::size_t i = pos + 1;
  while (i < text.size() && text[i] != quote && text[i] != '\n') i += text[i] == '\\' ? 2 : 1;
  return i < text.size() && text[i] == quote ? i + 1 : std::min(i, text.size());
}

// End of the preprocessor directive starting at `pos`: its newline, continuations followed.
std::size_t directive_end(std::string_view text, std::size_t pos) {
  std::size_t i = pos;
  while (i < text.size() && text[i] != '\n') i += text[i] == '\\' ? 2 : 1;
  return std::min(i, text.size());
}

}  // namespace

std::string format(const std::vector<Violation>& violations) {
  std::ostringstream out;
  for (const Violation& v : violations) {
    out << v.file << ":" << v.line << ": [" << v.rule << "] " << v.message << "\n";
  }
  return out.str();
}

std::vector<SourceFile> read_tree(const std::filesystem::path& root,
                                  const std::vector<std::string>& modules) {
  std::vector<SourceFile> files;
  for (const std::string& module : modules) {
    if (!std::filesystem::is_directory(root / module)) continue;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / module)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      files.push_back({entry.path().lexically_relative(root).generic_string(), text.str()});
    }
  }
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

LineIndex::LineIndex(std::string_view text) {
  starts_.push_back(0);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') starts_.push_back(i + 1);
  }
}

int LineIndex::line_at(std::size_t offset) const {
  return static_cast<int>(std::upper_bound(starts_.begin(), starts_.end(), offset) -
                          starts_.begin());
}

std::string module_of(std::string_view path) {
  return std::string(path.substr(0, path.find('/')));
}

std::string blank_source(std::string_view text, bool blank_literals, bool blank_preprocessor) {
  std::string out(text);
  const auto blank = [&](std::size_t from, std::size_t to) {
    for (std::size_t k = from; k < to && k < out.size(); ++k) {
      if (out[k] != '\n') out[k] = ' ';
    }
  };
  bool line_start = true;  // nothing but whitespace since the last newline
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (c == '\n') {
      line_start = true;
      ++i;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '#' && line_start && blank_preprocessor) {
      const std::size_t end = directive_end(text, i);
      blank(i, end);
      i = end;
    } else if (c == '/' && next == '/') {
      const std::size_t end = std::min(text.find('\n', i), text.size());
      blank(i, end);
      i = end;
    } else if (c == '/' && next == '*') {
      const std::size_t close = text.find("*/", i + 2);
      const std::size_t end = close == std::string_view::npos ? text.size() : close + 2;
      blank(i, end);
      i = end;
    } else if (c == '"' || c == '\'') {
      const std::string_view prefix = token_before(text, i);
      // A quote after a number is a digit separator (10'000), not a char literal.
      if (c == '\'' && !prefix.empty() && std::isdigit(static_cast<unsigned char>(prefix[0]))) {
        ++i;
        continue;
      }
      const bool raw =
          c == '"' && !prefix.empty() && prefix.back() == 'R' &&
          (prefix == "R" || prefix == "u8R" || prefix == "uR" || prefix == "UR" || prefix == "LR");
      const std::size_t end = literal_end(text, i, c, raw);
      const bool closed = end > i + 1 && text[end - 1] == c;
      if (blank_literals) blank(i + 1, closed ? end - 1 : end);
      line_start = false;
      i = end;
    } else {
      line_start = false;
      ++i;
    }
  }
  return out;
}

std::vector<Include> find_includes(std::string_view text) {
  // The directive is found where literals are blanked (a raw string holding "#include" lines
  // is no include); its path is read where only comments are.
  static const std::regex kDirective(R"(^\s*#\s*include\s*[<"])");
  static const std::regex kPath(R"(^\s*#\s*include\s*([<"])([^">]+)[">])");
  std::istringstream code(blank_source(text, /*blank_literals=*/true,
                                       /*blank_preprocessor=*/false));
  std::istringstream with_literals(blank_source(text, /*blank_literals=*/false,
                                                /*blank_preprocessor=*/false));
  std::vector<Include> includes;
  std::string line;
  std::string path_line;
  std::smatch match;
  for (int number = 1; std::getline(code, line) && std::getline(with_literals, path_line);
       ++number) {
    if (std::regex_search(line, kDirective) && std::regex_search(path_line, match, kPath)) {
      includes.push_back({number, match[1] == "<", match[2]});
    }
  }
  return includes;
}

bool is_allowed(std::string_view path, const std::vector<Allowed>& allowed) {
  return std::any_of(allowed.begin(), allowed.end(), [&](const Allowed& a) {
    return a.path.ends_with('/') ? path.starts_with(a.path) : path == a.path;
  });
}

namespace {

using IncludeMap = std::map<std::string, std::vector<Include>>;

// Quoted includes of modules that `may_include` does not let a file's module include.
std::vector<Violation> check_direction(const IncludeMap& includes, const LayeringPolicy& policy) {
  std::vector<Violation> violations;
  for (const auto& [path, file_includes] : includes) {
    const std::string module = module_of(path);
    const auto rule = policy.may_include.find(module);
    if (rule == policy.may_include.end()) continue;
    for (const Include& inc : file_includes) {
      const std::string target = module_of(inc.path);
      if (inc.angled || target == module || !policy.modules.contains(target) ||
          rule->second.contains(target)) {
        continue;
      }
      std::string allowed;
      for (const std::string& m : rule->second) allowed += (allowed.empty() ? "" : ", ") + m;
      violations.push_back(
          {path, inc.line, "layering",
           "includes \"" + inc.path + "\", but " + module + "/ may include only {" + allowed +
               "} (design.md §2: common <- causal, ring, proto <- gossip, antientropy, net <- "
               "node <- client-facing tools; ring and gossip never include each other). Move "
               "what both need into a lower module, or let a higher module join them."});
    }
  }
  return violations;
}

// Which includes bring in one dependency, followed through project headers (memoized).
class Reach {
 public:
  Reach(const IncludeMap& includes, const Dependency& dep) : includes_(includes), dep_(dep) {}

  // The include chain from `inc` to the first marker met ("node/server.h", "net/peer_links.h",
  // "common/asio.h"), or empty when `inc` does not bring the dependency in.
  std::vector<std::string> of_include(const Include& inc) {
    for (const std::string& marker : dep_.markers) {
      if (inc.path.starts_with(marker)) return {inc.path};
    }
    if (inc.angled || !includes_.contains(inc.path)) return {};
    std::vector<std::string> chain = of_file(inc.path);
    if (!chain.empty()) chain.insert(chain.begin(), inc.path);
    return chain;
  }

  // The chain through the first include of `path` that brings the dependency in.
  std::vector<std::string> of_file(const std::string& path) {
    auto [it, fresh] = memo_.try_emplace(path);  // still in progress: a cycle, reaches nothing
    if (!fresh) return it->second.value_or(std::vector<std::string>{});
    std::vector<std::string> chain;
    if (const auto file = includes_.find(path); file != includes_.end()) {
      for (const Include& inc : file->second) {
        if (chain = of_include(inc); !chain.empty()) break;
      }
    }
    it->second = chain;
    return chain;
  }

 private:
  const IncludeMap& includes_;
  const Dependency& dep_;
  std::map<std::string, std::optional<std::vector<std::string>>> memo_;
};

std::vector<Violation> check_dependency(const IncludeMap& includes, const LayeringPolicy& policy,
                                        const Dependency& dep) {
  std::vector<Violation> violations;
  Reach reach(includes, dep);
  for (const auto& [path, file_includes] : includes) {
    if (!policy.may_include.contains(module_of(path)) || is_allowed(path, dep.allowed)) continue;
    for (const Include& inc : file_includes) {
      const std::vector<std::string> chain = reach.of_include(inc);
      if (chain.empty()) continue;
      // A checked header that is not allowed is reported where the dependency enters it, not
      // again in each file that includes it.
      if (chain.size() > 1 && policy.may_include.contains(module_of(inc.path)) &&
          !is_allowed(inc.path, dep.allowed)) {
        continue;
      }
      std::string steps;
      for (const std::string& step : chain) steps += (steps.empty() ? "" : " -> ") + step;
      violations.push_back(
          {path, inc.line, dep.rule,
           "includes \"" + inc.path + "\", which brings in " + dep.name + " (" + steps +
               "); only the process shell and the drivers may (design.md §2, §3). Keep this "
               "file sans-I/O and put the I/O in a driver, or add the file to the " +
               dep.name + " allow-list in tests/tidy/tidy_test.cc with the reason."});
    }
  }
  for (const Allowed& entry : dep.allowed) {
    if (entry.path.ends_with('/')) continue;
    const bool exists = includes.contains(entry.path);
    if (exists && !reach.of_file(entry.path).empty()) continue;
    violations.push_back(
        {entry.path, 0, dep.rule,
         std::string(exists ? "no longer brings in " : "is gone: nothing brings in ") + dep.name +
             ": remove it from the " + dep.name + " allow-list in tests/tidy/tidy_test.cc."});
  }
  return violations;
}

}  // namespace

std::vector<Violation> check_layering(const std::vector<SourceFile>& files,
                                      const LayeringPolicy& policy) {
  IncludeMap includes;
  for (const SourceFile& file : files) includes[file.path] = find_includes(file.text);
  std::vector<Violation> violations = check_direction(includes, policy);
  for (const Dependency& dep : policy.dependencies) {
    std::vector<Violation> more = check_dependency(includes, policy, dep);
    violations.insert(violations.end(), more.begin(), more.end());
  }
  return violations;
}

std::vector<Violation> check_system_clock(const std::vector<SourceFile>& files,
                                          const std::vector<Allowed>& allowed) {
  static const std::regex kUse(R"(\bsystem_clock\b)");
  std::vector<Violation> violations;
  std::set<std::string> users;
  for (const SourceFile& file : files) {
    const std::string code = blank_source(file.text, /*blank_literals=*/true,
                                          /*blank_preprocessor=*/false);
    const LineIndex lines(code);
    for (auto it = std::sregex_iterator(code.begin(), code.end(), kUse);
         it != std::sregex_iterator(); ++it) {
      users.insert(file.path);
      if (is_allowed(file.path, allowed)) continue;
      violations.push_back(
          {file.path, lines.line_at(static_cast<std::size_t>(it->position())), "system_clock",
           "uses std::chrono::system_clock outside the process shell (design.md §3: time is a "
           "parameter). Take the time as an argument (TimePoint now, or a unix-ms function "
           "injected by node/main.cc), or add the file to the system_clock allow-list in "
           "tests/tidy/tidy_test.cc with the reason."});
    }
  }
  for (const Allowed& entry : allowed) {
    if (entry.path.ends_with('/') || users.contains(entry.path)) continue;
    violations.push_back({entry.path, 0, "system_clock",
                          "no longer uses system_clock: remove it from the system_clock "
                          "allow-list in tests/tidy/tidy_test.cc."});
  }
  return violations;
}

}  // namespace qkv::tidy
