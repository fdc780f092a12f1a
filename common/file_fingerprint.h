// file_fingerprint: what tells a rotated file from the one read before (TLS certificates,
// the users file), without reading it: its modification time and size. A Kubernetes
// Secret update (an atomic symlink swap) and cert-manager's renewal both change it.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace qkv {

// "<mtime ns>:<size>", or "" for an empty path or a file that cannot be read.
inline std::string file_fingerprint(const std::string& path) {
  if (path.empty()) return "";
  std::error_code ec;
  const auto modified = std::filesystem::last_write_time(path, ec);
  if (ec) return "";
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return "";
  return fmt::format("{}:{}", modified.time_since_epoch().count(), size);
}

}  // namespace qkv
