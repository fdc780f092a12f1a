#include "ring/claim.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <compare>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "ring/claim_internal.h"

namespace qkv::ring {
namespace {

using claim_internal::kFree;
using claim_internal::Problem;
using claim_internal::restripe;

constexpr uint64_t kSwapEvaluationsMax = 1u << 22;  // bounds repair (see claim.h, Cost)
constexpr int kRepairPassesMax = 8;

// Conflicts of an owner at a partition: partitions within w-1 either side owned by the same
// node, or (zones active) by a node of the same zone, which includes the same node.
struct Cost {
  uint32_t node = 0;
  uint32_t zone = 0;
  friend auto operator<=>(const Cost&, const Cost&) = default;
  Cost operator+(const Cost& o) const { return {node + o.node, zone + o.zone}; }
};

struct State {
  std::vector<int32_t> owner;
  std::vector<uint32_t> count;
  std::vector<uint32_t> target;
  std::vector<std::set<uint32_t>> own;  // partitions of each member (kept by assign only)
};

Status validate_size(const char* what, size_t size) {
  if (size == 0 || size > kPartitionCountMax || !std::has_single_bit(size)) {
    return Status::invalid_argument(fmt::format(
        "{}: current owner table has {} partitions; it must be a power of two in [1, {}]", what,
        size, kPartitionCountMax));
  }
  return Status::ok();
}

Status validate_claim_args(const std::vector<NodeId>& current,
                           const std::vector<ClaimMember>& members, uint32_t n) {
  QKV_RETURN_IF_ERROR(validate_size("claim", current.size()));
  if (n == 0) {
    return Status::invalid_argument("claim: replication factor n is 0; it must be at least 1");
  }
  if (members.empty()) {
    return Status::invalid_argument("claim: the member set is empty; at least one is needed");
  }
  std::set<NodeId> seen;
  for (const ClaimMember& member : members) {
    Status s = validate_node_id(member.id);
    if (!s.is_ok()) return Status::invalid_argument("claim: " + s.message());
    if (!seen.insert(member.id).second) {
      return Status::invalid_argument(fmt::format("claim: member '{}' is listed twice", member.id));
    }
  }
  return Status::ok();
}

Problem make_problem(const std::vector<NodeId>& current, std::vector<ClaimMember> members,
                     uint32_t n) {
  std::sort(members.begin(), members.end(),
            [](const ClaimMember& a, const ClaimMember& b) { return a.id < b.id; });
  Problem pb;
  pb.q = static_cast<uint32_t>(current.size());
  pb.w = std::min(n, pb.q);
  std::map<std::string, uint32_t> zone_index;
  bool any_zone = false;
  for (const ClaimMember& member : members) {
    pb.ids.push_back(member.id);
    any_zone = any_zone || !member.zone.empty();
    if (member.zone.empty()) {
      pb.zone.push_back(pb.zone_count++);
    } else {
      auto [it, inserted] = zone_index.emplace(member.zone, pb.zone_count);
      pb.zone.push_back(it->second);
      pb.zone_count += inserted ? 1 : 0;
    }
  }
  pb.zones_active = any_zone && pb.zone_count >= pb.w;
  for (const NodeId& owner : current) {
    auto it = std::lower_bound(pb.ids.begin(), pb.ids.end(), owner);
    const bool member = it != pb.ids.end() && *it == owner;
    pb.original.push_back(member ? static_cast<int32_t>(it - pb.ids.begin()) : kFree);
  }
  return pb;
}

Cost cost_at(const Problem& pb, const std::vector<int32_t>& owner, uint32_t p, int32_t who) {
  Cost c;
  auto visit = [&](uint32_t x) {
    const int32_t o = owner[x];
    if (o == kFree) return;
    if (o == who) ++c.node;
    if (pb.zones_active && pb.zone[o] == pb.zone[who]) ++c.zone;
  };
  for (uint32_t d = 1; d < pb.w; ++d) {
    visit((p + d) & (pb.q - 1));
    if (pb.q - d > pb.w - 1) visit((p - d) & (pb.q - 1));  // else it is a forward one
  }
  return c;
}

Cost energy(const Problem& pb, const std::vector<int32_t>& owner) {
  Cost e;
  for (uint32_t p = 0; p < pb.q; ++p) {
    if (owner[p] != kFree) e = e + cost_at(pb, owner, p, owner[p]);
  }
  return e;
}

// Largest zone total of `target`, or 0 when zones are not active.
uint64_t max_zone_total(const Problem& pb, const std::vector<uint32_t>& target) {
  if (!pb.zones_active) return 0;
  std::vector<uint64_t> total(pb.zone_count);
  for (size_t i = 0; i < target.size(); ++i) total[pb.zone[i]] += target[i];
  return *std::max_element(total.begin(), total.end());
}

// Water-filling of the ceil slots across zones, only while a zone is too big to spread
// (total * w > q): a move takes the ceil from the member of the largest zone owning least and
// gives it to the member of the smallest zone (with room) owning most.
void balance_zone_totals(const Problem& pb, const std::vector<uint32_t>& owned, uint32_t base,
                         std::vector<uint32_t>& target) {
  const size_t m = target.size();
  while (true) {
    std::vector<uint64_t> total(pb.zone_count), extra(pb.zone_count), room(pb.zone_count);
    for (size_t i = 0; i < m; ++i) {
      total[pb.zone[i]] += target[i];
      (target[i] > base ? extra : room)[pb.zone[i]] += 1;
    }
    const size_t zmax = std::max_element(total.begin(), total.end()) - total.begin();
    if (total[zmax] * pb.w <= pb.q || extra[zmax] == 0) return;
    std::optional<size_t> zmin;
    for (size_t z = 0; z < pb.zone_count; ++z) {
      if (room[z] > 0 && (!zmin || total[z] < total[*zmin])) zmin = z;
    }
    if (!zmin || total[*zmin] + 1 >= total[zmax]) return;
    std::optional<size_t> give, take;
    for (size_t i = 0; i < m; ++i) {
      if (pb.zone[i] == zmax && target[i] > base && (!give || owned[i] <= owned[*give])) give = i;
      if (pb.zone[i] == *zmin && target[i] == base && (!take || owned[i] > owned[*take])) take = i;
    }
    --target[*give];
    ++target[*take];
  }
}

State initial_state(const Problem& pb) {
  const size_t m = pb.ids.size();
  State st;
  st.owner = pb.original;
  st.count.assign(m, 0);
  st.own.resize(m);
  for (uint32_t p = 0; p < pb.q; ++p) {
    if (st.owner[p] == kFree) continue;
    ++st.count[st.owner[p]];
    st.own[st.owner[p]].insert(p);
  }
  // Balanced targets; the ceil goes to the members owning most (least movement).
  const uint32_t base = pb.q / static_cast<uint32_t>(m);
  const uint32_t heavy = pb.q % static_cast<uint32_t>(m);  // q when m > q
  std::vector<uint32_t> order(m);
  for (uint32_t i = 0; i < m; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return st.count[a] > st.count[b]; });
  st.target.assign(m, base);
  for (uint32_t i = 0; i < heavy; ++i) ++st.target[order[i]];
  if (pb.zones_active) balance_zone_totals(pb, st.count, base, st.target);
  return st;
}

void assign(State& st, uint32_t p, int32_t to) {
  const int32_t from = st.owner[p];
  if (from != kFree) {
    --st.count[from];
    st.own[from].erase(p);
  }
  st.owner[p] = to;
  ++st.count[to];
  st.own[to].insert(p);
}

// How much closer than g the nearest partition of `own` is to p (0: far enough). A taker
// whose partitions are g = q / target apart can take all it needs without conflicts.
uint32_t spread_penalty(const std::set<uint32_t>& own, uint32_t p, uint32_t q, uint32_t g) {
  if (own.empty()) return 0;
  auto it = own.lower_bound(p);
  const uint32_t after = it == own.end() ? *own.begin() + q - p : *it - p;
  const uint32_t before = it == own.begin() ? p + q - *own.rbegin() : p - *std::prev(it);
  const uint32_t d = std::min(after, before);
  return d >= g ? 0 : g - d;
}

// Step 1: members over target give up their partitions in violation first (most conflicts
// first); the rest of their surplus is taken in step 3.
void release_conflicted(const Problem& pb, State& st) {
  for (size_t i = 0; i < pb.ids.size(); ++i) {
    while (st.count[i] > st.target[i]) {
      std::optional<uint32_t> worst;
      Cost worst_cost;
      for (uint32_t p : st.own[i]) {
        const Cost c = cost_at(pb, st.owner, p, static_cast<int32_t>(i));
        if (worst_cost < c) worst = p, worst_cost = c;
      }
      if (!worst) break;
      --st.count[i];
      st.own[i].erase(*worst);
      st.owner[*worst] = kFree;
    }
  }
}

// Step 2: every free partition (departed owner or released) goes to a member under target,
// the most constrained partitions first; a member that adds no conflict, wants most and
// keeps its partitions spread is preferred.
void fill_free(const Problem& pb, State& st) {
  const int32_t m = static_cast<int32_t>(pb.ids.size());
  std::vector<std::pair<uint32_t, uint32_t>> order;  // (clean takers, partition)
  for (uint32_t p = 0; p < pb.q; ++p) {
    if (st.owner[p] != kFree) continue;
    uint32_t clean = 0;
    for (int32_t t = 0; t < m; ++t) {
      clean += st.count[t] < st.target[t] && cost_at(pb, st.owner, p, t) == Cost{};
    }
    order.emplace_back(clean, p);
  }
  std::sort(order.begin(), order.end());
  for (const auto& [clean, p] : order) {
    std::optional<std::tuple<Cost, int64_t, uint32_t, int32_t>> best;
    for (int32_t t = 0; t < m; ++t) {
      if (st.count[t] >= st.target[t]) continue;
      const uint32_t g = pb.q / st.target[t];
      std::tuple key{cost_at(pb, st.owner, p, t), int64_t{st.count[t]} - st.target[t],
                     spread_penalty(st.own[t], p, pb.q, g), t};
      if (!best || key < *best) best = key;
    }
    QKV_ASSERT(best.has_value());  // the deficits sum to at least the free partitions
    assign(st, p, std::get<3>(*best));
  }
}

// Step 3: members still under target take partitions from members over target, largest
// deficit first. Like Riak's select_indices a taker walks the ring: from its last claim plus
// g = q / target it takes the first partition that adds no conflict and keeps it g from its
// other partitions; failing that, the least bad one anywhere.
void take_from_donors(const Problem& pb, State& st) {
  std::vector<int32_t> takers;
  for (size_t t = 0; t < pb.ids.size(); ++t) {
    if (st.count[t] < st.target[t]) takers.push_back(static_cast<int32_t>(t));
  }
  std::stable_sort(takers.begin(), takers.end(), [&](int32_t a, int32_t b) {
    return st.target[a] - st.count[a] > st.target[b] - st.count[b];
  });
  const int64_t gain_scale = 4 * int64_t{pb.w};
  for (int32_t t : takers) {
    std::optional<uint32_t> cursor;
    while (st.count[t] < st.target[t]) {
      const uint32_t g = pb.q / st.target[t];
      std::optional<std::tuple<Cost, uint32_t, uint32_t, int64_t, int64_t, uint32_t>> best;
      for (uint32_t i = 0; i < pb.q; ++i) {
        const uint32_t p = cursor ? (*cursor + i) & (pb.q - 1) : i;
        const int32_t o = st.owner[p];
        if (o == kFree || o == t || st.count[o] <= st.target[o]) continue;
        const Cost donor = cost_at(pb, st.owner, p, o);  // removed if p moves
        std::tuple key{cost_at(pb, st.owner, p, t),
                       spread_penalty(st.own[t], p, pb.q, g),
                       cursor ? i : 0,
                       -(donor.node * gain_scale + donor.zone),
                       int64_t{st.target[o]} - st.count[o],
                       p};
        if (!best || key < *best) best = key;
        // From the cursor, the first clean candidate is the best; past 4g + 64 partitions,
        // one clean of node conflicts and spread will do (bounds the scan).
        const bool fine = std::get<0>(*best).node == 0 && std::get<1>(*best) == 0;
        if (cursor && fine && (std::get<0>(*best) == Cost{} || i > 4 * g + 64)) break;
      }
      QKV_ASSERT(best.has_value());  // deficits left equal surpluses left
      const uint32_t p = std::get<5>(*best);
      assign(st, p, t);
      cursor = (p + g) & (pb.q - 1);
    }
  }
}

// Which conflicts a repair counts.
struct Measure {
  bool node = true;
  bool zone = true;
  int64_t scalar(const Problem& pb, Cost c) const {
    return (node ? int64_t{c.node} * 4 * pb.w : 0) + (zone ? c.zone : 0);
  }
};

// Swaps owners of two partitions (counts unchanged) while that lowers the conflicts
// `measure` counts, best swap per partition in violation. With `neutral`, a swap may not
// raise the number of partitions moved from pb.original: it involves a moved partition, or
// gives one back to its old owner. Bounded by `budget` evaluations.
void repair(const Problem& pb, std::vector<int32_t>& owner, Measure measure, bool neutral,
            uint64_t& budget) {
  const auto& orig = pb.original;
  for (int pass = 0; pass < kRepairPassesMax && budget > 0; ++pass) {
    std::vector<uint32_t> moved_now;                         // candidates of neutral swaps,
    std::vector<std::vector<uint32_t>> kept(pb.ids.size());  // rechecked when used
    for (uint32_t p = 0; p < pb.q; ++p) {
      (owner[p] != orig[p] ? moved_now : kept[owner[p]]).push_back(p);
    }
    bool improved = false;
    for (uint32_t p = 0; p < pb.q && budget > 0; ++p) {
      if (measure.scalar(pb, cost_at(pb, owner, p, owner[p])) == 0) continue;
      std::optional<std::tuple<int64_t, int, uint32_t>> best;  // (delta, movement, x)
      const auto consider = [&](uint32_t x) {
        const int before = (owner[p] != orig[p]) + (owner[x] != orig[x]);
        const int after = (owner[x] != orig[p]) + (owner[p] != orig[x]);
        if (owner[x] == owner[p] || (neutral && after > before) || budget == 0) return;
        --budget;
        const auto local = [&] {
          return measure.scalar(pb,
                                cost_at(pb, owner, p, owner[p]) + cost_at(pb, owner, x, owner[x]));
        };
        const int64_t old_cost = local();
        std::swap(owner[p], owner[x]);
        const int64_t delta = local() - old_cost;  // pairs touching p or x: the whole change
        std::swap(owner[p], owner[x]);
        std::tuple key{delta, after - before, x};
        if (delta < 0 && (!best || key < *best)) best = key;
      };
      if (!neutral) {
        for (uint32_t x = 0; x < pb.q; ++x) consider(x);
      } else {
        for (uint32_t x : moved_now) consider(x);
        if (orig[p] != kFree && owner[p] != orig[p]) {
          for (uint32_t x : kept[orig[p]]) consider(x);
        }
      }
      if (!best) continue;
      std::swap(owner[p], owner[std::get<2>(*best)]);
      improved = true;
    }
    if (!improved) return;
  }
}

uint32_t moved(const Problem& pb, const std::vector<int32_t>& owner) {
  uint32_t n = 0;
  for (uint32_t p = 0; p < pb.q; ++p) n += owner[p] != pb.original[p];
  return n;
}

// The first n distinct owners walking clockwise from p (Ring::preference_list primaries).
std::vector<NodeId> primaries(const std::vector<NodeId>& owners, uint32_t p, uint32_t n) {
  std::vector<NodeId> result;
  const size_t q = owners.size();
  for (size_t i = 0; i < q && result.size() < n; ++i) {
    const NodeId& o = owners[(p + i) & (q - 1)];
    if (std::find(result.begin(), result.end(), o) == result.end()) result.push_back(o);
  }
  return result;
}

}  // namespace

