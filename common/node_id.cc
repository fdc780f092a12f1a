#include "common/node_id.h"

#include <fmt/format.h>

namespace qkv {

Status validate_node_id(std::string_view id) {
  if (id.empty()) return Status::invalid_argument("node id is empty");
  if (id.size() > kNodeIdBytesMax) {
    return Status::invalid_argument(
        fmt::format("node id '{}' is {} bytes; the maximum is {}", id, id.size(), kNodeIdBytesMax));
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::invalid_argument(fmt::format(
          "node id '{}' has the character '{}'; only [A-Za-z0-9._-] are allowed", id, c));
    }
  }
  return Status::ok();
}

}  // namespace qkv
