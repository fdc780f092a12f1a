// claim(), claim_replace(), plan_transfers(): rebalancing a ring as members join, leave and
// are replaced, with and without zones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ring/claim.h"
#include "ring/ring.h"
#include "tests/common/test_seed.h"

namespace qkv::ring {
namespace {

// prefix + i, built without operator+(const char*, std::string&&) (a GCC 12 -Wrestrict
// false positive).
std::string name(const char* prefix, uint64_t i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

std::vector<ClaimMember> make_members(uint32_t m, uint32_t zones) {
  std::vector<ClaimMember> members;
  for (uint32_t i = 0; i < m; ++i) {
    members.push_back({name("n", i), zones == 0 ? "" : name("z", i % zones)});
  }
  return members;
}

std::vector<NodeId> ids_of(const std::vector<ClaimMember>& members) {
  std::vector<NodeId> ids;
  for (const ClaimMember& member : members) ids.push_back(member.id);
  return ids;
}

std::vector<NodeId> fresh_ring(const std::vector<ClaimMember>& members, uint32_t q, uint32_t n) {
  Result<Ring> ring = Ring::claim(ids_of(members), q, n);
  QKV_ASSERT(ring.is_ok());
  return ring->owners();
}

std::vector<NodeId> claim_ok(const std::vector<NodeId>& current,
                             const std::vector<ClaimMember>& members, uint32_t n) {
  Result<std::vector<NodeId>> next = claim(current, members, n);
  QKV_ASSERT(next.is_ok());
  return std::move(next).value();
}

// The rule of ring.h: spacing is possible exactly when q <= m or ceil(q/m) * n <= q.
bool spacing_feasible(uint64_t q, uint64_t m, uint64_t n) {
  return q <= m || (q + m - 1) / m * n <= q;
}

// Sufficient (and, for the positional rule, necessary) condition for a zone-clean ring: zones
// set, at least w = min(n, q) of them, and the balanced ownership can be split so that no
// zone owns more than q / w partitions. The split is found by water-filling: each member owns
// floor(q/m); the q % m extra partitions go one by one to the zone with the smallest total
// that still has a member without one. A zone of T partitions needs T gaps of at least w.
bool zones_feasible(const std::vector<ClaimMember>& members, uint64_t q, uint64_t n) {
  std::map<std::string, uint64_t> size;  // effective zones: a zoneless member is its own
  bool any = false;
  for (const ClaimMember& member : members) {
    any = any || !member.zone.empty();
    ++size[member.zone.empty() ? std::string("\x01").append(member.id) : member.zone];
  }
  const uint64_t w = std::min(q, n), m = members.size();
  if (!any || size.size() < w) return false;
  std::map<std::string, uint64_t> total, extra;
  for (const auto& [zone, count] : size) total[zone] = count * (q / m);
  for (uint64_t e = 0; e < q % m; ++e) {
    std::string pick;
    for (const auto& [zone, count] : size) {
      if (extra[zone] < count && (pick.empty() || total[zone] < total[pick])) pick = zone;
    }
    ++total[pick], ++extra[pick];
  }
  uint64_t largest = 0;
  for (const auto& [zone, t] : total) largest = std::max(largest, t);
  return largest * w <= q;
}

// The contract of plan_transfers, checked against preference lists computed by Ring.
void expect_transfers_exact(const std::string& where, const std::vector<NodeId>& current,
                            const std::vector<NodeId>& next, uint32_t n) {
  const Ring before(current), after(next);
  const std::vector<Transfer> transfers = plan_transfers(before, after, n);
  std::map<uint32_t, std::vector<Transfer>> by_partition;
  for (size_t i = 0; i < transfers.size(); ++i) {
    if (i > 0) {
      const Transfer& prev = transfers[i - 1];
      ASSERT_TRUE(prev.partition < transfers[i].partition ||
                  (prev.partition == transfers[i].partition && prev.to < transfers[i].to))
          << where << ": not ordered by partition then to";
    }
    by_partition[transfers[i].partition].push_back(transfers[i]);
  }
  for (uint32_t p = 0; p < before.partition_count(); ++p) {
    const PreferenceList was = before.preference_list(before.first_token(p), n);
    const PreferenceList now = after.preference_list(after.first_token(p), n);
    std::set<NodeId> gained;  // exactly the new primaries
    for (const NodeId& node : now.primaries) {
      if (!was.is_primary(node)) gained.insert(node);
    }
    std::set<NodeId> to;
    for (const Transfer& t : by_partition[p]) {
      EXPECT_TRUE(now.is_primary(t.to) && !was.is_primary(t.to)) << where << " p=" << p;
      EXPECT_TRUE(was.is_primary(t.from)) << where << " p=" << p;
      if (std::any_of(was.primaries.begin(), was.primaries.end(),
                      [&](const NodeId& x) { return !now.is_primary(x); })) {
        EXPECT_FALSE(now.is_primary(t.from)) << where << " p=" << p << ": a leaving source";
      }
      to.insert(t.to);
    }
    EXPECT_EQ(to, gained) << where << " p=" << p;
    EXPECT_EQ(by_partition[p].size(), gained.size()) << where << " p=" << p;
  }
}

// Every invariant claim promises for `next`, computed from `current` for `members`.
void expect_claim_invariants(const std::string& where, const std::vector<NodeId>& current,
                             const std::vector<NodeId>& next,
                             const std::vector<ClaimMember>& members, uint32_t n) {
  const uint64_t q = next.size(), m = members.size();
  ASSERT_EQ(current.size(), q) << where;
  std::map<NodeId, uint64_t> owned;
  for (const ClaimMember& member : members) owned[member.id] = 0;
  for (const NodeId& owner : next) {
    ASSERT_TRUE(owned.count(owner)) << where << ": " << owner << " is not a member";
    ++owned[owner];
  }
  const uint64_t floor = q / m, ceil = (q + m - 1) / m;
  uint64_t most = 0;
  for (const auto& [id, count] : owned) {
    ASSERT_TRUE(count == floor || count == ceil) << where << ": " << id << " owns " << count;
    most = std::max(most, count);
  }
  const ClaimQuality quality = claim_quality(current, next, members, n);
  if (m <= q) {
    // Acceptance: max/mean <= 1.05 whenever rounding allows it; otherwise max == ceil(q/m).
    if (double(ceil) / (double(q) / m) <= 1.05) {
      EXPECT_LE(quality.balance, 1.05) << where;
    }
    EXPECT_EQ(most, ceil) << where;
  }
  if (m >= n && spacing_feasible(q, m, n)) {
    EXPECT_EQ(quality.spacing_violations, 0u) << where;
  }
  if (zones_feasible(members, q, n)) {
    EXPECT_EQ(quality.zone_violations, 0u) << where;
  }
}

TEST(RebalanceTest, RandomJoinsLeavesAndReplaces) {
  const uint64_t seed = qkv::testing::test_seed();
  std::mt19937_64 rng(seed);
  const auto pick = [&](uint64_t lo, uint64_t hi) {  // uniform in [lo, hi]
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  uint32_t next_id = 1000;
  int steps = 0;
  for (int cluster = 0; cluster < 150; ++cluster) {
    const uint32_t q = std::vector<uint32_t>{64, 256, 1024}[pick(0, 2)];
    const uint32_t n = std::vector<uint32_t>{1, 2, 3, 5}[pick(0, 3)];
    const uint32_t zones = pick(0, 1) == 0 ? 0 : static_cast<uint32_t>(pick(2, 6));
    std::vector<ClaimMember> members = make_members(static_cast<uint32_t>(pick(1, 64)), zones);
    const std::vector<NodeId> fresh = fresh_ring(members, q, n);
    std::vector<NodeId> ring = claim_ok(fresh, members, n);  // adopt zones
    expect_claim_invariants("adopt zones, cluster " + std::to_string(cluster), fresh, ring, members,
                            n);
    for (int step = 0; step < 6; ++step, ++steps) {
      std::ostringstream where;
      where << "seed=" << seed << " cluster=" << cluster << " step=" << step << " q=" << q
            << " n=" << n << " zones=" << zones << " m=" << members.size();
      const uint64_t op = pick(0, 2);
      if (op == 2 && !members.empty()) {  // replace one member by a new node, same zone
        ClaimMember& old = members[pick(0, members.size() - 1)];
        const NodeId to = name("r", next_id++);
        Result<std::vector<NodeId>> replaced = claim_replace(ring, old.id, to);
        ASSERT_TRUE(replaced.is_ok()) << where.str() << " " << replaced.status().to_string();
        for (size_t p = 0; p < q; ++p) {
          ASSERT_EQ((*replaced)[p], ring[p] == old.id ? to : ring[p]) << where.str();
        }
        const ClaimQuality before = claim_quality(ring, ring, members, n);
        const auto old_owned = std::count(ring.begin(), ring.end(), old.id);
        old.id = to;
        const ClaimQuality after = claim_quality(ring, *replaced, members, n);
        EXPECT_EQ(after.moved, old_owned) << where.str();  // exactly the old node's partitions
        EXPECT_EQ(after.spacing_violations, before.spacing_violations) << where.str();
        EXPECT_EQ(after.zone_violations, before.zone_violations) << where.str();
        ring = std::move(replaced).value();
        continue;
      }
      if (op == 0 || members.size() <= 1) {  // join 1..3 nodes
        for (uint64_t j = pick(1, 3); j > 0 && members.size() < 64; --j) {
          members.push_back(
              {name("j", next_id++), zones == 0 ? "" : name("z", pick(0, zones - 1))});
        }
      } else {  // leave 1..3 nodes, keeping one
        for (uint64_t j = pick(1, 3); j > 0 && members.size() > 1; --j) {
          members.erase(members.begin() + static_cast<long>(pick(0, members.size() - 1)));
        }
      }
      const std::vector<NodeId> next = claim_ok(ring, members, n);
      expect_claim_invariants(where.str(), ring, next, members, n);
      expect_transfers_exact(where.str(), ring, next, n);
      if (::testing::Test::HasFailure()) return;
      ring = next;
    }
  }
  EXPECT_GE(steps, 900);
}

// Acceptance: adding the (k+1)th node to a k-node ring moves at least the new node's share
// floor(Q/(k+1)) and at most 10% more than the ideal fraction 1/(k+1), without zones and
// with 3 zones (whose k-node ring is first rebalanced for its zones by claim itself).
TEST(RebalanceTest, AddingANodeMovesTheIdealFraction) {
  constexpr uint32_t q = 256, n = 3;
  std::ostringstream table;
  table << "  k   ideal  no zones   3 zones  (moved fraction; zone violations after)\n";
  for (uint32_t k = 3; k <= 32; ++k) {
    table << std::setw(3) << k << std::fixed << std::setprecision(4) << std::setw(8)
          << 1.0 / (k + 1);
    for (uint32_t zones : {0u, 3u}) {
      const std::vector<ClaimMember> before = make_members(k, zones);
      const std::vector<ClaimMember> after = make_members(k + 1, zones);
      const std::vector<NodeId> ring = claim_ok(fresh_ring(before, q, n), before, n);
      const std::vector<NodeId> next = claim_ok(ring, after, n);
      const std::string where = "k=" + std::to_string(k) + " zones=" + std::to_string(zones);
      expect_claim_invariants(where, ring, next, after, n);
      const ClaimQuality quality = claim_quality(ring, next, after, n);
      EXPECT_GE(quality.moved, q / (k + 1)) << where;
      EXPECT_LE(double(quality.moved) / q, 1.1 / (k + 1)) << where;
      table << std::setw(10) << double(quality.moved) / q;
      if (zones > 0) table << " (" << quality.zone_violations << ")";
    }
    table << "\n";
  }
  std::cout << table.str();
  RecordProperty("moved_fraction_table", table.str());
}

// Acceptance: max/mean ownership <= 1.05 wherever rounding allows (m <= Q/8 and
// ceil(Q/m)/(Q/m) <= 1.05), otherwise max == ceil(Q/m); also after leaves.
TEST(RebalanceTest, BalancedAfterJoinsAndLeaves) {
  int within_five_percent = 0;
  for (uint32_t q : {64u, 256u, 1024u}) {
    for (uint32_t m = 2; m <= 64; ++m) {
      const std::vector<ClaimMember> small = make_members(m - 1, 0), large = make_members(m, 0);
      const std::vector<NodeId> joined = claim_ok(fresh_ring(small, q, 3), large, 3);
      const std::vector<NodeId> left = claim_ok(fresh_ring(large, q, 3), small, 3);
      const std::string where = "q=" + std::to_string(q) + " m=" + std::to_string(m);
      expect_claim_invariants(where + " join", fresh_ring(small, q, 3), joined, large, 3);
      expect_claim_invariants(where + " leave", fresh_ring(large, q, 3), left, small, 3);
      const double ceil_over_mean = double((q + m - 1) / m) / (double(q) / m);
      if (m <= q / 8 && ceil_over_mean <= 1.05) {
        ++within_five_percent;
        EXPECT_LE(claim_quality(joined, joined, large, 3).balance, 1.05) << where;
      }
    }
  }
  EXPECT_GT(within_five_percent, 60);
}

// Realistic zone layouts: equal zones, n=3, Q=256, clusters grown a zone's worth at a time.
// With 4..6 zones a zone-clean ring exists and claim reaches it. With exactly 3 zones it
// cannot: a spaced ring puts the 3 primaries of p on p, p+1, p+2, so every 3 consecutive
// owners would span the 3 zones, forcing zone(p+3) == zone(p): period 3, but 3 does not
// divide 256. claim keeps that to a handful of partitions.
TEST(RebalanceTest, ZonesOnEqualSizedZones) {
  constexpr uint32_t q = 256, n = 3;
  for (uint32_t zones = 3; zones <= 6; ++zones) {
    std::vector<NodeId> ring = fresh_ring(make_members(zones, zones), q, n);
    for (uint32_t m = zones; m <= 48; m += zones) {
      const std::vector<ClaimMember> members = make_members(m, zones);
      const std::vector<NodeId> next = claim_ok(ring, members, n);
      const std::string where = "zones=" + std::to_string(zones) + " m=" + std::to_string(m);
      expect_claim_invariants(where, ring, next, members, n);
      const ClaimQuality quality = claim_quality(ring, next, members, n);
      EXPECT_EQ(zones_feasible(members, q, n), zones > 3) << where;
      if (zones == 3 && quality.spacing_violations == 0) {
        EXPECT_GE(quality.zone_violations, 1u) << where;  // the proof above
        EXPECT_LE(quality.zone_violations, 8u) << where;
      }
      EXPECT_EQ(claim_ok(next, members, n), next) << where;  // stable: nothing left to fix
      ring = next;
    }
  }
}

TEST(RebalanceTest, ZonesMadeCleanWhenTheyAreSetOnAnExistingRing) {
  // A ring claimed without zones; zones are then configured (same members): claim moves
  // what it must to spread every preference list over 3 of the 4 zones.
  const std::vector<ClaimMember> members = make_members(16, 4);
  const std::vector<NodeId> ring = fresh_ring(members, 256, 3);
  EXPECT_GT(claim_quality(ring, ring, members, 3).zone_violations, 0u);
  const std::vector<NodeId> next = claim_ok(ring, members, 3);
  expect_claim_invariants("zones set", ring, next, members, 3);
  EXPECT_EQ(claim_quality(ring, next, members, 3).zone_violations, 0u);
}

// A leaver's partitions go to the others; its neighbours within n-1 partitions cannot take
// them without breaking spacing, so each of those 2(n-1) nodes gains its share by taking a
// partition from another node instead: one extra move per partition it gains.
TEST(RebalanceTest, LeavingMovesTheLeaversPartitionsAndLittleElse) {
  constexpr uint32_t q = 256, n = 3, m = 16;
  const std::vector<ClaimMember> all = make_members(m, 0);
  const std::vector<NodeId> ring = fresh_ring(all, q, n);
  const std::vector<ClaimMember> rest(all.begin() + 1, all.end());  // n0 leaves
  const std::vector<NodeId> next = claim_ok(ring, rest, n);
  expect_claim_invariants("leave", ring, next, rest, n);
  const uint32_t freed = q / m, share = (freed + m - 2) / (m - 1);
  const uint32_t moved = claim_quality(ring, next, rest, n).moved;
  EXPECT_GE(moved, freed);
  EXPECT_LE(moved, freed + 2 * (n - 1) * share);
}

TEST(RebalanceTest, ClaimFromNothing) {
  // Empty (non-member) owners are simply reassigned.
  const std::vector<ClaimMember> members = make_members(5, 0);
  const std::vector<NodeId> empty(64, "");
  expect_claim_invariants("from nothing", empty, claim_ok(empty, members, 3), members, 3);
}

TEST(RebalanceTest, SameResultForAnyMemberOrder) {
  const uint64_t seed = qkv::testing::test_seed();
  std::mt19937_64 rng(seed);
  std::vector<ClaimMember> members = make_members(11, 3);
  const std::vector<NodeId> ring = fresh_ring(make_members(9, 3), 256, 3);
  const std::vector<NodeId> expected = claim_ok(ring, members, 3);
  for (int trial = 0; trial < 10; ++trial) {
    std::shuffle(members.begin(), members.end(), rng);
    ASSERT_EQ(claim_ok(ring, members, 3), expected) << "seed=" << seed;
  }
}

TEST(RebalanceTest, ReplaceMovesExactlyTheOldNodesPartitions) {
  const std::vector<NodeId> ring = fresh_ring(make_members(5, 0), 64, 3);
  Result<std::vector<NodeId>> next = claim_replace(ring, "n2", "fresh");
  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  for (size_t p = 0; p < ring.size(); ++p) {
    EXPECT_EQ((*next)[p], ring[p] == "n2" ? NodeId("fresh") : ring[p]) << p;
  }
  const auto expect_error = [&](const NodeId& from, const NodeId& to, const std::string& part) {
    Result<std::vector<NodeId>> r = claim_replace(ring, from, to);
    ASSERT_FALSE(r.is_ok()) << part;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().to_string();
  };
  expect_error("ghost", "fresh", "'ghost' owns no partition");
  expect_error("n2", "n3", "'n3' already owns 13 partitions");
  expect_error("n2", "bad id", "node id 'bad id'");
  EXPECT_FALSE(claim_replace(std::vector<NodeId>(3, "n0"), "n0", "x").is_ok());
}

TEST(RebalanceTest, RejectsBadArguments) {
  const std::vector<NodeId> ring(8, "a");
  const auto expect_error = [](const std::vector<NodeId>& current,
                               const std::vector<ClaimMember>& members, uint32_t n,
                               const std::string& part) {
    Result<std::vector<NodeId>> r = claim(current, members, n);
    ASSERT_FALSE(r.is_ok()) << part;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().to_string();
  };
  expect_error(ring, {}, 3, "member set is empty");
  expect_error(ring, {{"a", ""}, {"b", "z"}, {"a", "z"}}, 3, "member 'a' is listed twice");
  expect_error(ring, {{"a", ""}, {"b c", ""}}, 3, "node id 'b c'");
  expect_error(ring, {{"", ""}}, 3, "node id is empty");
  expect_error(ring, {{"a", ""}}, 0, "replication factor n is 0");
  expect_error({}, {{"a", ""}}, 3, "has 0 partitions; it must be a power of two in [1, 65536]");
  expect_error(std::vector<NodeId>(12, "a"), {{"a", ""}}, 3, "has 12 partitions");
}

// Hand-checked: Q=8, n=2, a b c a b c a b (Ring::claim of a, b, c) and d joins. d's share is
// 2 partitions; claim takes p0 from a and p4 from b (each then owns 2, as does c), and every
// neighbour pair stays distinct (n=2 spacing).
//   current primaries: p0 ab  p1 bc  p2 ca  p3 ab  p4 bc  p5 ca  p6 ab  p7 ba
//   next d b c a d c a b:
//                      p0 db  p1 bc  p2 ca  p3 ad  p4 dc  p5 ca  p6 ab  p7 bd
// so d gains p0 (a leaves), p3 (b leaves), p4 (b leaves) and p7 (a leaves).
TEST(RebalanceTest, PlanTransfersHandChecked) {
  const std::vector<NodeId> current = fresh_ring({{"a", ""}, {"b", ""}, {"c", ""}}, 8, 2);
  ASSERT_EQ(current, (std::vector<NodeId>{"a", "b", "c", "a", "b", "c", "a", "b"}));
  const std::vector<NodeId> next =
      claim_ok(current, {{"a", ""}, {"b", ""}, {"c", ""}, {"d", ""}}, 2);
  EXPECT_EQ(next, (std::vector<NodeId>{"d", "b", "c", "a", "d", "c", "a", "b"}));
  EXPECT_EQ(plan_transfers(Ring(current), Ring(next), 2),
            (std::vector<Transfer>{{0, "a", "d"}, {3, "b", "d"}, {4, "b", "d"}, {7, "a", "d"}}));
  expect_transfers_exact("hand", current, next, 2);
  // No primary leaves (one member grows to two): the source is the first current primary.
  EXPECT_EQ(plan_transfers(Ring({"a", "a", "a", "a"}), Ring({"a", "b", "a", "b"}), 2),
            (std::vector<Transfer>{{0, "a", "b"}, {1, "a", "b"}, {2, "a", "b"}, {3, "a", "b"}}));
  EXPECT_TRUE(plan_transfers(Ring(next), Ring(next), 2).empty());
}

}  // namespace
}  // namespace qkv::ring
