#include "antientropy/merkle_tree.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

namespace qkv::antientropy {

// Every byte hashed here is compared with peers (entry, leaf and node hashes) or persisted
// (serialize), so encodings are fixed little-endian whatever the host: do not change them.
namespace {

using u128 = unsigned __int128;

constexpr char kMagic[4] = {'Q', 'K', 'M', 'T'};
constexpr uint8_t kFormatVersion = 1;
constexpr std::size_t kHeaderBytes = sizeof(kMagic) + 1 + 8 + 8 + 4;
constexpr std::size_t kLeafBytes = 8 + 8 + 8;
constexpr std::size_t kChecksumBytes = 8;

void put_u64(unsigned char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

void append_u64(std::string& out, uint64_t v) {
  unsigned char bytes[8];
  put_u64(bytes, v);
  out.append(reinterpret_cast<const char*>(bytes), sizeof(bytes));
}

void append_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t get_u64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

uint32_t get_u32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

Hash128 to_hash(XXH128_hash_t h) {
  return Hash128{h.low64, h.high64};
}

// An empty leaf is {0, 0}; any other hashes its sum and count, so a leaf whose entries
// sum to zero lanes still differs from an empty one.
Hash128 leaf_hash(const Hash128& sum, uint64_t count) {
  if (count == 0) return Hash128{};
  unsigned char bytes[24];
  put_u64(bytes, sum.lo);
  put_u64(bytes + 8, sum.hi);
  put_u64(bytes + 16, count);
  return to_hash(XXH3_128bits(bytes, sizeof(bytes)));
}

// Two empty subtrees make an empty subtree ({0, 0}); otherwise the hash of both children.
Hash128 inner_hash(const Hash128& left, const Hash128& right) {
  if (left == Hash128{} && right == Hash128{}) return Hash128{};
  unsigned char bytes[32];
  put_u64(bytes, left.lo);
  put_u64(bytes + 8, left.hi);
  put_u64(bytes + 16, right.lo);
  put_u64(bytes + 24, right.hi);
  return to_hash(XXH3_128bits(bytes, sizeof(bytes)));
}

bool is_power_of_two(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

// Tokens in [first, last], as a 128-bit number (the full ring has 2^64).
u128 width_of(ring::Token first, ring::Token last) {
  return u128{last} - first + 1;
}

}  // namespace

Hash128 entry_hash(std::string_view key, std::string_view version) {
  // u64 key length | key | version, hashed in one shot (XXH3 is fastest on short inputs
  // that way); a stack buffer covers the usual sizes.
  constexpr std::size_t kStackBytes = 256;
  const std::size_t size = 8 + key.size() + version.size();
  unsigned char stack[kStackBytes];
  std::string heap;
  unsigned char* buf = stack;
  if (size > kStackBytes) {
    heap.resize(size);
    buf = reinterpret_cast<unsigned char*>(heap.data());
  }
  put_u64(buf, key.size());
  if (!key.empty()) std::memcpy(buf + 8, key.data(), key.size());
  if (!version.empty()) std::memcpy(buf + 8 + key.size(), version.data(), version.size());
  return to_hash(XXH3_128bits(buf, size));
}

MerkleTree::MerkleTree(ring::Token first, ring::Token last, uint32_t segments)
    : first_(first),
      last_(last),
      segments_(segments),
      depth_(static_cast<uint32_t>(std::countr_zero(segments))),
      leaves_(segments),
      nodes_(2 * std::size_t{segments}),
      stale_nodes_(2 * std::size_t{segments}) {
  QKV_ASSERT(first <= last);
  QKV_ASSERT(is_power_of_two(segments) && segments <= kSegmentsMax);
  QKV_ASSERT(width_of(first, last) >= segments);
}

uint32_t MerkleTree::segment_of(ring::Token token) const {
  QKV_ASSERT(first_ <= token && token <= last_);
  // (token - first) < width, so the quotient is < segments; the product fits in 128 bits
  // (< 2^64 * 2^20).
  return static_cast<uint32_t>(u128{token - first_} * segments_ / width_of(first_, last_));
}

std::pair<ring::Token, ring::Token> MerkleTree::segment_range(uint32_t segment) const {
  QKV_ASSERT(segment < segments_);
  // Leaf s holds the offsets x with s * width <= x * segments < (s + 1) * width, i.e.
  // x in [ceil(s * width / segments), ceil((s + 1) * width / segments) - 1].
  const u128 width = width_of(first_, last_);
  auto start = [&](u128 s) { return (s * width + segments_ - 1) / segments_; };
  const u128 begin = start(segment);
  const u128 end = start(u128{segment} + 1);  // exclusive; <= width
  return {first_ + static_cast<ring::Token>(begin), first_ + static_cast<ring::Token>(end - 1)};
}

void MerkleTree::insert(ring::Token token, const Hash128& entry) {
  replace(token, std::nullopt, entry);
}

void MerkleTree::remove(ring::Token token, const Hash128& entry) {
  replace(token, entry, std::nullopt);
}

void MerkleTree::replace(ring::Token token, const std::optional<Hash128>& before,
                         const std::optional<Hash128>& after) {
  const uint32_t segment = segment_of(token);
  if (before == after) return;  // same leaf either way
  Leaf& leaf = leaves_[segment];
  if (before && leaf.count == 0) {
    // An entry never inserted: the tree no longer matches the data it covers (data lost
    // under it, or a caller's bug). Not fatal: flagged, and the owner rebuilds it.
    stale_ = true;
  } else if (before) {
    leaf.sum.lo -= before->lo;
    leaf.sum.hi -= before->hi;
    --leaf.count;
    --entries_;
  }
  if (after) {
    leaf.sum.lo += after->lo;
    leaf.sum.hi += after->hi;
    ++leaf.count;
    ++entries_;
  }
  mark_stale(segment);
}

void MerkleTree::clear() {
  std::fill(leaves_.begin(), leaves_.end(), Leaf{});
  std::fill(nodes_.begin(), nodes_.end(), Hash128{});
  std::fill(stale_nodes_.begin(), stale_nodes_.end(), uint8_t{0});
  entries_ = 0;
  stale_ = false;
}

Hash128 MerkleTree::node(uint32_t level, uint32_t index) const {
  QKV_ASSERT(level <= depth_);
  QKV_ASSERT(index < (uint32_t{1} << level));
  return settle((std::size_t{1} << level) + index);
}

uint64_t MerkleTree::entries() const {
  return entries_;
}

bool operator==(const MerkleTree& a, const MerkleTree& b) {
  // Equal leaves give equal inner nodes: no need to compare nodes_.
  return a.first_ == b.first_ && a.last_ == b.last_ && a.segments_ == b.segments_ &&
         a.leaves_ == b.leaves_;
}

void MerkleTree::mark_stale(uint32_t segment) {
  for (std::size_t i = std::size_t{segments_} + segment; i >= 1 && !stale_nodes_[i]; i /= 2) {
    stale_nodes_[i] = 1;
  }
}

const Hash128& MerkleTree::settle(std::size_t i) const {
  if (stale_nodes_[i]) {
    if (i >= segments_) {
      const Leaf& leaf = leaves_[i - segments_];
      nodes_[i] = leaf_hash(leaf.sum, leaf.count);
    } else {
      // Recursion depth <= depth() (at most 20).
      nodes_[i] = inner_hash(settle(2 * i), settle(2 * i + 1));
    }
    stale_nodes_[i] = 0;
  }
  return nodes_[i];
}

void MerkleTree::rebuild() {
  entries_ = 0;
  for (const Leaf& leaf : leaves_) entries_ += leaf.count;
  std::fill(stale_nodes_.begin(), stale_nodes_.end(), uint8_t{1});
}

std::string MerkleTree::serialize() const {
  std::string out;
  out.reserve(kHeaderBytes + leaves_.size() * kLeafBytes + kChecksumBytes);
  out.append(kMagic, sizeof(kMagic));
  out.push_back(static_cast<char>(kFormatVersion));
  append_u64(out, first_);
  append_u64(out, last_);
  append_u32(out, segments_);
  for (const Leaf& leaf : leaves_) {
    append_u64(out, leaf.sum.lo);
    append_u64(out, leaf.sum.hi);
    append_u64(out, leaf.count);
  }
  append_u64(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

Result<MerkleTree> MerkleTree::deserialize(std::string_view bytes) {
  const std::string prefix = "merkle tree: ";
  if (bytes.size() < kHeaderBytes + kChecksumBytes) {
    return Status::invalid_argument(prefix + "size " + std::to_string(bytes.size()) +
                                    " bytes is below the minimum " +
                                    std::to_string(kHeaderBytes + kChecksumBytes));
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::invalid_argument(prefix + "bad magic (not a serialized Merkle tree)");
  }
  const uint8_t version = static_cast<uint8_t>(bytes[4]);
  if (version != kFormatVersion) {
    return Status::invalid_argument(prefix + "format version " + std::to_string(version) +
                                    " is not supported (expected " +
                                    std::to_string(kFormatVersion) + ")");
  }
  const ring::Token first = get_u64(bytes.data() + 5);
  const ring::Token last = get_u64(bytes.data() + 13);
  const uint32_t segments = get_u32(bytes.data() + 21);
  if (!is_power_of_two(segments) || segments > kSegmentsMax) {
    return Status::invalid_argument(prefix + "segments " + std::to_string(segments) +
                                    " is not a power of two in [1, " +
                                    std::to_string(kSegmentsMax) + "]");
  }
  if (first > last) {
    return Status::invalid_argument(prefix + "range first " + std::to_string(first) +
                                    " is above last " + std::to_string(last));
  }
  if (width_of(first, last) < segments) {
    return Status::invalid_argument(prefix + "range [" + std::to_string(first) + ", " +
                                    std::to_string(last) + "] has fewer tokens than its " +
                                    std::to_string(segments) + " segments");
  }
  const std::size_t expected = kHeaderBytes + segments * kLeafBytes + kChecksumBytes;
  if (bytes.size() != expected) {
    return Status::invalid_argument(prefix + "size " + std::to_string(bytes.size()) +
                                    " bytes does not match " + std::to_string(segments) +
                                    " segments (expected " + std::to_string(expected) + ")");
  }
  const std::size_t body = expected - kChecksumBytes;
  if (XXH3_64bits(bytes.data(), body) != get_u64(bytes.data() + body)) {
    return Status::invalid_argument(prefix + "checksum mismatch (corrupted bytes)");
  }
  MerkleTree tree(first, last, segments);
  const char* p = bytes.data() + kHeaderBytes;
  for (uint32_t s = 0; s < segments; ++s, p += kLeafBytes) {
    Leaf& leaf = tree.leaves_[s];
    leaf.sum = Hash128{get_u64(p), get_u64(p + 8)};
    leaf.count = get_u64(p + 16);
    // Adds and removes in pairs bring an emptied leaf's sum back to zero.
    if (leaf.count == 0 && leaf.sum != Hash128{}) {
      return Status::invalid_argument(prefix + "segment " + std::to_string(s) +
                                      " has no entries but a nonzero sum");
    }
  }
  tree.rebuild();
  return tree;
}

Descent::Descent(const MerkleTree& local) : local_(local) {
  request_.level = 0;
  request_.indices = {0};
}

Status Descent::on_reply(std::span<const Hash128> hashes) {
  if (failed_) return Status::invalid_argument("descent: unusable after a malformed reply");
  if (done_) return Status::invalid_argument("descent: reply after the descent is done");
  if (hashes.size() != request_.indices.size()) {
    failed_ = true;
    return Status::invalid_argument("descent: reply has " + std::to_string(hashes.size()) +
                                    " hashes for level " + std::to_string(request_.level) +
                                    "; the request asked for " +
                                    std::to_string(request_.indices.size()));
  }
  hashes_received_ += hashes.size();
  std::vector<uint32_t> differing;
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    if (local_.node(request_.level, request_.indices[i]) != hashes[i]) {
      differing.push_back(request_.indices[i]);
    }
  }
  if (request_.level == local_.depth()) {
    // Indices are ascending (children of ascending parents), so differing_ is too.
    differing_ = std::move(differing);
    done_ = true;
  } else if (differing.empty()) {
    done_ = true;  // the peer's subtrees match after all (e.g. it was written meanwhile)
  } else {
    request_.level += 1;
    request_.indices.clear();
    for (uint32_t index : differing) {
      request_.indices.push_back(2 * index);
      request_.indices.push_back(2 * index + 1);
    }
  }
  if (done_) request_.indices.clear();
  return Status::ok();
}

std::vector<std::string> differing_keys(std::span<const SegmentEntry> local,
                                        std::span<const SegmentEntry> remote) {
  // Sorted by (key, hash); a key differs when its hashes on the two sides differ (a key
  // should have one entry per side; duplicates are compared as multisets).
  auto sorted = [](std::span<const SegmentEntry> entries) {
    std::vector<const SegmentEntry*> out;
    out.reserve(entries.size());
    for (const SegmentEntry& e : entries) out.push_back(&e);
    std::sort(out.begin(), out.end(), [](const SegmentEntry* a, const SegmentEntry* b) {
      if (a->key != b->key) return a->key < b->key;
      if (a->hash.lo != b->hash.lo) return a->hash.lo < b->hash.lo;
      return a->hash.hi < b->hash.hi;
    });
    return out;
  };
  const std::vector<const SegmentEntry*> a = sorted(local);
  const std::vector<const SegmentEntry*> b = sorted(remote);
  std::vector<std::string> out;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    // The smaller key of the two heads, and each side's run of entries for it.
    const std::string& key =
        j == b.size() || (i < a.size() && a[i]->key < b[j]->key) ? a[i]->key : b[j]->key;
    std::size_t i_end = i;
    while (i_end < a.size() && a[i_end]->key == key) ++i_end;
    std::size_t j_end = j;
    while (j_end < b.size() && b[j_end]->key == key) ++j_end;
    bool same = i_end - i == j_end - j;
    for (std::size_t x = 0; same && x < i_end - i; ++x) same = a[i + x]->hash == b[j + x]->hash;
    if (!same) out.push_back(key);
    i = i_end;
    j = j_end;
  }
  return out;
}

}  // namespace qkv::antientropy
