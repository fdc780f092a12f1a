#include "client/dataset.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace qkv::client {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// Adds (key, value) unless the key was seen before.
void add(Dataset& out, std::unordered_set<std::string>& seen, std::string key, std::string value) {
  if (!seen.insert(key).second) {
    ++out.duplicates;
    return;
  }
  out.entries.push_back(DatasetEntry{std::move(key), std::move(value)});
}

// The value of field `name` ("Package") in a stanza's lines, or empty.
std::string_view field(const std::vector<std::string_view>& stanza, std::string_view name) {
  for (auto line : stanza) {
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ':') {
      auto value = line.substr(name.size() + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      return value;
    }
  }
  return {};
}

void add_stanza(Dataset& out, std::unordered_set<std::string>& seen,
                const std::vector<std::string_view>& stanza) {
  auto package = field(stanza, "Package");
  auto arch = field(stanza, "Architecture");
  if (package.empty() || arch.empty()) {
    ++out.skipped;
    return;
  }
  std::string value;
  for (auto line : stanza) {
    value.append(line);
    value.push_back('\n');
  }
  add(out, seen, fmt::format("dpkg/{}:{}", package, arch), std::move(value));
}

}  // namespace

Dataset dataset_from_lines(std::string_view text) {
  Dataset out;
  std::unordered_set<std::string> seen;
  auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::string_view previous = i > 0 ? lines[i - 1] : std::string_view();
    std::string_view next = i + 1 < lines.size() ? lines[i + 1] : std::string_view();
    add(out, seen, fmt::format("dict/{}", lines[i]),
        fmt::format("word: {}\nline: {}\nprevious: {}\nnext: {}\n", lines[i], i + 1, previous,
                    next));
  }
  return out;
}

Dataset dataset_from_stanzas(std::string_view text) {
  Dataset out;
  std::unordered_set<std::string> seen;
  std::vector<std::string_view> stanza;
  for (auto line : split_lines(text)) {
    bool blank = line.find_first_not_of(" \t") == std::string_view::npos;
    if (!blank) {
      stanza.push_back(line);
    } else if (!stanza.empty()) {
      add_stanza(out, seen, stanza);
      stanza.clear();
    }
  }
  if (!stanza.empty()) add_stanza(out, seen, stanza);
  return out;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status::io_error(fmt::format("cannot read {}", path));
  return std::move(buffer).str();
}

}  // namespace qkv::client