Result<std::vector<NodeId>> claim(const std::vector<NodeId>& current,
                                  const std::vector<ClaimMember>& members, uint32_t n) {
  QKV_RETURN_IF_ERROR(validate_claim_args(current, members, n));
  const Problem pb = make_problem(current, members, n);
  State st = initial_state(pb);
  const uint64_t max_target = *std::max_element(st.target.begin(), st.target.end());
  const Measure must{max_target * pb.w <= pb.q,
                     max_zone_total(pb, st.target) * pb.w <= pb.q && pb.zones_active};
  const bool unchanged =  // nobody joins or leaves
      std::count(pb.original.begin(), pb.original.end(), kFree) == 0 &&
      std::all_of(st.own.begin(), st.own.end(), [](const auto& own) { return !own.empty(); });
  release_conflicted(pb, st);
  fill_free(pb, st);
  take_from_donors(pb, st);
  uint64_t budget = kSwapEvaluationsMax;
  repair(pb, st.owner, Measure{}, /*neutral=*/true, budget);
  std::vector<int32_t> best = st.owner;
  // Zones that cannot all be clean, on a rebalance of an unchanged member set (e.g. zones just
  // set): a spacing-clean re-striping alternating zones sets the bar. A join or leave never
  // pays extra movement for zone violations it cannot remove.
  const auto striped = [&] {  // hierarchical, or flat where that one breaks spacing
    std::vector<int32_t> owner = restripe(pb, st.target, /*flat=*/false, must.zone);
    if (must.node && energy(pb, owner).node > 0) owner = restripe(pb, st.target, true, false);
    return owner;
  };
  std::optional<std::vector<int32_t>> fallback;
  uint64_t zone_bar = UINT64_MAX;
  if (pb.zones_active && !must.zone && must.node && unchanged) {
    fallback = striped();
    zone_bar = 2 * uint64_t{energy(pb, *fallback).zone} + 4 * uint64_t{pb.w};
  }
  const auto good = [&](const std::vector<int32_t>& owner) {
    const Cost c = energy(pb, owner);
    return must.scalar(pb, c) == 0 && c.zone <= zone_bar;
  };
  if (!good(best)) {
    // Violations that can be removed are left: try swaps, then re-stripe; least movement wins.
    std::vector<int32_t> swapped = best;
    repair(pb, swapped, Measure{must.node, pb.zones_active}, /*neutral=*/false, budget);
    best = fallback ? *fallback : striped();
    QKV_ASSERT(good(best));
    if (good(swapped) && moved(pb, swapped) <= moved(pb, best)) best = std::move(swapped);
  }
  std::vector<NodeId> result;
  result.reserve(pb.q);
  for (int32_t o : best) result.push_back(pb.ids[o]);
  return result;
}

