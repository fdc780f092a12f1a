// Claim for a changing member set: the new owner table when nodes join, leave or are
// replaced, and the ownership transfers that take a cluster from one ring to the next.
// Pure functions of their arguments (design.md §3): every node computes the same plan.
//
// Sources: Dynamo §6.2 strategy 3 (Q equal partitions, Q fixed; a membership change moves
// whole partitions) and Riak's riak_core_claim (v2: balanced "wants", take partitions only
// from nodes over target, prefer partitions in violation, fall back to a diagonal re-striping
// when the greedy step breaks target_n; v4/location: spread replicas over locations).
//
// Words: Q partitions, m = members.size(), w = min(n, Q). Spacing holds when no node owns two
// partitions among any w consecutive ones (cyclically), so the primaries of every partition
// are the owners of it and the next w-1 partitions. A member's zone is its failure domain;
// a member with an empty zone is a zone of its own. Zones are active when some member has a
// zone and the members span at least w zones; then the zone rule is that no two owners in one
// zone sit among any w consecutive partitions (which implies spacing).
// Thread-safety: pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/node_id.h"
#include "common/status.h"
#include "ring/ring.h"

namespace qkv::ring {

struct ClaimMember {
  NodeId id;
  std::string zone;  // failure domain (rack, availability zone); empty = none
  friend bool operator==(const ClaimMember&, const ClaimMember&) = default;
};

// A new owner table for `members`, starting from `current` (owners[p] owns partition p).
// Entries of `current` that are not members (departing nodes, or empty strings for "no
// owner") are reassigned; members of `current` absent from `members` lose every partition.
//
// Balance: each member owns floor(Q/m) or ceil(Q/m) partitions (when m > Q, Q members own one
// and the rest none). The ceil goes to the members that own the most in `current` (ties by
// id); when zones are active and a zone is too big to spread, ceil slots move between zones
// (water-filling) until it is not, or the largest zone total is as small as it can be.
//
// Guarantees (exact conditions, proven for the re-striping in claim_restripe.cc):
//   spacing: whenever ceil(Q/m) * w <= Q or m >= Q (the rule of Ring::claim);
//   zones:   whenever zones are active and, after water-filling, the largest zone total T
//            satisfies T * w <= Q (e.g. 4..6 equal zones, n=3, Q=256).
// Zones can never be clean with exactly n zones unless n divides Q (w consecutive partitions
// would hold every zone, forcing period n): e.g. 3 zones, n=3, Q=256. There, and wherever the
// rules cannot hold, claim minimises violations greedily, spacing before zones (as Riak does).
//
// Movement (Dynamo §6.2: a change moves whole partitions, ideally 1/m of them):
// 1. Members over target give up their partitions in violation first; freed partitions go to
//    members under target, most constrained first; members still under target then take
//    from members over target, each walking the ring from its last claim plus Q/target
//    (riak_core_claim v2: take only from nodes over target, keep target_n spacing).
// 2. Violations that can be removed are repaired by swapping owners of two partitions,
//    first without moving more partitions, then moving more; last, the ring is re-striped
//    (Riak's diagonal fallback; zones first, then members, in zone-alternating order) and
//    the stripes relabelled to keep partitions in place. Least movement among the
//    violation-free candidates wins.
// 3. Zone violations that cannot all be removed never cost a join or leave extra movement.
//    A rebalance with an unchanged member set (e.g. zones just configured) re-stripes when
//    they exceed twice what a zone-alternating re-striping reaches (plus 4w).
// Typical cost: a join moves exactly the new node's share; a leave moves the leaver's
// partitions plus about 2(w-1) * Q/m^2 more (its neighbours within w-1 cannot take them);
// zone growth with little slack (4 zones, n=3) or a leave with m <= 2w can end in a
// re-striping that moves much of the ring.
// Deterministic: the same arguments (members in any order) give the same table.
//
// Cost: O(Q * (m + w) + t * (w + log Q) * scan) for t moved partitions, the scan usually
// short; repair is bounded by 2^22 swap evaluations and each re-striping by 2^21 positions
// of rotation search. Q=65536, 64 members: ~20 ms without zones, ~250 ms with 4 zones.
//
// Errors: invalid_argument if members is empty, has duplicate or invalid ids, current.size()
// is not a power of two in [1, kPartitionCountMax], or n == 0.
Result<std::vector<NodeId>> claim(const std::vector<NodeId>& current,
                                  const std::vector<ClaimMember>& members, uint32_t n);

// What a Riak operator's `replace` does: `to` takes every partition of `from`; nothing else
// moves, so balance, spacing and (if `to` joins `from`'s zone) zones are kept. O(Q).
// Errors: invalid_argument if current.size() is not valid, `to` is not a valid id, `from`
// owns nothing in current, or `to` already owns partitions.
Result<std::vector<NodeId>> claim_replace(const std::vector<NodeId>& current, const NodeId& from,
                                          const NodeId& to);

// One ownership transfer: the key range of `partition` (keys whose token falls in it) must be
// copied to `to`, a primary of that range in the next ring that is not one in the current.
// `from` is a suggested source: a primary of the range in the current ring, the first (in
// preference list order) that is not a primary in the next, or else the first primary.
struct Transfer {
  uint32_t partition = 0;
  NodeId from;
  NodeId to;
  friend bool operator==(const Transfer&, const Transfer&) = default;
};

// Every transfer from `current` to `next`, ordered by partition then `to`; a range whose
// primaries did not change has none. Primaries are Ring::preference_list(token, n).primaries.
// REQUIRES: current.partition_count() == next.partition_count().
// Cost: O(Q * walk), the walk being the partitions passed to meet n distinct nodes.
std::vector<Transfer> plan_transfers(const Ring& current, const Ring& next, uint32_t n);

// Quality figures of an owner table, for tests and for `qkvctl ring plan` to print.
struct ClaimQuality {
  uint32_t moved = 0;               // partitions whose owner differs from current
  double balance = 0;               // max partitions per member / mean (Q / members)
  uint32_t spacing_violations = 0;  // partitions p whose owners p..p+w-1 are not distinct,
                                    // i.e. whose primaries are not the next w owners
                                    // (only counted when members >= n)
  uint32_t zone_violations = 0;     // partitions whose n primaries span < min(n, zones)
                                    // zones; zones counted among the owners of next
};

// REQUIRES: current.size() == next.size(), a power of two; next has no empty id.
// Owners of next that are not in members count as zones of their own. O(Q * walk).
ClaimQuality claim_quality(const std::vector<NodeId>& current, const std::vector<NodeId>& next,
                           const std::vector<ClaimMember>& members, uint32_t n);

}  // namespace qkv::ring
