#include "node/snapshot.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "node/incarnation.h"

namespace qkv::node {

namespace fs = std::filesystem;

namespace {

// `path` with "." and ".." resolved, and symbolic links in the part that exists.
fs::path resolved(const std::string& path) {
  std::error_code ec;
  fs::path out = fs::weakly_canonical(fs::path(path), ec);
  if (ec) out = fs::path(path).lexically_normal();
  return out;
}

// True when `inner` is strictly inside `outer` (both resolved).
bool strictly_inside(const fs::path& inner, const fs::path& outer) {
  auto [outer_end, inner_at] =
      std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  // A trailing separator in `outer` makes an empty last part: it matches anything.
  if (outer_end != outer.end() && !(std::next(outer_end) == outer.end() && outer_end->empty())) {
    return false;
  }
  return inner_at != inner.end() && !inner_at->empty();
}

}  // namespace

Result<std::string> snapshot_path(const std::string& root, const std::string& requested,
                                  const NodeId& node, int64_t unix_ms) {
  if (root.empty()) {
    return Status::unavailable(
        fmt::format("snapshots are off on {}: its [storage] snapshot_dir is empty", node));
  }
  if (requested.empty()) {
    return (fs::path(root) / fmt::format("{}-{}", node, unix_ms)).string();
  }
  if (!fs::path(requested).is_absolute()) {
    return Status::invalid_argument(fmt::format(
        "snapshot directory '{}' must be an absolute path on {}'s host", requested, node));
  }
  if (!strictly_inside(resolved(requested), resolved(root))) {
    return Status::invalid_argument(fmt::format(
        "snapshot directory {} is outside {}'s [storage] snapshot_dir {}: snapshots go only "
        "there",
        requested, node, root));
  }
  std::error_code ec;
  if (fs::symlink_status(requested, ec).type() != fs::file_type::not_found && !ec) {
    return Status::invalid_argument(fmt::format(
        "snapshot directory {} exists already; a snapshot goes into a new directory", requested));
  }
  return requested;
}

Result<proto::SnapshotResponse> take_snapshot(storage::Storage& storage, const std::string& path,
                                              int64_t unix_ms) {
  QKV_RETURN_IF_ERROR(storage.checkpoint(path, snapshot_marker(unix_ms)));
  proto::SnapshotResponse out{path, 0, 0};
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const uintmax_t size = it->file_size(ec);
    if (ec) break;
    out.bytes += size;
    ++out.files;
  }
  if (ec) {
    return Status::io_error(
        fmt::format("snapshot {} was made but cannot be measured: {}", path, ec.message()));
  }
  return out;
}

Status check_restore_age(storage::Storage& store, const TombstoneConfig& tombstones,
                         int64_t unix_ms, bool older_than_grace) {
  auto taken = snapshot_time(store);
  if (!taken) return taken.status();
  if (older_than_grace || !tombstones.reap) return Status::ok();
  if (taken.value() && unix_ms - *taken.value() < tombstones.grace.count()) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "the snapshot is {}, older than tombstones.grace_ms ({} ms): deletes made since may "
      "have been reaped on every other replica, and its values for them would come back. "
      "Start this node with an empty data_dir instead (hinted handoff, read repair and "
      "`qkvctl repair` fill it), or, restoring every node of the cluster from snapshots of "
      "one moment, pass --restore-older-than-grace",
      taken.value() ? fmt::format("{} ms old", unix_ms - *taken.value())
                    : std::string("of unknown age (it holds no time)"),
      tombstones.grace.count()));
}

}  // namespace qkv::node
