#include "node/incarnation.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "common/mutation.h"

namespace qkv::node {
namespace {

constexpr const char* kIncarnationKey = "incarnation";
constexpr const char* kCleanShutdownKey = "clean_shutdown";

}  // namespace

Result<IncarnationInfo> open_incarnation(storage::Storage& storage,
                                         const std::function<uint64_t()>& random) {
  auto stored = storage.get_meta(kIncarnationKey);
  if (!stored) return stored.status();
  auto clean = storage.get_meta(kCleanShutdownKey);
  if (!clean) return clean.status();

  IncarnationInfo info;
  if (!stored.value()) {
    info.fresh = true;
    do {
      info.incarnation = random();
    } while (info.incarnation == 0 || info.incarnation == UINT64_MAX);
  } else {
    const std::string& text = *stored.value();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), info.incarnation);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Status::corruption(fmt::format("stored incarnation '{}' is not a number", text));
    }
    bool was_clean = clean.value() && *clean.value() == "1";
    if (!was_clean && !QKV_MUTATION(kNoIncarnationBump)) {
      info.after_unclean = true;
      ++info.incarnation;
    }
  }
  QKV_RETURN_IF_ERROR(storage.put_meta(kIncarnationKey, std::to_string(info.incarnation)));
  QKV_RETURN_IF_ERROR(storage.put_meta(kCleanShutdownKey, "0"));
  return info;
}

Result<uint64_t> next_generation(storage::Storage& storage, int64_t unix_ms) {
  auto stored = storage.get_meta("generation");
  if (!stored) return stored.status();
  uint64_t last = 0;
  if (stored.value()) {
    const std::string& text = *stored.value();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), last);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Status::corruption(fmt::format("stored generation '{}' is not a number", text));
    }
  }
  uint64_t generation = std::max(last + 1, static_cast<uint64_t>(std::max<int64_t>(unix_ms, 0)));
  if (QKV_MUTATION(kGenerationNotClocked)) generation = last + 1;
  QKV_RETURN_IF_ERROR(storage.put_meta("generation", std::to_string(generation)));
  return generation;
}

Status mark_clean_shutdown(storage::Storage& storage) {
  return storage.put_meta(kCleanShutdownKey, "1");
}

}  // namespace qkv::node
