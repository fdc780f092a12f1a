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
  StateSummary out;
  out.set_siblings(state);
  out.vv_ = state.version_vector();
  return out;
}

StateSummary StateSummary::of(SiblingSet&& state) {
  StateSummary out;
  out.assign(std::move(state));
  return out;
}

void StateSummary::assign(SiblingSet&& state) {
  set_siblings(state);
  vv_ = std::move(state).version_vector();
}

void StateSummary::set_siblings(const SiblingSet& state) {
  siblings_.clear();
  siblings_.reserve(state.siblings().size());
  for (const Sibling& s : state.siblings()) {
    siblings_.push_back(Entry{s.dot, s.tombstone, value_hash(s), s.expires_ms, s.timestamp_ms});
  }
}

template <typename Siblings, typename Keep>
StateSummary::Walk StateSummary::walk(const VersionVector& theirs, Siblings& incoming,
                                      Keep&& keep) const {
  // The walk of SiblingSet::join over both dot-sorted lists, noting what it would do.
  Walk w;
  auto x = siblings_.begin();
  auto y = incoming.begin();
  while (x != siblings_.end() || y != incoming.end()) {
    if (y == incoming.end() || (x != siblings_.end() && x->dot < y->dot)) {
      (theirs.covers(x->dot) ? w.dropped : w.kept_stored) = true;
      ++x;
    } else if (x == siblings_.end() || y->dot < x->dot) {
      if (!vv_.covers(y->dot) && !QKV_MUTATION(kJoinDropsConcurrent)) {  // new: concurrent or later
        w.added = true;
        ++w.kept;
        keep(*y);
      }
      ++y;
    } else {
      if (!same_content(*x, *y)) {
        w.conflict = true;  // one dot, two contents: a reused actor (or a lost timestamp)
        return w;
      }
      ++w.kept;
      keep(*y);
      ++x;
      ++y;
    }
  }
  return w;
}

StateSummary::Join::Kind StateSummary::kind_of(const Walk& w, const VersionVector& theirs) const {
  if (w.conflict) return Join::Kind::need_state;
  // merge(vv_, theirs) == vv_ exactly when vv_ descends theirs.
  if (!w.dropped && !w.added && vv_.descends(theirs)) return Join::Kind::unchanged;
  if (w.kept_stored) return Join::Kind::need_state;
  return Join::Kind::joined;
}

StateSummary::Join StateSummary::join(const SiblingSet& incoming) const {
  const VersionVector& theirs = incoming.version_vector();
  const Join::Kind kind = kind_of(walk(theirs, incoming.siblings(), [](const Sibling&) {}), theirs);
  if (kind != Join::Kind::joined) return Join{kind, {}};
  std::vector<Sibling> out;
  out.reserve(incoming.siblings().size());
  walk(theirs, incoming.siblings(), [&](const Sibling& s) { out.push_back(s); });
  return Join{kind, SiblingSet(VersionVector::merge(vv_, theirs), std::move(out))};
}

StateSummary::Join StateSummary::join(SiblingSet&& incoming) const {
  const VersionVector& theirs = incoming.version_vector();
  const Walk w = walk(theirs, incoming.siblings(), [](const Sibling&) {});
  const Join::Kind kind = kind_of(w, theirs);
  if (kind != Join::Kind::joined) return Join{kind, {}};  // incoming as it was
  SiblingSet::Parts in = std::move(incoming).take();
  std::vector<Sibling> out;
  if (w.kept == in.siblings.size()) {
    out = std::move(in.siblings);  // every incoming sibling survives: the usual case
  } else {
    out.reserve(w.kept);
    walk(in.vv, in.siblings, [&](Sibling& s) { out.push_back(std::move(s)); });
  }
  // merge(vv_, theirs) is theirs when theirs descends vv_.
  VersionVector vv = in.vv.descends(vv_) ? std::move(in.vv) : VersionVector::merge(vv_, in.vv);
  return Join{kind, SiblingSet(std::move(vv), std::move(out))};
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
