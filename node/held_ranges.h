// HeldRanges: which key ranges (partitions) this node holds and takes writes for, across
// a ring transition (node/transfer.h; Cassandra's pending ranges).
//
// With a next ring, the current ring still serves reads and coordinates; a key's
// receivers (its primaries in the next ring that are not primaries now) are sent its
// writes too, and this node takes writes for a range it replicates in either ring, or
// still holds. A range this node held and no longer replicates is deleted once every
// member has applied the ring that took it away (set_applied): until then a coordinator
// on an older ring may still read from it.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "common/node_id.h"
#include "node/storage/storage.h"
#include "ring/ring.h"

namespace qkv::node {

class HeldRanges {
 public:
  // `storage` outlives this.
  HeldRanges(NodeId self, uint32_t n, storage::Storage& storage);

  // A new ring (null: not known yet), the next one during a transition, and the version
  // (gossip). Ranges replicated now are held; ranges no longer replicated wait for their
  // drop. The first call with a ring also finds ranges an earlier run left (a seek each).
  // `unix_ms` stamps the start of a new transition (status).
  void set_ring(std::shared_ptr<const ring::Ring> ring, std::shared_ptr<const ring::Ring> next,
                uint64_t version, int64_t unix_ms);
  // The lowest ring version every member has applied.
  void set_applied(uint64_t version) { applied_ = version; }

  // True if some held range's drop version has been applied by every member.
  bool drop_due() const;
  // Deletes those ranges (storage delete_range); returns how many were deleted. Each range's
  // delete follows a successful `before_delete(first token, last token)`. A failed call or
  // delete is tried again at the next call. REQUIRES: no write of theirs is staged.
  uint64_t drop_ranges(const std::function<Status(ring::Token, ring::Token)>& before_delete);

  // The key's primaries in the next ring that are not among `primaries` (its primaries
  // now); none without a transition.
  std::vector<NodeId> receivers_of(ring::Token token, const std::vector<NodeId>& primaries) const;
  // True if this node is one of the key's primaries in the current ring. REQUIRES: ring().
  bool is_primary(ring::Token token) const;
  // True if `node` is one of the key's primaries in the current or the next ring.
  // REQUIRES: ring().
  bool is_replica(const NodeId& node, ring::Token token) const;
  // True if `node` owns a partition in the current or the next ring. REQUIRES: ring().
  bool is_ring_member(const NodeId& node) const;
  // The key's primaries in the current ring, in preference order. REQUIRES: ring().
  std::vector<NodeId> primaries_of(ring::Token token) const;
  // True if this node takes writes for the key: a primary now (`primary`) or in the next
  // ring, or it still holds the range. REQUIRES: ring() non-null.
  bool takes_writes_for(ring::Token token, bool primary) const;
  bool takes_writes_for(ring::Token token) const {
    return takes_writes_for(token, is_primary(token));
  }

  const std::shared_ptr<const ring::Ring>& ring() const { return ring_; }
  const std::shared_ptr<const ring::Ring>& next_ring() const { return next_; }
  uint64_t version() const { return version_; }
  uint64_t applied() const { return applied_; }
  int64_t transition_started_unix_ms() const { return transition_started_unix_ms_; }
  const std::set<uint32_t>& held() const { return held_; }

 private:
  void find_left_over(const std::set<uint32_t>& replicated);
  // Per partition of `ring`: is this node one of its primaries.
  std::vector<bool> primaries_here(const ring::Ring& ring) const;

  NodeId self_;
  uint32_t n_;
  storage::Storage& storage_;
  std::shared_ptr<const ring::Ring> ring_;
  std::shared_ptr<const ring::Ring> next_;  // during a transition
  uint64_t version_ = 0;
  uint64_t applied_ = 0;
  int64_t transition_started_unix_ms_ = 0;
  // Per partition, this node is a primary: in ring_, and in next_ (empty without one).
  // Kept so the checks on every write need no preference list.
  std::vector<bool> primary_;
  std::vector<bool> primary_next_;
  std::set<uint32_t> held_;
  std::map<uint32_t, uint64_t> drop_at_;  // held range -> ring version that took it away
  bool scanned_ = false;                  // ranges left by an earlier run were looked for
};

}  // namespace qkv::node
