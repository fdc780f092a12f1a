#include "proto/client_api.h"

#include <iterator>

namespace qkv::proto {

const char* op_name(const ClientOp& op) {
  static constexpr const char* kNames[] = {"get",          "put",     "delete", "ring",
                                           "status",       "members", "repair", "ring_admin",
                                           "authenticate", "snapshot"};
  static_assert(std::size(kNames) == std::variant_size_v<ClientOp>);
  return kNames[op.index()];
}

}  // namespace qkv::proto
