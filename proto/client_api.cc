#include "proto/client_api.h"

namespace qkv::proto {

const char* op_name(const ClientOp& op) {
  static constexpr const char* kNames[] = {"get", "put", "delete", "ring", "status", "members"};
  return kNames[op.index()];
}

}  // namespace qkv::proto
