// Small conversions between std::string and Cap'n Proto Data/Text, and the guard that
// turns a decoder's kj::Exception into Status::corruption (exceptions stay at the edges).
#pragma once

#include <capnp/blob.h>
#include <fmt/format.h>
#include <kj/debug.h>
#include <kj/exception.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace qkv::proto {

inline capnp::Data::Reader to_data(std::string_view s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}
inline std::string to_string(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}
inline std::string_view to_view(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}
// A Text holds no NUL byte (Cap'n Proto's encoding rules), and ours cannot write one: a
// std::string becomes Text through c_str(), which ends at the first NUL. So a Text with one
// is malformed input; it throws kj::Exception, which guarded_decode turns into corruption
// (every decoder reads Text inside it). Found by tests/fuzz: "a\0b" decoded, re-encoded as
// "a".
inline std::string_view to_view(capnp::Text::Reader t) {
  std::string_view text(t.cStr(), t.size());
  if (text.find('\0') != std::string_view::npos) {
    KJ_FAIL_REQUIRE("text holds a NUL byte", text.size());
  }
  return text;
}

// Runs `decode`, returning its Result, or Status::corruption naming `what` if the bytes
// violate the schema or the reader limits.
template <typename T, typename F>
Result<T> guarded_decode(const char* what, F&& decode) {
  try {
    return decode();
  } catch (const kj::Exception& e) {
    return Status::corruption(fmt::format("malformed {}: {}", what, e.getDescription().cStr()));
  }
}

}  // namespace qkv::proto
