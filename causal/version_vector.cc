#include "causal/version_vector.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace qkv::causal {

namespace {

bool actor_less(const VersionVector::Entry& e, const Actor& actor) {
  return e.actor < actor;
}

}  // namespace

VersionVector::VersionVector(std::vector<Entry> entries) : entries_(std::move(entries)) {
  std::sort(entries_.begin(), entries_.end(), [](const Entry& x, const Entry& y) {
    return x.actor == y.actor ? x.counter > y.counter : x.actor < y.actor;
  });
  // After the sort the first entry of each actor holds its maximum counter: kept in place
  // (the vector given is the one kept, no second allocation), the rest dropped.
  auto kept = entries_.begin();
  for (auto e = entries_.begin(); e != entries_.end(); ++e) {
    if (e->counter == 0) continue;
    if (kept != entries_.begin() && std::prev(kept)->actor == e->actor) continue;
    if (kept != e) *kept = std::move(*e);
    ++kept;
  }
  entries_.erase(kept, entries_.end());
}

uint64_t VersionVector::get(const Actor& actor) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), actor, actor_less);
  return it != entries_.end() && it->actor == actor ? it->counter : 0;
}

void VersionVector::raise(const Actor& actor, uint64_t counter) {
  if (counter == 0) return;  // missing already means 0: keep counters > 0
  auto it = std::lower_bound(entries_.begin(), entries_.end(), actor, actor_less);
  if (it != entries_.end() && it->actor == actor) {
    it->counter = std::max(it->counter, counter);
  } else {
    entries_.insert(it, Entry{actor, counter});
  }
}

bool VersionVector::covers(const Dot& dot) const {
  return get(dot.actor) >= dot.counter;
}

bool VersionVector::descends(const VersionVector& other) const {
  // Both sides are sorted by actor: one linear walk. An actor of `other` missing here
  // (counter 0 here, > 0 there) means this vector has not seen all of `other`.
  auto mine = entries_.begin();
  for (const Entry& theirs : other.entries_) {
    while (mine != entries_.end() && mine->actor < theirs.actor) ++mine;
    if (mine == entries_.end() || mine->actor != theirs.actor) return false;
    if (mine->counter < theirs.counter) return false;
  }
  return true;
}

bool VersionVector::concurrent(const VersionVector& other) const {
  return !descends(other) && !other.descends(*this);
}

VersionVector VersionVector::merge(const VersionVector& a, const VersionVector& b) {
  VersionVector out;
  out.entries_.reserve(std::max(a.size(), b.size()));
  auto x = a.entries_.begin();
  auto y = b.entries_.begin();
  while (x != a.entries_.end() || y != b.entries_.end()) {
    if (y == b.entries_.end() || (x != a.entries_.end() && x->actor < y->actor)) {
      out.entries_.push_back(*x++);
    } else if (x == a.entries_.end() || y->actor < x->actor) {
      out.entries_.push_back(*y++);
    } else {
      out.entries_.push_back(Entry{x->actor, std::max(x->counter, y->counter)});
      ++x;
      ++y;
    }
  }
  return out;
}

}  // namespace qkv::causal
