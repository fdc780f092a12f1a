#include "client/routing.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

#include "ring/token.h"

namespace qkv::client {

CircuitBreaker::State CircuitBreaker::state(TimePoint now) const {
  if (!open_) return State::kClosed;
  return now < open_until_ ? State::kOpen : State::kHalfOpen;
}

bool CircuitBreaker::allow(TimePoint now) {
  switch (state(now)) {
    case State::kClosed:
      return true;
    case State::kOpen:
      return false;
    case State::kHalfOpen:
      if (probing_) return false;
      probing_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::on_success() {
  failures_ = 0;
  open_ = false;
  probing_ = false;
}

void CircuitBreaker::on_failure(TimePoint now) {
  probing_ = false;
  if (open_) {  // a failed probe (or a request sent before the breaker opened)
    open_until_ = now + Duration(options_.cooldown_ms);
    return;
  }
  if (++failures_ < std::max<uint32_t>(1, options_.failures_max)) return;
  open_ = true;
  open_until_ = now + Duration(options_.cooldown_ms);
  ++opened_;
}

Result<Topology> Topology::make(const proto::RingResponse& ring,
                                const proto::MembersResponse& members) {
  const std::size_t q = ring.owners.size();
  if (q == 0 || q > ring::kPartitionCountMax || !std::has_single_bit(q) ||
      q != ring.partition_count) {
    return Status::corruption(fmt::format(
        "a node answered a ring of {} owners for {} partitions; a ring has a power of two "
        "of at most {}",
        q, ring.partition_count, ring::kPartitionCountMax));
  }
  if (std::any_of(ring.owners.begin(), ring.owners.end(),
                  [](const NodeId& owner) { return owner.empty(); })) {
    return Status::corruption("a node answered a ring with an unnamed owner");
  }
  Topology topology;
  topology.ring_.emplace(ring.owners);
  topology.n_ = std::max<uint32_t>(1, ring.n);
  for (const proto::MemberInfo& member : members.members) {
    if (member.client_address.empty() || member.status == "removed") continue;
    topology.members_.push_back(member);
  }
  return topology;
}

std::vector<std::string> Topology::addresses() const {
  std::vector<std::string> out;
  out.reserve(members_.size());
  for (const auto& member : members_) out.push_back(member.client_address);
  return out;
}

const std::string& Topology::address_of(const NodeId& node) const {
  static const std::string kNone;
  for (const auto& member : members_) {
    if (member.id == node) return member.client_address;
  }
  return kNone;
}

std::vector<std::string> Topology::route(std::string_view key) const {
  if (!ring_) return {};
  const ring::PreferenceList list = ring_->preference_list(ring::token_of(key), n_);
  auto up = [&](const NodeId& node) {
    for (const auto& member : members_) {
      if (member.id == node) return member.up;
    }
    return false;
  };
  std::vector<NodeId> primaries = list.primaries;
  std::stable_partition(primaries.begin(), primaries.end(), up);
  std::vector<std::string> out;
  out.reserve(members_.size());
  for (const NodeId& primary : primaries) {
    const std::string& address = address_of(primary);
    if (!address.empty()) out.push_back(address);
  }
  std::vector<const proto::MemberInfo*> others;
  for (const auto& member : members_) {
    if (!list.is_primary(member.id)) others.push_back(&member);
  }
  std::stable_partition(others.begin(), others.end(),
                        [](const proto::MemberInfo* member) { return member->up; });
  for (const auto* member : others) out.push_back(member->client_address);
  return out;
}

}  // namespace qkv::client
