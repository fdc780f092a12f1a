// QKV_ASSERT: an always-on invariant check (bugs are assertions, errors are values).
// On failure it prints the expression, file and line to stderr and aborts, in every
// build type: a broken invariant in a storage system must stop the node, not corrupt data.
#pragma once

namespace qkv::detail {
[[noreturn]] void assert_fail(const char* expr, const char* file, int line);
}  // namespace qkv::detail

#define QKV_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : ::qkv::detail::assert_fail(#expr, __FILE__, __LINE__))