Result<std::vector<NodeId>> claim_replace(const std::vector<NodeId>& current, const NodeId& from,
                                          const NodeId& to) {
  QKV_RETURN_IF_ERROR(validate_size("claim_replace", current.size()));
  Status s = validate_node_id(to);
  if (!s.is_ok()) return Status::invalid_argument("claim_replace: " + s.message());
  const auto from_count = std::count(current.begin(), current.end(), from);
  const auto to_count = std::count(current.begin(), current.end(), to);
  if (from_count == 0) {
    return Status::invalid_argument(
        fmt::format("claim_replace: '{}' owns no partition of the current ring", from));
  }
  if (to_count > 0) {
    return Status::invalid_argument(fmt::format(
        "claim_replace: '{}' already owns {} partitions; it must own none", to, to_count));
  }
  std::vector<NodeId> next = current;
  std::replace(next.begin(), next.end(), from, to);
  return next;
}

std::vector<Transfer> plan_transfers(const Ring& current, const Ring& next, uint32_t n) {
  QKV_ASSERT(current.partition_count() == next.partition_count());
  std::vector<Transfer> transfers;
  for (uint32_t p = 0; p < current.partition_count(); ++p) {
    const std::vector<NodeId> before = primaries(current.owners(), p, n);
    std::vector<NodeId> after = primaries(next.owners(), p, n);
    const auto in = [](const std::vector<NodeId>& v, const NodeId& x) {
      return std::find(v.begin(), v.end(), x) != v.end();
    };
    auto source =
        std::find_if(before.begin(), before.end(), [&](const NodeId& x) { return !in(after, x); });
    if (source == before.end()) source = before.begin();
    std::sort(after.begin(), after.end());
    for (const NodeId& to : after) {
      if (!in(before, to)) transfers.push_back({p, *source, to});  // before is empty iff n == 0
    }
  }
  return transfers;
}

