// What GetRound's tests share: a key's three primaries and two fallbacks, states written
// by one node, and their digests.
#pragma once

#include <string>
#include <vector>

#include "node/coordinator/get_round.h"

namespace qkv::coordinator::testing {

inline const std::vector<NodeId> kPrimaries = {"a", "b", "c"};
inline const std::vector<NodeId> kFallbacks = {"d", "e"};

// A state holding one value, written by `node` (its first dot).
inline causal::SiblingSet written(const std::string& node, const std::string& value) {
  return causal::SiblingSet().update({}, {node, 1}, value);
}

inline GetRound::Digest digest_of(const causal::SiblingSet& state) {
  return causal::StateSummary::of(state).digest();
}

}  // namespace qkv::coordinator::testing
