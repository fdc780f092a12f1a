// The ring: the 64-bit token space cut into Q equal partitions, each owned by one node
// (Dynamo §6.2 strategy 3, as Riak's riak_core_ring). A node's partitions are its vnodes.
//
// Partition p covers tokens [p * 2^64/Q, (p+1) * 2^64/Q): partition_of(t) = t >> (64 - log2 Q).
// A Ring is an immutable value: copy it freely, share it as std::shared_ptr<const Ring>.
// Thread-safety: const methods are safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "common/node_id.h"
#include "common/status.h"
#include "ring/preference_list.h"
#include "ring/token.h"

namespace qkv::ring {

inline constexpr uint32_t kPartitionCountDefault = 256;
inline constexpr uint32_t kPartitionCountMax = 1u << 16;

class Ring {
 public:
  // Deterministic claim for a static member set: every node that calls it with the same
  // members (in any order), q and n gets the same ring. Ownership is balanced: with m members
  // sorted, the first h = q - (k-1)*m own k = ceil(q/m) partitions and the rest own k-1
  // (when m > q, the first q members own one partition each and the rest none, so they are
  // not members of the ring).
  //
  // Spacing: where the arithmetic allows it, no node owns two distinct partitions at cyclic
  // distance < n, i.e. no node owns two partitions among any n consecutive ones. That is
  // possible exactly when q <= m or ceil(q/m) * n <= q (a node owning k partitions needs
  // k gaps of at least n around a ring of q); it implies m >= n when q > m, holds whenever
  // q % m == 0 and m >= n, and fails e.g. for m == n with q % m != 0 or for q=8, m=6, n=5.
  // Otherwise the preference list still gives n distinct nodes by skipping repeats (Riak's
  // behaviour). In every case the smallest same-owner distance is the largest any balanced
  // assignment can reach: floor(q/k) for q > m (a node owning k partitions has a gap no
  // larger), so spacing holds exactly when floor(q/k) >= n.
  //
  // Algorithm: k rounds; round j lists the h heavy members in sorted order followed by the
  // j-th slice of the light members taken round-robin, the (k-1)*(m-h) light slots cut into
  // k slices of near-equal size. A heavy member's gap is one round's length (>= floor(q/k));
  // a light member's gap is m - h light slots plus at least one heavy block, so >= m.
  // O(q + m log m).
  //
  // Errors: invalid_argument if members is empty, has duplicates or invalid ids, q is not
  // a power of two in [1, kPartitionCountMax], or n == 0.
  static Result<Ring> claim(std::vector<NodeId> members, uint32_t q, uint32_t n);

  // A ring from an explicit owner table (owners[p] owns partition p).
  // REQUIRES: owners.size() is a power of two <= kPartitionCountMax; no empty id.
  explicit Ring(std::vector<NodeId> owners);

  uint32_t partition_count() const { return static_cast<uint32_t>(owners_.size()); }
  uint32_t partition_of(Token token) const;
  // Smallest and largest token of partition p (inclusive). REQUIRES: p < partition_count().
  Token first_token(uint32_t p) const;
  Token last_token(uint32_t p) const;

  const NodeId& owner(uint32_t p) const { return owners_[p]; }
  const std::vector<NodeId>& owners() const { return owners_; }
  // Distinct owners, sorted.
  std::vector<NodeId> members() const;
  // Partitions owned by each member.
  std::map<NodeId, uint32_t> partitions_per_node() const;
  // Partitions owned by `node`, ascending.
  std::vector<uint32_t> partitions_of(const NodeId& node) const;

  // Primaries: owners of partition_of(token), then of the following partitions clockwise,
  // skipping nodes already chosen, until n distinct nodes (fewer if the ring has fewer
  // members). Fallbacks: the remaining members in the order the walk meets them.
  // n == 0 gives no primaries. Cost: the partitions walked until every member is met.
  PreferenceList preference_list(Token token, uint32_t n) const;

  friend bool operator==(const Ring&, const Ring&) = default;

 private:
  std::vector<NodeId> owners_;
  uint32_t shift_ = 64;  // 64 - log2(Q); a shift by 64 is special-cased for Q == 1
  // Derived from owners_ in the constructor so preference_list() stops as soon as every
  // member is met and tracks chosen nodes by index instead of comparing strings.
  std::vector<NodeId> members_;        // distinct owners, sorted
  std::vector<uint32_t> owner_index_;  // owner_index_[p]: index of owners_[p] in members_
};

}  // namespace qkv::ring
