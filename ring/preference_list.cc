#include "ring/preference_list.h"

#include <algorithm>

namespace qkv::ring {

bool PreferenceList::is_primary(const NodeId& node) const {
  return primary_index(node) >= 0;
}

int PreferenceList::primary_index(const NodeId& node) const {
  auto it = std::find(primaries.begin(), primaries.end(), node);
  if (it == primaries.end()) return -1;
  return static_cast<int>(it - primaries.begin());
}

}  // namespace qkv::ring
