#include "node/incarnation.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

#include "common/mutation.h"

namespace qkv::node {
namespace {

constexpr const char* kIncarnationKey = "incarnation";
constexpr const char* kCleanShutdownKey = "clean_shutdown";

}  // namespace

namespace {

// A new incarnation: never 0 or UINT64_MAX, never `previous` or previous + 1.
uint64_t new_incarnation(const std::function<uint64_t()>& random,
                         std::optional<uint64_t> previous) {
  uint64_t drawn = 0;
  do {
    drawn = random();
  } while (drawn == 0 || drawn == UINT64_MAX ||
           (previous && (drawn == *previous || drawn == *previous + 1)));
  return drawn;
}

Result<uint64_t> parse_number(const std::string& name, const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::corruption(fmt::format("stored {} '{}' is not a number", name, text));
  }
  return value;
}

Result<uint64_t> parse_incarnation(const std::string& text) {
  return parse_number("incarnation", text);
}

}  // namespace

Result<std::optional<uint64_t>> get_meta_number(storage::Storage& storage,
                                                const std::string& name) {
  auto stored = storage.get_meta(name);
  if (!stored) return stored.status();
  if (!stored.value()) return std::optional<uint64_t>();
  auto value = parse_number(name, *stored.value());
  if (!value) return value.status();
  return std::optional<uint64_t>(*value);
}

Result<IncarnationInfo> open_incarnation(storage::Storage& storage,
                                         const std::function<uint64_t()>& random) {
  auto stored = storage.get_meta(kIncarnationKey);
  if (!stored) return stored.status();
  auto clean = storage.get_meta(kCleanShutdownKey);
  if (!clean) return clean.status();
  auto restored = storage.get_meta(kRestoredKey);
  if (!restored) return restored.status();

  IncarnationInfo info;
  if (!stored.value()) {
    info.fresh = true;
    info.incarnation = new_incarnation(random, std::nullopt);
  } else {
    auto previous = parse_incarnation(*stored.value());
    if (!previous) return previous.status();
    info.previous = info.incarnation = *previous;
    const bool was_clean = clean.value() && *clean.value() == "1";
    if (restored.value() && *restored.value() == "1") {
      info.restored = true;
      if (!QKV_MUTATION(kRestoreKeepsActor)) info.incarnation = new_incarnation(random, *previous);
    } else if (!was_clean && !QKV_MUTATION(kNoIncarnationBump)) {
      info.after_unclean = true;
      info.incarnation = new_incarnation(random, *previous);
    }
  }
  QKV_RETURN_IF_ERROR(storage.put_meta(kIncarnationKey, std::to_string(info.incarnation)));
  QKV_RETURN_IF_ERROR(storage.put_meta(kCleanShutdownKey, "0"));
  if (info.restored) QKV_RETURN_IF_ERROR(storage.put_meta(kRestoredKey, "0"));
  return info;
}

storage::MetaEntries snapshot_marker(int64_t unix_ms) {
  return {{kRestoredKey, "1"}, {kSnapshotTimeKey, std::to_string(unix_ms)}};
}

Result<std::optional<int64_t>> snapshot_time(storage::Storage& storage) {
  auto stored = get_meta_number(storage, kSnapshotTimeKey);
  if (!stored) return stored.status();
  if (!stored.value()) return std::optional<int64_t>();
  return std::optional<int64_t>(static_cast<int64_t>(*stored.value()));
}

Status mark_restored(storage::Storage& storage) {
  return storage.put_meta(kRestoredKey, "1");
}

Result<uint64_t> next_generation(storage::Storage& storage, int64_t unix_ms) {
  auto stored = get_meta_number(storage, "generation");
  if (!stored) return stored.status();
  const uint64_t last = stored.value().value_or(0);
  uint64_t generation = std::max(last + 1, static_cast<uint64_t>(std::max<int64_t>(unix_ms, 0)));
  if (QKV_MUTATION(kGenerationNotClocked)) generation = last + 1;
  QKV_RETURN_IF_ERROR(storage.put_meta("generation", std::to_string(generation)));
  return generation;
}

Status mark_clean_shutdown(storage::Storage& storage) {
  return storage.put_meta(kCleanShutdownKey, "1");
}

}  // namespace qkv::node