ClaimQuality claim_quality(const std::vector<NodeId>& current, const std::vector<NodeId>& next,
                           const std::vector<ClaimMember>& members, uint32_t n) {
  QKV_ASSERT(current.size() == next.size() && std::has_single_bit(next.size()));
  const uint32_t q = static_cast<uint32_t>(next.size());
  ClaimQuality quality;
  std::map<NodeId, uint32_t> owned;
  std::map<NodeId, std::string> zone_of;  // effective zone; "\0" + id when none
  for (const ClaimMember& member : members) {
    owned[member.id] = 0;
    zone_of[member.id] = member.zone.empty() ? std::string(1, '\0') + member.id : member.zone;
  }
  for (uint32_t p = 0; p < q; ++p) {
    quality.moved += current[p] != next[p];
    ++owned[next[p]];
    zone_of.emplace(next[p], std::string(1, '\0') + next[p]);
  }
  uint32_t most = 0;
  for (const ClaimMember& member : members) most = std::max(most, owned[member.id]);
  if (!members.empty()) quality.balance = most / (double(q) / double(members.size()));
  std::set<std::string> zones;
  for (const NodeId& owner : next) zones.insert(zone_of[owner]);
  const size_t zones_wanted = std::min<size_t>(n, zones.size());
  const uint32_t w = std::min(n, q);
  for (uint32_t p = 0; p < q; ++p) {
    const std::vector<NodeId> prim = primaries(next, p, n);
    if (members.size() >= n) {
      bool distinct = prim.size() >= w;
      for (uint32_t d = 0; distinct && d < w; ++d) distinct = next[(p + d) & (q - 1)] == prim[d];
      quality.spacing_violations += !distinct;
    }
    std::set<std::string> spanned;
    for (const NodeId& x : prim) spanned.insert(zone_of[x]);
    quality.zone_violations += spanned.size() < zones_wanted;
  }
  return quality;
}

}  // namespace qkv::ring
