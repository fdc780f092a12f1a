// StateSummary: a key's state without its values — the version vector, and each sibling's
// dot, tombstone flag, expiry, timestamp and a 64-bit hash of its value (XXH3). It is what a writer
// must know of the stored state to apply a write without reading it, whenever no stored value
// survives the write:
//
//   - a replica joining an incoming state that has seen every stored sibling (the common
//     case: the coordinator's new state descends what the replica holds), and
//   - a coordinator whose client context covers every stored sibling (a read-modify-write
//     with no concurrent writer).
//
// Both give exactly SiblingSet::join and SiblingSet::update (tests/causal: checked on
// every step of random histories); when a stored value would survive, or the two sides
// hold different content under one dot (a reused actor; or a timestamp one side lacks,
// from a node older than Sibling::timestamp_ms), they answer "need the state" and
// the caller reads it. Equal value hashes are taken as equal values (XXH3-64: a collision
// between two values under one dot needs a reused actor and 2^-64 odds).
//
// Values; thread-safety as for any value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "causal/sibling_set.h"
#include "causal/version_vector.h"

namespace qkv::causal {

class StateSummary {
 public:
  struct Entry {
    Dot dot;
    bool tombstone = false;
    uint64_t value_hash = 0;  // XXH3_64bits of the value, seed 0
    int64_t expires_ms = 0;   // as the sibling's
    int64_t timestamp_ms = 0;
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  StateSummary() = default;  // a key never written
  static StateSummary of(const SiblingSet& state);
  static StateSummary of(SiblingSet&& state);  // takes the version vector, not a copy
  // *this = of(std::move(state)), reusing this summary's buffer of entries.
  void assign(SiblingSet&& state);

  // The outcome of joining an incoming state into the summarized one.
  struct Join {
    enum class Kind {
      unchanged,   // join(stored, incoming) == stored: nothing to write
      joined,      // `state` is join(stored, incoming)
      need_state,  // a stored value survives (or a dot holds two contents): read the state
    };
    Kind kind = Kind::need_state;
    SiblingSet state;  // only for joined
  };
  // SiblingSet::join(stored, incoming), computed from the summary of `stored`. An rvalue
  // `incoming` is left as it was unless the answer is `joined`; the joined state then
  // holds its siblings (moved, values and all) and, when it descends the stored vector,
  // its vector: a replica's common case copies nothing.
  Join join(const SiblingSet& incoming) const;
  Join join(SiblingSet&& incoming) const;

  // True if `context` covers every sibling: update() then needs no stored value.
  bool covered_by(const VersionVector& context) const;
  // SiblingSet::update(context, actor, value) of the summarized state.
  // REQUIRES: covered_by(context) (checked with QKV_ASSERT), and the REQUIRES of
  // SiblingSet::update.
  SiblingSet update(const VersionVector& context, const Actor& actor,
                    std::optional<std::string> value, int64_t expires_ms = 0,
                    int64_t timestamp_ms = 0) const;

  const VersionVector& version_vector() const { return vv_; }
  const std::vector<Entry>& siblings() const { return siblings_; }

  // A 128-bit digest of the summary (XXH3-128 over a canonical encoding of the version
  // vector and every entry): what a replica answers a digest read with (Cassandra's digest
  // reads; node/coordinator/get_round.h). Equal states give equal digests; different ones
  // differ but for a hash collision (2^-128 odds, beside the value hashes' 2^-64). The
  // state of a key never written, StateSummary(), has one digest too: "holds nothing".
  struct Digest {
    uint64_t high = 0;
    uint64_t low = 0;
    friend bool operator==(const Digest&, const Digest&) = default;
  };
  Digest digest() const;
  // Heap bytes held (actor names, the two vectors' buffers), for a cache's budget.
  std::size_t heap_bytes() const;

  friend bool operator==(const StateSummary&, const StateSummary&) = default;

 private:
  // The siblings' entries of `state`, in this summary's buffer (the vector is not set).
  void set_siblings(const SiblingSet& state);
  // What the walk of join over both dot-sorted sibling lists would do.
  struct Walk {
    bool conflict = false;     // one dot, two contents
    bool dropped = false;      // a stored sibling the incoming state has superseded
    bool kept_stored = false;  // a stored sibling the incoming state has not seen
    bool added = false;        // an incoming sibling not seen here
    std::size_t kept = 0;      // incoming siblings in the join
  };
  // `keep` is called with each incoming sibling the join holds, in dot order, after the
  // walk is done looking at it (it may move it away).
  template <typename Siblings, typename Keep>
  Walk walk(const VersionVector& theirs, Siblings& incoming, Keep&& keep) const;
  Join::Kind kind_of(const Walk& walk, const VersionVector& theirs) const;

  VersionVector vv_;
  std::vector<Entry> siblings_;  // sorted by dot, as the state's
};

}  // namespace qkv::causal
