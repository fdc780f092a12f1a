// Merkle trees for active anti-entropy (Dynamo §4.7; Riak's riak_kv_index_hashtree).
//
// One tree covers the token range of one partition, cut into `segments` equal leaves (a
// power of two, default 1,024). A leaf is the combination of the entry hashes of the keys
// whose token falls in it; an entry hash is entry_hash(key, version), the version being
// any bytes that tell a key's states apart (for qkv, node/entry_version.h: version_of a
// sibling set). The tree knows nothing of what it hashes (riak_core's hashtree is generic
// the same way). Inner nodes hash their two children; the root covers the range.
//
// The leaf combine is lane-wise addition mod 2^64 of 128-bit entry hashes (with the entry
// count alongside), so:
//  - it is order independent (addition commutes): a tree built by one scan equals the tree
//    kept current by updates in any order;
//  - a write updates one leaf in O(1) (subtract the old entry, add the new one), with no
//    rescan;
//  - equal entries never cancel (XOR would: two equal hashes XOR to zero); each key has
//    one entry per tree anyway, and the count makes an empty leaf differ from any other.
// See docs/architecture.md (Anti-entropy) for why this is safe.
//
// Hashes settle lazily: a write changes its leaf's sum and marks the leaf and its
// ancestors stale; reading a node (node(), root()) first rehashes the stale nodes under
// it. Writes come far more often than exchanges read a tree (every write against one read
// every few seconds), so the inner hashes near the root are computed once per read, not
// once per write (issue 17: eager upkeep was 3-5 % of a node's CPU per write).
//
// Thread-safety: none, reads included (they settle stale hashes); owned by the node
// core's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "ring/token.h"

namespace qkv::antientropy {

struct Hash128 {
  uint64_t lo = 0;
  uint64_t hi = 0;
  friend bool operator==(const Hash128&, const Hash128&) = default;
};

// XXH3-128 of (key length, key, version): the entry of one key in a leaf.
Hash128 entry_hash(std::string_view key, std::string_view version);

class MerkleTree {
 public:
  static constexpr uint32_t kSegmentsMax = uint32_t{1} << 20;

  // Covers tokens [first, last]. REQUIRES (QKV_ASSERT): first <= last; segments a power of
  // two in [1, kSegmentsMax]; last - first + 1 >= segments (no empty leaf).
  // Leaves split the range into near-equal parts: with width = last - first + 1, token t is
  // in leaf (t - first) * segments / width (exact, in 128-bit arithmetic), so leaf sizes
  // differ by at most one token when the range does not divide evenly.
  MerkleTree(ring::Token first, ring::Token last, uint32_t segments);

  ring::Token first() const { return first_; }
  ring::Token last() const { return last_; }
  uint32_t segments() const { return segments_; }
  // Levels below the root: log2(segments). Level 0 is the root, level depth() the leaves.
  uint32_t depth() const { return depth_; }

  // The leaf holding `token`. REQUIRES first() <= token <= last().
  uint32_t segment_of(ring::Token token) const;
  // Tokens [first, last] of a leaf. REQUIRES segment < segments().
  std::pair<ring::Token, ring::Token> segment_range(uint32_t segment) const;

  // Adds or removes one key's entry: O(1) on its leaf (no hashing), and marks the path to
  // the root stale (stops at the first node already stale).
  // REQUIRES first() <= token <= last(). Removing an entry never inserted corrupts the
  // leaf (as for any additive digest): callers pass exactly what they inserted; from an
  // empty leaf it is ignored and the tree flagged stale().
  void insert(ring::Token token, const Hash128& entry);
  void remove(ring::Token token, const Hash128& entry);
  // A key's state changed: removes `before` (if any) and adds `after` (if any), one path.
  void replace(ring::Token token, const std::optional<Hash128>& before,
               const std::optional<Hash128>& after);
  // Back to empty (before a rebuild).
  // True once a removal found its leaf empty: the tree no longer matches its data and
  // should be rebuilt by a scan. clear() resets it.
  bool stale() const { return stale_; }
  void clear();

  Hash128 root() const { return node(0, 0); }
  // Node `index` of `level` (2^level nodes on a level). An empty subtree hashes to {0, 0}.
  // Settles the stale nodes under it first: at most one hash per stale node, each once
  // until written again. REQUIRES level <= depth(), index < 2^level.
  Hash128 node(uint32_t level, uint32_t index) const;
  // Entries in the tree (inserts minus removes).
  uint64_t entries() const;

