#include "client/resolvers.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <tuple>

namespace qkv::client {

Resolver last_writer_wins() {
  return [](const std::vector<Sibling>& siblings) -> std::optional<std::string> {
    if (siblings.empty()) return std::nullopt;
    auto key = [](const Sibling& s) {
      return std::tie(s.timestamp_ms, s.node, s.tombstone, s.value);
    };
    const Sibling& latest =
        *std::max_element(siblings.begin(), siblings.end(),
                          [&](const Sibling& a, const Sibling& b) { return key(a) < key(b); });
    if (latest.tombstone) return std::nullopt;
    return latest.value;
  };
}

Resolver set_union(char separator) {
  return [separator](const std::vector<Sibling>& siblings) -> std::optional<std::string> {
    std::set<std::string, std::less<>> elements;
    bool any_value = false;
    for (const Sibling& sibling : siblings) {
      if (sibling.tombstone) continue;
      any_value = true;
      std::string_view rest = sibling.value;
      while (!rest.empty()) {
        const std::size_t end = rest.find(separator);
        std::string_view element = rest.substr(0, end);
        if (!element.empty()) elements.emplace(element);
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 1);
      }
    }
    if (!any_value) return std::nullopt;
    std::string out;
    for (const std::string& element : elements) {
      if (!out.empty()) out.push_back(separator);
      out += element;
    }
    return out;
  };
}

}  // namespace qkv::client
