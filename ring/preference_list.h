// The preference list of a key (Dynamo §4.3): the nodes responsible for it, in order.
#pragma once

#include <cstdint>
#include <vector>

#include "common/node_id.h"

namespace qkv::ring {

struct PreferenceList {
  uint32_t partition = 0;         // the partition the key's token falls in
  std::vector<NodeId> primaries;  // the first N distinct owners clockwise from `partition`
  std::vector<NodeId> fallbacks;  // every other member, in ring order after the primaries

  bool is_primary(const NodeId& node) const;
  // Position of `node` in primaries, or -1.
  int primary_index(const NodeId& node) const;
};

}  // namespace qkv::ring
