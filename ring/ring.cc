#include "ring/ring.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <utility>

namespace qkv::ring {
namespace {

Status validate_claim_args(const std::vector<NodeId>& sorted_members, uint32_t q, uint32_t n) {
  if (q == 0 || q > kPartitionCountMax || !std::has_single_bit(q)) {
    return Status::invalid_argument(
        fmt::format("claim: partition count q is {}; it must be a power of two in [1, {}]", q,
                    kPartitionCountMax));
  }
  if (n == 0) {
    return Status::invalid_argument("claim: replication factor n is 0; it must be at least 1");
  }
  if (sorted_members.empty()) {
    return Status::invalid_argument("claim: the member set is empty; at least one is needed");
  }
  for (const NodeId& id : sorted_members) {
    Status s = validate_node_id(id);
    if (!s.is_ok()) return Status::invalid_argument("claim: " + s.message());
  }
  auto dup = std::adjacent_find(sorted_members.begin(), sorted_members.end());
  if (dup != sorted_members.end()) {
    return Status::invalid_argument(fmt::format("claim: member '{}' is listed twice", *dup));
  }
  return Status::ok();
}

// The owner table for sorted members (see Ring::claim in ring.h for the construction and
// why it meets the spacing bound whenever that is possible).
std::vector<NodeId> spread_owners(const std::vector<NodeId>& members, uint32_t q) {
  const uint64_t m = members.size();
  const uint64_t rounds = (q + m - 1) / m;            // k = ceil(q/m): the heaviest count
  const uint64_t heavy = q - (rounds - 1) * m;        // h in [1, m]: members owning k
  const uint64_t light = m - heavy;                   // members owning k - 1
  const uint64_t light_slots = (rounds - 1) * light;  // (k-1)*(m-h), cut into k slices
  const uint64_t slice_min = light_slots / rounds;
  const uint64_t slices_plus_one = light_slots % rounds;

  std::vector<NodeId> owners;
  owners.reserve(q);
  uint64_t next_light = 0;  // position in the round-robin stream of light members
  for (uint64_t j = 0; j < rounds; ++j) {
    for (uint64_t i = 0; i < heavy; ++i) owners.push_back(members[i]);
    const uint64_t slice = slice_min + (j < slices_plus_one ? 1 : 0);
    for (uint64_t s = 0; s < slice; ++s, ++next_light) {
      owners.push_back(members[heavy + next_light % light]);
    }
  }
  QKV_ASSERT(owners.size() == q);
  return owners;
}

}  // namespace

Result<Ring> Ring::claim(std::vector<NodeId> members, uint32_t q, uint32_t n) {
  std::sort(members.begin(), members.end());
  QKV_RETURN_IF_ERROR(validate_claim_args(members, q, n));
  return Ring(spread_owners(members, q));
}

Ring::Ring(std::vector<NodeId> owners) : owners_(std::move(owners)) {
  QKV_ASSERT(!owners_.empty() && owners_.size() <= kPartitionCountMax);
  QKV_ASSERT(std::has_single_bit(owners_.size()));
  shift_ = 64 - static_cast<uint32_t>(std::countr_zero(owners_.size()));

  members_ = owners_;
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
  QKV_ASSERT(!members_.front().empty());
  owner_index_.reserve(owners_.size());
  for (const NodeId& owner : owners_) {
    auto it = std::lower_bound(members_.begin(), members_.end(), owner);
    owner_index_.push_back(static_cast<uint32_t>(it - members_.begin()));
  }
}

uint32_t Ring::partition_of(Token token) const {
  return shift_ == 64 ? 0 : static_cast<uint32_t>(token >> shift_);
}

Token Ring::first_token(uint32_t p) const {
  QKV_ASSERT(p < partition_count());
  return shift_ == 64 ? 0 : Token{p} << shift_;
}

Token Ring::last_token(uint32_t p) const {
  QKV_ASSERT(p < partition_count());
  const Token span_minus_one = shift_ == 64 ? ~Token{0} : (Token{1} << shift_) - 1;
  return first_token(p) | span_minus_one;
}

std::vector<NodeId> Ring::members() const {
  return members_;
}

std::map<NodeId, uint32_t> Ring::partitions_per_node() const {
  std::map<NodeId, uint32_t> counts;
  for (const NodeId& owner : owners_) ++counts[owner];
  return counts;
}

std::vector<uint32_t> Ring::partitions_of(const NodeId& node) const {
  std::vector<uint32_t> result;
  for (uint32_t p = 0; p < partition_count(); ++p) {
    if (owners_[p] == node) result.push_back(p);
  }
  return result;
}

PreferenceList Ring::preference_list(Token token, uint32_t n) const {
  PreferenceList list;
  list.partition = partition_of(token);
  const uint32_t q = partition_count();
  const size_t m = members_.size();
  const size_t primaries_wanted = std::min<size_t>(n, m);
  list.primaries.reserve(primaries_wanted);
  list.fallbacks.reserve(m - primaries_wanted);
  std::vector<bool> chosen(m, false);
  size_t met = 0;
  for (uint32_t i = 0; i < q && met < m; ++i) {
    const uint32_t p = (list.partition + i) & (q - 1);  // q is a power of two
    const uint32_t index = owner_index_[p];
    if (chosen[index]) continue;
    chosen[index] = true;
    ++met;
    auto& target = list.primaries.size() < primaries_wanted ? list.primaries : list.fallbacks;
    target.push_back(owners_[p]);
  }
  return list;
}

}  // namespace qkv::ring
