// The stored state of one key: a set of siblings (values or tombstones, each with the
// dot that created it) and the version vector of every write the state has seen.
// This is the "dotted causal container" form of dotted version vectors (Almeida et al.,
// "Scalable and Accurate Causality Tracking for Eventually Consistent Stores", 2014):
//
//   invariant: every sibling's dot is covered by version_vector(); every dot the vector
//   covers that is not a sibling was superseded by a write whose context covered it.
//
// The coordinator (a primary, which applies locally before replicating) creates dots by
// update(); replicas and reads combine states by join(). join is a lattice join:
// commutative, associative and idempotent, so replicas converge whatever the order or
// repetition of replica writes, read repair, handoff and anti-entropy.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "causal/version_vector.h"

namespace qkv::causal {

struct Sibling {
  Dot dot;
  bool tombstone = false;  // a delete; value is empty
  std::string value;
  // A value written with a time to live: wall-clock unix ms (the coordinator's clock) from
  // which reads no longer see it, and after which it is reaped as a tombstone is
  // (node/reaper.h). 0: never expires. Set once by the write that made the dot.
  int64_t expires_ms = 0;
  // The coordinator's wall-clock unix ms when it wrote this sibling (a value or a
  // tombstone); 0: unknown (written before siblings carried it). Decided once with the dot
  // and carried with it everywhere (storage, replica writes, hints, transfers, repairs), so
  // every replica holds the same; what a last-writer-wins resolver orders by (issue 18).
  int64_t timestamp_ms = 0;
  friend bool operator==(const Sibling&, const Sibling&) = default;

  // True if this sibling is a value readers see at `unix_ms`.
  bool live_at(int64_t unix_ms) const {
    return !tombstone && (expires_ms == 0 || unix_ms < expires_ms);
  }
};

class SiblingSet {
 public:
  SiblingSet() = default;  // a key never written: no siblings, empty vector
  // REQUIRES (checked with QKV_ASSERT): every sibling's dot is covered by vv and dots are
  // distinct. Siblings are stored sorted by dot.
  SiblingSet(VersionVector vv, std::vector<Sibling> siblings);

  // The coordinator's write (DVV "update"): a new dot (actor, version_vector().get(actor)+1);
  // drops the siblings `context` covers (the client saw them); keeps the rest as concurrent
  // siblings; the new vector is merge(version_vector(), context) raised to the new dot.
  // `value` nullopt writes a tombstone (delete). `expires_ms` (unix ms, 0: never) is the
  // new value's time to live's end (Sibling::expires_ms); ignored for a tombstone.
  // `timestamp_ms` (unix ms, 0: unknown) is the coordinator's clock now
  // (Sibling::timestamp_ms), for values and tombstones alike.
  // REQUIRES: this is the coordinator's own current state of the key, so
  // version_vector().get(actor) is the last counter `actor` issued for it.
  // Not checked: contexts come from clients. If `context` claims a higher counter for
  // `actor` than this state has (a foreign or corrupt context), the new counter is
  // context.get(actor)+1 instead, so a dot the context has seen is never issued again
  // (as Riak's dvvset does). Under the REQUIRES the two rules agree.
  SiblingSet update(const VersionVector& context, const Actor& actor,
                    std::optional<std::string> value, int64_t expires_ms = 0,
                    int64_t timestamp_ms = 0) const;

  // Lattice join of two states of the same key. A sibling survives if both states hold
  // it or the other state's vector does not cover its dot. Two different siblings with the
  // same dot can only come from a reused actor (a bug incarnations prevent), or from a
  // node older than Sibling::timestamp_ms that dropped it; join then keeps the smaller by
  // (tombstone, value, expires_ms), then the one with the larger timestamp_ms (a known
  // time over 0), which keeps it commutative.
  static SiblingSet join(const SiblingSet& a, const SiblingSet& b);

  // The causal context to hand to clients: the version vector. From an rvalue it is moved
  // out (the state is left empty of it).
  const VersionVector& version_vector() const& { return vv_; }
  VersionVector version_vector() && { return std::move(vv_); }
  const std::vector<Sibling>& siblings() const { return siblings_; }
  // The vector and the siblings, moved out (the state is left empty): for a caller that
  // builds another state from them without copying the values.
  struct Parts {
    VersionVector vv;
    std::vector<Sibling> siblings;
  };
  Parts take() && { return Parts{std::move(vv_), std::move(siblings_)}; }
  // Values of the non-tombstone siblings, in dot order.
  std::vector<std::string> values() const;
  // True when there is no live value: never written, or only tombstones.
  bool is_deleted() const;
  // Values of the siblings readers see at `unix_ms` (not tombstones, not expired).
  std::vector<std::string> values_at(int64_t unix_ms) const;
  // When the state holds siblings and none of them can ever be seen again from some time
  // on: that time (0 for tombstones only; else the last expiry). nullopt otherwise (a
  // value without a time to live, or no siblings). What reaping removes (node/reaper.h).
  std::optional<int64_t> dead_from() const;
  // True if `other` adds nothing: join(*this, other) == *this.
  bool descends(const SiblingSet& other) const;

  friend bool operator==(const SiblingSet&, const SiblingSet&) = default;

 private:
  VersionVector vv_;
  std::vector<Sibling> siblings_;  // sorted by dot, dots distinct
};

}  // namespace qkv::causal