  // Same range, segments and leaves (hence the same inner nodes).
  friend bool operator==(const MerkleTree& a, const MerkleTree& b);

  // Persistence (qkvd saves trees at a clean shutdown): the range, segments and leaves.
  // Layout (persisted: do not change; little-endian):
  //   "QKMT" | u8 format version (1) | u64 first | u64 last | u32 segments
  //   | segments x (u64 sum.lo | u64 sum.hi | u64 count) | u64 XXH3_64 of all bytes before.
  // Inner nodes are not stored: deserialize() recomputes them.
  std::string serialize() const;
  // Errors: invalid_argument naming what is wrong (size, magic, format version, segments,
  // range, checksum, an empty leaf with a nonzero sum) for bytes that serialize() did not
  // produce.
  static Result<MerkleTree> deserialize(std::string_view bytes);

 private:
  struct Leaf {
    Hash128 sum;         // lane-wise sum mod 2^64 of the entries
    uint64_t count = 0;  // entries
    friend bool operator==(const Leaf&, const Leaf&) = default;
  };
  // Marks the leaf of `segment` and its ancestors stale, up to the first already stale.
  void mark_stale(uint32_t segment);
  // Recomputes the stale nodes under heap index i (i included); returns node i's hash.
  const Hash128& settle(std::size_t i) const;
  // Marks every node stale and recounts entries_ from leaves_ (after deserialize).
  void rebuild();

  ring::Token first_;
  ring::Token last_;
  uint32_t segments_;
  uint32_t depth_;
  bool stale_ = false;
  std::vector<Leaf> leaves_;
  uint64_t entries_ = 0;
  // Node hashes, heap order: nodes_[1] is the root, children of i are 2i and 2i+1; the
  // leaves' hashes are nodes_[segments_ + s]. Size 2 * segments_. stale_nodes_[i]: node
  // i's hash is out of date (a leaf under it changed since it was last read); a stale
  // node's ancestors are stale too. Both settle in const reads, hence mutable.
  mutable std::vector<Hash128> nodes_;
  mutable std::vector<uint8_t> stale_nodes_;
};

// The descent of one exchange (sans-I/O): finds the leaves where the local tree and a
// peer's tree of the same shape differ, level by level, asking the peer only for the
// children of nodes that differed: O(k · depth) hashes for k differing leaves, not
// O(segments). The local tree is read at each step, so writes in between are fine (an
// exchange compares what each side has at that moment; a key written meanwhile is
// either repaired now or by the next exchange).
class Descent {
 public:
  struct Request {
    uint32_t level = 0;
    std::vector<uint32_t> indices;  // nodes of `level` whose hashes the peer sends
  };

  // REQUIRES: `local` outlives the descent.
  explicit Descent(const MerkleTree& local);

  // True when every differing path reached a leaf (or the roots were equal).
  bool done() const { return done_; }
  // What to ask the peer next; the first request is the root. REQUIRES !done().
  const Request& request() const { return request_; }
  // The peer's hashes of request().indices, in order. Errors: invalid_argument if the
  // count does not match (the descent is then unusable: later calls fail too), or if the
  // descent is already done.
  Status on_reply(std::span<const Hash128> hashes);
  // The differing leaves, ascending. Meaningful once done().
  const std::vector<uint32_t>& differing_segments() const { return differing_; }
  // Hashes received so far (the descent's cost).
  uint64_t hashes_received() const { return hashes_received_; }

 private:
  const MerkleTree& local_;
  Request request_;
  std::vector<uint32_t> differing_;
  uint64_t hashes_received_ = 0;
  bool done_ = false;
  bool failed_ = false;  // a reply had the wrong count
};

// One key's entry as exchanged for a differing segment.
struct SegmentEntry {
  std::string key;
  Hash128 hash;
  friend bool operator==(const SegmentEntry&, const SegmentEntry&) = default;
};

// Keys whose entries differ between two sides' entries of the same segments: present on
// one side only, or on both with different hashes. Inputs in any order; output sorted.
std::vector<std::string> differing_keys(std::span<const SegmentEntry> local,
                                        std::span<const SegmentEntry> remote);

}  // namespace qkv::antientropy
