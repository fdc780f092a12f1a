// The fallback of claim (ring/claim.h, Movement step 2): the ring re-striped so that
// spacing, and zones where they can hold, are clean by construction (Riak's diagonal
// re-striping), then relabelled to keep as many partitions in place as it can.
#include "ring/claim_internal.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

namespace qkv::ring::claim_internal {
namespace {

constexpr uint64_t kRotationPositionsMax = 1u << 21;  // bounds each re-striping (claim.h, Cost)

// Re-striping (the fallback). Groups are zones (zone-level spread) or members. With groups
// in rank order by count, largest first, item j of the concatenated groups goes to row
// j % k, column j / k, rows laid end to end (k = the largest count). Two items of a group
// are then at least floor(q / k) apart: consecutive items sit in consecutive rows (same
// column, or the next column after the last row), and a group of k items starts at row 0.
// So the spread is clean whenever k * w <= q. Rotating the layout or exchanging groups of
// equal count keeps that, which lets it be relabelled to keep partitions in place.
std::vector<uint32_t> row_layout(const std::vector<uint32_t>& counts, uint32_t q) {
  const uint32_t k = counts.front();
  std::vector<uint32_t> row_start(k, 0);  // row r holds ceil((q - r) / k) items
  for (uint32_t r = 1; r < k; ++r) row_start[r] = row_start[r - 1] + (q - (r - 1) + k - 1) / k;
  std::vector<uint32_t> rank(q);
  uint32_t j = 0;
  for (uint32_t g = 0; g < counts.size(); ++g) {
    for (uint32_t c = 0; c < counts[g]; ++c, ++j) rank[row_start[j % k] + j / k] = g;
  }
  return rank;
}

// Labels (zones or members) in rank order: count descending; within a count, members are
// taken from the zone with most left, ties to the zone after the last one taken, so that
// neighbouring owners differ in zone.
std::vector<uint32_t> rank_labels(const Problem& pb, const std::vector<uint32_t>& count,
                                  bool by_zone) {
  std::map<uint32_t, std::map<uint32_t, std::vector<uint32_t>>, std::greater<>> buckets;
  for (uint32_t l = 0; l < count.size(); ++l) {
    if (count[l] > 0) buckets[count[l]][by_zone ? 0 : pb.zone[l]].push_back(l);
  }
  std::vector<uint32_t> labels;
  const uint32_t zc = pb.zone_count;
  uint32_t last = zc - 1;
  for (auto& [c, zones] : buckets) {
    for (auto& [z, list] : zones) std::reverse(list.begin(), list.end());
    while (true) {
      std::vector<uint32_t>* from = nullptr;
      std::pair<size_t, uint32_t> best{0, 0};  // (left, nearness after `last`)
      for (auto& [z, list] : zones) {
        const std::pair<size_t, uint32_t> key{list.size(), zc - 1 - (z + zc - last - 1) % zc};
        if (!list.empty() && (!from || key > best)) from = &list, best = key;
      }
      if (!from) break;
      labels.push_back(from->back());
      last = by_zone ? zc - 1 : pb.zone[from->back()];
      from->pop_back();
    }
  }
  return labels;
}

// One level of re-striping: slot i (a ring position, in ring order) of `was.size()` slots
// gets a label; `labels` (rank order, count descending) each take count[l] slots (summing to
// the slots) by row_layout. The layout is then rotated and labels of equal count and class
// exchanged (greedily, by overlap) to keep as many slots as possible with the label they had
// in `was` (kFree: none).
std::vector<uint32_t> stripe(const std::vector<uint32_t>& labels,
                             const std::vector<uint32_t>& count, const std::vector<uint32_t>& cls,
                             const std::vector<int32_t>& was) {
  const uint32_t s = static_cast<uint32_t>(was.size());
  std::vector<uint32_t> counts;
  for (uint32_t l : labels) counts.push_back(count[l]);
  const std::vector<uint32_t> rank = row_layout(counts, s);
  const uint64_t rotations = std::min<uint64_t>(
      {s, std::max<uint64_t>(2 * (s / counts.front()), 8), kRotationPositionsMax / s + 1});
  const auto same = [&](uint32_t a, uint32_t b) {
    return count[a] == count[b] && cls[a] == cls[b];
  };
  std::vector<uint32_t> best = labels;
  uint32_t best_rotation = 0;
  int64_t best_score = -1;
  for (uint32_t r = 0; r < rotations; ++r) {
    std::vector<uint64_t> hits;  // (rank << 32 | label) per slot that could keep its label
    for (uint32_t i = 0; i < s; ++i) {
      const int32_t l = was[(i + r) % s];
      if (l != kFree && same(l, labels[rank[i]])) hits.push_back(uint64_t{rank[i]} << 32 | l);
    }
    std::sort(hits.begin(), hits.end());
    std::vector<std::tuple<int64_t, uint32_t, uint32_t>> pairs;  // (-overlap, rank, label)
    for (size_t i = 0, j = 0; i < hits.size(); i = j) {
      while (j < hits.size() && hits[j] == hits[i]) ++j;
      pairs.emplace_back(-static_cast<int64_t>(j - i), hits[i] >> 32, hits[i] & 0xffffffffu);
    }
    std::sort(pairs.begin(), pairs.end());
    std::vector<int64_t> chosen(labels.size(), -1);
    std::vector<bool> used(count.size(), false);
    int64_t score = 0;
    for (const auto& [negative, g, l] : pairs) {
      if (chosen[g] >= 0 || used[l]) continue;
      chosen[g] = l, used[l] = true, score -= negative;
    }
    if (score <= best_score) continue;
    best_score = score, best_rotation = r;
    std::map<std::pair<uint32_t, uint32_t>, std::vector<uint32_t>> spare;  // (count, class)
    for (auto l = labels.rbegin(); l != labels.rend(); ++l) {
      if (!used[*l]) spare[{count[*l], cls[*l]}].push_back(*l);
    }
    for (uint32_t g = 0; g < labels.size(); ++g) {  // unmatched ranks: unused labels alike
      if (chosen[g] >= 0) continue;
      auto& list = spare[{count[labels[g]], cls[labels[g]]}];
      chosen[g] = list.back();
      list.pop_back();
    }
    best.assign(chosen.begin(), chosen.end());
  }
  std::vector<uint32_t> out(s);
  for (uint32_t i = 0; i < s; ++i) out[(i + best_rotation) % s] = best[rank[i]];
  return out;
}

// Members into zone-clean zone slots: any order keeps spacing, so keep current owners first.
std::vector<int32_t> fill_zones(const Problem& pb, std::vector<uint32_t> left,
                                std::vector<std::vector<uint32_t>> slots) {
  std::vector<int32_t> owner(pb.q, kFree);
  for (auto& list : slots) {
    std::erase_if(list, [&](uint32_t p) {
      const int32_t o = pb.original[p];
      const bool keep = o != kFree && left[o] > 0 && &slots[pb.zone[o]] == &list;
      if (keep) --left[o], owner[p] = o;
      return keep;
    });
  }
  for (size_t i = 0; i < left.size(); ++i) {
    for (; left[i] > 0; --left[i]) {
      owner[slots[pb.zone[i]].back()] = static_cast<int32_t>(i);
      slots[pb.zone[i]].pop_back();
    }
  }
  return owner;
}

}  // namespace

std::vector<int32_t> restripe(const Problem& pb, const std::vector<uint32_t>& target, bool flat,
                              bool zone_clean) {
  const std::vector<uint32_t> none(std::max<size_t>(pb.ids.size(), pb.zone_count), 0);
  std::vector<int32_t> owner(pb.q);
  if (flat) {
    const std::vector<uint32_t>& cls = pb.zones_active ? pb.zone : none;
    const auto out = stripe(rank_labels(pb, target, false), target, cls, pb.original);
    std::copy(out.begin(), out.end(), owner.begin());
    return owner;
  }
  std::vector<uint32_t> total(pb.zone_count, 0);
  for (size_t i = 0; i < target.size(); ++i) total[pb.zone[i]] += target[i];
  std::vector<int32_t> was(pb.q);
  for (uint32_t p = 0; p < pb.q; ++p) {
    was[p] = pb.original[p] == kFree ? kFree : static_cast<int32_t>(pb.zone[pb.original[p]]);
  }
  const auto zone_at = stripe(rank_labels(pb, total, true), total, none, was);
  std::vector<std::vector<uint32_t>> slots(pb.zone_count);
  for (uint32_t p = 0; p < pb.q; ++p) slots[zone_at[p]].push_back(p);
  if (zone_clean) return fill_zones(pb, target, std::move(slots));
  for (uint32_t z = 0; z < pb.zone_count; ++z) {
    if (slots[z].empty()) continue;
    std::vector<uint32_t> count(target.size(), 0);
    for (size_t i = 0; i < target.size(); ++i) count[i] = pb.zone[i] == z ? target[i] : 0;
    std::vector<int32_t> was_here;
    for (uint32_t p : slots[z]) was_here.push_back(pb.original[p]);
    const auto out = stripe(rank_labels(pb, count, false), count, none, was_here);
    for (size_t i = 0; i < out.size(); ++i) owner[slots[z][i]] = static_cast<int32_t>(out[i]);
  }
  return owner;
}

}  // namespace qkv::ring::claim_internal
