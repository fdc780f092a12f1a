// TempDir: a fresh directory under the system temp dir, removed with its contents on
// destruction. For storage tests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/assert.h"

namespace qkv::storage::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "qkv-storage-XXXXXX").string();
    QKV_ASSERT(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // A path inside the directory, as a string.
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace qkv::storage::testing
