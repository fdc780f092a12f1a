#include "causal/state_summary.h"

#include <algorithm>
#include <string>
#include <utility>

#include <xxhash.h>

#include "common/assert.h"
#include "common/mutation.h"

namespace qkv::causal {

namespace {

uint64_t value_hash(const Sibling& s) {
  return XXH3_64bits(s.value.data(), s.value.size());
}

bool same_content(const StateSummary::Entry& stored, const Sibling& incoming) {
  return stored.tombstone == incoming.tombstone && stored.value_hash == value_hash(incoming) &&
         stored.expires_ms == incoming.expires_ms && stored.timestamp_ms == incoming.timestamp_ms;
}

}  // namespace

StateSummary StateSummary::of(const SiblingSet& state) {
  StateSummary out = of_siblings(state);
  out.vv_ = state.version_vector();
  return out;
}

StateSummary StateSummary::of(SiblingSet&& state) {
  StateSummary out = of_siblings(state);
  out.vv_ = std::move(state).version_vector();
  return out;
}

StateSummary StateSummary::of_siblings(const SiblingSet& state) {
  StateSummary out;
  out.siblings_.reserve(state.siblings().size());
  for (const Sibling& s : state.siblings()) {
    out.siblings_.push_back(Entry{s.dot, s.tombstone, value_hash(s), s.expires_ms, s.timestamp_ms});
  }
  return out;
}

StateSummary::Join StateSummary::join(const SiblingSet& incoming) const {
  // The walk of SiblingSet::join over both dot-sorted lists, noting what it would do.
  const VersionVector& theirs = incoming.version_vector();
  bool dropped = false;      // a stored sibling the incoming state has superseded
  bool kept_stored = false;  // a stored sibling the incoming state has not seen
  bool added = false;        // an incoming sibling not seen here
  std::vector<Sibling> out;
  out.reserve(incoming.siblings().size());
  auto x = siblings_.begin();
  auto y = incoming.siblings().begin();
  while (x != siblings_.end() || y != incoming.siblings().end()) {
    if (y == incoming.siblings().end() || (x != siblings_.end() && x->dot < y->dot)) {
      (theirs.covers(x->dot) ? dropped : kept_stored) = true;
      ++x;
    } else if (x == siblings_.end() || y->dot < x->dot) {
      if (!vv_.covers(y->dot) && !QKV_MUTATION(kJoinDropsConcurrent)) {  // new: concurrent or later
        out.push_back(*y);
        added = true;
      }
      ++y;
    } else {
      if (!same_content(*x, *y))
        return Join{};  // one dot, two contents: a reused actor (or a lost timestamp)
      out.push_back(*y);
      ++x;
      ++y;
    }
  }
  VersionVector vv = VersionVector::merge(vv_, theirs);
  if (!dropped && !added && vv == vv_) return Join{Join::Kind::unchanged, {}};
  if (kept_stored) return Join{};
  return Join{Join::Kind::joined, SiblingSet(std::move(vv), std::move(out))};
}

bool StateSummary::covered_by(const VersionVector& context) const {
  return std::all_of(siblings_.begin(), siblings_.end(),
                     [&](const Entry& s) { return context.covers(s.dot); });
}

SiblingSet StateSummary::update(const VersionVector& context, const Actor& actor,
                                std::optional<std::string> value, int64_t expires_ms,
                                int64_t timestamp_ms) const {
  QKV_ASSERT(covered_by(context));
  // SiblingSet::update with every stored sibling dropped: the fresh one alone.
  const Dot dot{actor, std::max(vv_.get(actor), context.get(actor)) + 1};
  std::vector<Sibling> siblings;
  const bool tombstone = !value.has_value();
  siblings.push_back(Sibling{dot, tombstone, value ? std::move(*value) : std::string(),
                             tombstone ? 0 : expires_ms, timestamp_ms});
  VersionVector vv = VersionVector::merge(vv_, context);
  vv.raise(actor, dot.counter);
  return SiblingSet(std::move(vv), std::move(siblings));
}

StateSummary::Digest StateSummary::digest() const {
  // Lengths and counts delimit every variable part, so no two summaries encode alike.
  // Integers little-endian: nodes of any byte order compare digests.
  std::string bytes;
  bytes.reserve(16 + (vv_.size() + siblings_.size()) * 48);
  auto put = [&](uint64_t v) {
    char le[8];  // one 8-byte store on a little-endian machine
    for (int i = 0; i < 8; ++i) le[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    bytes.append(le, sizeof le);
  };
  auto put_actor = [&](const Actor& a) {
    put(a.node.size());
    bytes.append(a.node);
    put(a.incarnation);
  };
  put(vv_.size());
  for (const auto& e : vv_.entries()) {
    put_actor(e.actor);
    put(e.counter);
  }
  put(siblings_.size());
  for (const Entry& s : siblings_) {
    put_actor(s.dot.actor);
    put(s.dot.counter);
    put(s.tombstone ? 1 : 0);
    put(s.value_hash);
    put(static_cast<uint64_t>(s.expires_ms));
    put(static_cast<uint64_t>(s.timestamp_ms));
  }
  const XXH128_hash_t hash = XXH3_128bits(bytes.data(), bytes.size());
  return Digest{hash.high64, hash.low64};
}

std::size_t StateSummary::heap_bytes() const {
  std::size_t bytes = vv_.entries().capacity() * sizeof(VersionVector::Entry) +
                      siblings_.capacity() * sizeof(Entry);
  // Actor names longer than the small-string buffer live on the heap.
  auto name = [](const Actor& a) { return a.node.capacity() > 15 ? a.node.capacity() + 1 : 0; };
  for (const auto& e : vv_.entries()) bytes += name(e.actor);
  for (const auto& s : siblings_) bytes += name(s.dot.actor);
  return bytes;
}

}  // namespace qkv::causal
