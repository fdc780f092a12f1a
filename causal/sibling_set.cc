#include "causal/sibling_set.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "common/assert.h"
#include "common/mutation.h"

namespace qkv::causal {

namespace {

bool dot_less(const Sibling& x, const Sibling& y) {
  return x.dot < y.dot;
}

// Both states hold a sibling with this dot. They are equal unless a dot was issued twice
// (an actor reused after losing its state: what incarnations exist to prevent). Choosing
// by content rather than by side keeps join commutative even then.
const Sibling& pick(const Sibling& x, const Sibling& y) {
  if (x == y) return x;
  // A larger timestamp first: a known time wins over 0 (a copy from an older node).
  const int64_t x_later = -x.timestamp_ms, y_later = -y.timestamp_ms;
  return std::tie(x.tombstone, x.value, x.expires_ms, x_later) <=
                 std::tie(y.tombstone, y.value, y.expires_ms, y_later)
             ? x
             : y;
}

}  // namespace

SiblingSet::SiblingSet(VersionVector vv, std::vector<Sibling> siblings)
    : vv_(std::move(vv)), siblings_(std::move(siblings)) {
  std::sort(siblings_.begin(), siblings_.end(), dot_less);
  for (std::size_t i = 0; i < siblings_.size(); ++i) {
    QKV_ASSERT(vv_.covers(siblings_[i].dot));
    QKV_ASSERT(i == 0 || siblings_[i - 1].dot != siblings_[i].dot);
  }
}

SiblingSet SiblingSet::update(const VersionVector& context, const Actor& actor,
                              std::optional<std::string> value, int64_t expires_ms,
                              int64_t timestamp_ms) const {
  // Under the REQUIRES, context.get(actor) <= vv_.get(actor); taking the max as well means
  // a context that claims more (a bad or foreign context) still never makes us issue a dot
  // the context has already seen.
  const Dot dot{actor, std::max(vv_.get(actor), context.get(actor)) + 1};
  std::vector<Sibling> siblings;
  siblings.reserve(siblings_.size() + 1);
  for (const Sibling& s : siblings_) {
    if (!context.covers(s.dot)) siblings.push_back(s);
  }
  Sibling fresh{dot, !value.has_value(), value ? std::move(*value) : std::string(),
                value ? expires_ms : 0, timestamp_ms};
  // Every kept dot is covered by vv_, so the fresh dot is new; insert it in dot order.
  siblings.insert(std::upper_bound(siblings.begin(), siblings.end(), fresh, dot_less),
                  std::move(fresh));
  VersionVector vv = VersionVector::merge(vv_, context);
  vv.raise(actor, dot.counter);
  return SiblingSet(std::move(vv), std::move(siblings));
}

SiblingSet SiblingSet::join(const SiblingSet& a, const SiblingSet& b) {
  // Both sibling lists are sorted by dot: one merge walk.
  std::vector<Sibling> out;
  out.reserve(a.siblings_.size() + b.siblings_.size());
  auto x = a.siblings_.begin();
  auto y = b.siblings_.begin();
  while (x != a.siblings_.end() || y != b.siblings_.end()) {
    if (y == b.siblings_.end() || (x != a.siblings_.end() && x->dot < y->dot)) {
      if (!b.vv_.covers(x->dot)) out.push_back(*x);  // b has not seen it: concurrent
      ++x;
    } else if (x == a.siblings_.end() || y->dot < x->dot) {
      if (!a.vv_.covers(y->dot) && !QKV_MUTATION(kJoinDropsConcurrent)) out.push_back(*y);
      ++y;
    } else {
      out.push_back(pick(*x, *y));
      ++x;
      ++y;
    }
  }
  SiblingSet joined;
  joined.vv_ = VersionVector::merge(a.vv_, b.vv_);
  joined.siblings_ = std::move(out);
  return joined;
}

std::vector<std::string> SiblingSet::values() const {
  std::vector<std::string> out;
  for (const Sibling& s : siblings_) {
    if (!s.tombstone) out.push_back(s.value);
  }
  return out;
}

bool SiblingSet::is_deleted() const {
  return std::all_of(siblings_.begin(), siblings_.end(),
                     [](const Sibling& s) { return s.tombstone; });
}

bool SiblingSet::descends(const SiblingSet& other) const {
  // join(*this, other) == *this without building the join. The vector must not grow;
  // then every sibling of `other` is covered here, so nothing of `other` is added, and
  // the question is only whether join would drop or replace one of ours.
  if (!vv_.descends(other.vv_)) return false;
  auto y = other.siblings_.begin();
  for (const Sibling& mine : siblings_) {
    while (y != other.siblings_.end() && y->dot < mine.dot) ++y;
    if (y != other.siblings_.end() && y->dot == mine.dot) {
      if (!(pick(mine, *y) == mine)) return false;
    } else if (other.vv_.covers(mine.dot)) {
      return false;  // `other` superseded it
    }
  }
  return true;
}

std::vector<std::string> SiblingSet::values_at(int64_t unix_ms) const {
  std::vector<std::string> out;
  for (const Sibling& s : siblings_) {
    if (s.live_at(unix_ms)) out.push_back(s.value);
  }
  return out;
}

std::optional<int64_t> SiblingSet::dead_from() const {
  if (siblings_.empty()) return std::nullopt;
  int64_t from = 0;
  for (const Sibling& s : siblings_) {
    if (s.tombstone) continue;
    if (s.expires_ms == 0) return std::nullopt;
    from = std::max(from, s.expires_ms);
  }
  return from;
}

}  // namespace qkv::causal
