#include "gossip/ring_identity.h"

#include <xxhash.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace qkv::gossip {
namespace {

// Little-endian fixed-width integers and length-prefixed strings: one byte string on every
// platform, so every node computes the same values.
class Bytes {
 public:
  explicit Bytes(std::string_view tag) : out_(tag) { out_.push_back('\0'); }
  Bytes& u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Bytes& text(std::string_view s) {
    u64(s.size());
    out_.append(s);
    return *this;
  }
  Bytes& ids(const std::vector<NodeId>& ids) {
    u64(ids.size());
    for (const NodeId& id : ids) text(id);
    return *this;
  }
  // Never 0: 0 is "unknown".
  uint64_t hash() const {
    const uint64_t h = XXH3_64bits(out_.data(), out_.size());
    return h == 0 ? 1 : h;
  }

 private:
  std::string out_;
};

}  // namespace

uint64_t first_cluster_id(std::vector<NodeId> members, uint32_t partitions, uint32_t n) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  return Bytes("qkv cluster").u64(partitions).u64(n).ids(members).hash();
}

uint64_t ring_hash(const RingState& ring) {
  if (ring.version == 0) return 0;
  Bytes bytes("qkv ring");
  bytes.u64(ring.version).u64(ring.n).ids(ring.owners).ids(ring.next_owners).text(ring.claimant);
  // Only when there are any, so that rings without removed members keep their hashes.
  if (!ring.removed.empty()) bytes.text("removed").ids(ring.removed);
  return bytes.hash();
}

}  // namespace qkv::gossip
