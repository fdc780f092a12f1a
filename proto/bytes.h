// Small conversions between std::string and Cap'n Proto Data/Text, and the guard that
// turns a decoder's kj::Exception into Status::corruption (exceptions stay at the edges).
#pragma once

#include <capnp/blob.h>
#include <fmt/format.h>
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
inline std::string_view to_view(capnp::Text::Reader t) {
  return {t.cStr(), t.size()};
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
