// What anti-entropy hashes for a key's state: the sibling-set side of the Merkle trees.
// antientropy/ is generic over entry hashes (antientropy/merkle_tree.h); this file knows
// what a version of a qkv key is, as riak_kv_index_hashtree knows objects beside
// riak_core's generic hashtree.
//
// Both encodings are compared with peers and persisted in saved trees: do not change them.
#pragma once

#include <string>
#include <string_view>

#include "antientropy/merkle_tree.h"
#include "causal/sibling_set.h"

namespace qkv::node {

// The version of a key's state for anti-entropy: its version vector and each sibling's
// dot and tombstone flag, canonically encoded. Dots identify values (incarnations keep
// them unique), so equal versions mean equal sibling sets; values are left out.
std::string version_of(const causal::SiblingSet& state);

// antientropy::entry_hash(key, version_of(state)): the entry of one key in a leaf. Encodes
// the version into a per-thread buffer: no allocation per write.
antientropy::Hash128 entry_hash(std::string_view key, const causal::SiblingSet& state);

}  // namespace qkv::node
