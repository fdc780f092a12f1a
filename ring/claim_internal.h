// Internals of claim (ring/claim.h) shared by its two files: the problem in member indices,
// which claim.cc builds and solves greedily, and the re-striping fallback (claim_restripe.cc)
// it turns to when swaps cannot remove the violations. Not part of the ring's API.
// Thread-safety: pure values and functions, safe from any thread.
#pragma once

#include <cstdint>
#include <vector>

#include "common/node_id.h"

namespace qkv::ring::claim_internal {

constexpr int32_t kFree = -1;

// The claim problem in member indices (members sorted by id).
struct Problem {
  uint32_t q = 0;
  uint32_t w = 0;                 // min(n, q)
  std::vector<NodeId> ids;        // members, sorted
  std::vector<uint32_t> zone;     // effective zone of each member
  uint32_t zone_count = 0;        // distinct effective zones
  bool zones_active = false;      // some zone set and zone_count >= w
  std::vector<int32_t> original;  // current owners as member indices; kFree if not a member
};

// The fallback owner table. Hierarchical: zones striped by their totals (each zone's
// partitions at least floor(q / largest total) apart, so zone-clean when that is >= w), then
// each zone's partitions given to its members: in any order when `zone_clean`, else striped.
// Flat: members striped over the ring in zone-alternating order (spacing-clean when
// ceil(q/m) * w <= q). With zones inactive each member is its own zone: both are the same.
// REQUIRES: target sums to pb.q; target[i] is member i's count (see claim.h, Balance).
// Returns owner[p] as member indices, none kFree. Each stripe searches at most 2^21
// rotation positions (claim.h, Cost).
std::vector<int32_t> restripe(const Problem& pb, const std::vector<uint32_t>& target, bool flat,
                              bool zone_clean);

}  // namespace qkv::ring::claim_internal
