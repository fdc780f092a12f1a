#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace qkv::detail {

void assert_fail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "qkv: assertion failed: %s at %s:%d\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace qkv::detail
