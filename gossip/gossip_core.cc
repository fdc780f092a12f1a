#include "gossip/gossip_core.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "common/assert.h"

namespace qkv::gossip {
namespace {

// How far `behind` (a digest; null: the member is unknown there) lags a newer state with
// (generation, version): unknown lags most, then an older generation, then the version gap.
// A full message carries the most out-of-date states first (scuttle-depth ordering in
// van Renesse et al. 2008, §3.2, by member rather than by key).
constexpr uint64_t kLagUnknown = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kLagGeneration = kLagUnknown - 1;

uint64_t lag(uint64_t generation, uint64_t version, const Digest* behind) {
  if (behind == nullptr) return kLagUnknown;
  if (behind->generation != generation) return kLagGeneration;
  return std::min(version - behind->version, kLagGeneration - 1);
}

uint64_t lag(const NodeState& ahead, const Digest* behind) {
  return lag(ahead.generation, ahead.version, behind);
}

bool newer_than_digest(const NodeState& state, const Digest& digest) {
  if (state.generation != digest.generation) return state.generation > digest.generation;
  return state.version > digest.version;
}

bool digest_newer_than(const Digest& digest, const NodeState& state) {
  if (digest.generation != state.generation) return digest.generation > state.generation;
  return digest.version > state.version;
}

// Keeps the `max` entries with the largest lag; ties keep their (id) order.
template <typename T>
std::vector<T> most_lagging(std::vector<std::pair<uint64_t, T>> candidates, std::size_t max) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  if (candidates.size() > max) candidates.resize(max);
  std::vector<T> out;
  out.reserve(candidates.size());
  for (auto& c : candidates) out.push_back(std::move(c.second));
  return out;
}

}  // namespace

GossipCore::GossipCore(GossipConfig config, NodeState self, RingState ring, uint64_t seed,
                       TimePoint now)
    : config_(std::move(config)),
      self_id_(self.id),
      ring_(std::move(ring)),
      fd_(FailureDetectorConfig{config_.phi_convict, 2 * config_.interval, config_.fd_interval_max,
                                config_.fd_window_max}),
      rng_(seed),
      next_round_(now) {
  QKV_ASSERT(validate_node_id(self_id_).is_ok());
  QKV_ASSERT(config_.interval.count() > 0);
  QKV_ASSERT(config_.states_per_message_max >= 1);
  QKV_ASSERT(config_.members_max >= 1);
  QKV_ASSERT(config_.local_pause_max.count() > 0);
  for (const std::string& address : config_.seeds) {
    if (address != self.peer_address) other_seeds_.push_back(address);
  }
  members_.emplace(self_id_, std::move(self));
}

std::vector<Outgoing> GossipCore::on_tick(TimePoint now) {
  if (now < next_round_) return {};
  const bool paused = last_round_.has_value() && now - *last_round_ > config_.local_pause_max;
  if (paused) ++stats_.local_pauses;
  next_round_ += config_.interval;
  if (next_round_ <= now) next_round_ = now + config_.interval;  // no burst after a stall
  last_round_ = now;
  ++stats_.rounds;

  evaluate_verdicts(now, /*convict=*/!paused);
  ++self_mut().version;  // the heartbeat

  std::vector<Outgoing> out;
  for (std::string& address : choose_targets()) out.push_back({std::move(address), make_syn()});
  return out;
}

std::vector<Outgoing> GossipCore::on_message(const Message& message, TimePoint now) {
  if (const auto* syn = std::get_if<Syn>(&message)) return handle_syn(*syn, now);
  if (const auto* ack = std::get_if<Ack>(&message)) return handle_ack(*ack, now);
  const Ack2& ack2 = std::get<Ack2>(message);
  for (const NodeState& state : ack2.states) apply_state(state, now);
  if (ack2.ring) apply_ring(*ack2.ring);
  return {};
}

bool GossipCore::is_up(const NodeId& id, TimePoint now) const {
  if (id == self_id_) return true;
  if (!members_.contains(id)) return false;
  return !convicted_.contains(id) && fd_.is_up(id, now);
}

void GossipCore::convict(const NodeId& id) {
  auto it = members_.find(id);
  if (id == self_id_ || it == members_.end()) return;
  convicted_[id] = it->second.generation;
  if (up_.at(id)) {
    up_[id] = false;
    events_.push_back({Event::kDown, id});
  }
}

qkv::Status GossipCore::set_ring(RingState ring) {
  if (!ring.newer_than(ring_)) {
    return qkv::Status::invalid_argument(
        fmt::format("ring version {} is not newer than the current ring version {}", ring.version,
                    ring_.version));
  }
  ring_ = std::move(ring);
  events_.push_back({Event::kRingChanged, {}});
  return qkv::Status::ok();
}

void GossipCore::set_status(Status status) {
  NodeState& self = self_mut();
  ++self.version;
  if (self.status == status) return;
  self.status = status;
  events_.push_back({Event::kChanged, self_id_});
}

void GossipCore::set_ring_progress(uint64_t ring_version, uint64_t transfers_done) {
  NodeState& self = self_mut();
  if (self.ring_version == ring_version && self.transfers_done == transfers_done) return;
  ++self.version;
  self.ring_version = ring_version;
  self.transfers_done = transfers_done;
  events_.push_back({Event::kChanged, self_id_});
}

std::vector<Event> GossipCore::take_events() {
  return std::exchange(events_, {});
}

std::vector<Outgoing> GossipCore::handle_syn(const Syn& syn, TimePoint now) {
  if (!accept_sender(syn.sender)) return {};
  apply_state(syn.sender, now);
  if (syn.sender.peer_address.empty()) return {};
  return {{syn.sender.peer_address, make_ack(syn)}};
}

std::vector<Outgoing> GossipCore::handle_ack(const Ack& ack, TimePoint now) {
  if (!accept_sender(ack.sender)) return {};
  apply_state(ack.sender, now);
  for (const NodeState& state : ack.states) apply_state(state, now);
  if (ack.ring) apply_ring(*ack.ring);
  std::optional<Ack2> ack2 = make_ack2(ack);
  if (!ack2 || ack.sender.peer_address.empty()) return {};
  return {{ack.sender.peer_address, std::move(*ack2)}};
}

bool GossipCore::accept_sender(const NodeState& sender) {
  if (sender.id == self_id_) {
    ++stats_.foreign_self_states;
    return false;
  }
  if (!validate_node_id(sender.id).is_ok()) {
    ++stats_.rejected_states;
    return false;
  }
  convicted_.erase(sender.id);  // it just spoke to us: direct evidence of life
  return true;
}

void GossipCore::apply_state(const NodeState& state, TimePoint now) {
  if (state.id == self_id_) {
    if (state.newer_than(self())) ++stats_.foreign_self_states;
    return;
  }
  auto it = members_.find(state.id);
  if (it == members_.end()) {
    if (!validate_node_id(state.id).is_ok()) {
      ++stats_.rejected_states;
      return;
    }
    if (members_.size() >= config_.members_max) {
      ++stats_.members_refused;
      return;
    }
    members_.emplace(state.id, state);
    up_[state.id] = true;
    fd_.heartbeat(state.id, now);
    events_.push_back({Event::kJoined, state.id});
    return;
  }
  if (!state.newer_than(it->second)) return;  // stale or repeated: never overwrites
  if (auto c = convicted_.find(state.id); c != convicted_.end() && state.generation > c->second) {
    convicted_.erase(c);  // restarted since it was convicted
  }
  const bool changed = state.differs_in_substance(it->second);
  it->second = state;
  fd_.heartbeat(state.id, now);
  if (changed) events_.push_back({Event::kChanged, state.id});
}

void GossipCore::apply_ring(const RingState& ring) {
  if (!ring.newer_than(ring_)) return;
  ring_ = ring;
  events_.push_back({Event::kRingChanged, {}});
}

void GossipCore::evaluate_verdicts(TimePoint now, bool convict) {
  for (auto& [id, up] : up_) {
    const bool verdict = !convicted_.contains(id) && fd_.is_up(id, now);
    if (verdict == up || (!verdict && !convict)) continue;
    up = verdict;
    events_.push_back({verdict ? Event::kUp : Event::kDown, id});
  }
}

std::vector<std::string> GossipCore::choose_targets() {
  std::vector<const NodeState*> live;
  std::vector<const NodeState*> down;
  for (const auto& [id, state] : members_) {
    if (id == self_id_ || state.status == Status::kRemoved || state.peer_address.empty()) continue;
    (up_.at(id) ? live : down).push_back(&state);
  }
  std::vector<std::string> targets;
  bool live_is_seed = false;
  if (!live.empty()) {
    const std::string& address = live[below(live.size())]->peer_address;
    live_is_seed = is_seed(address);
    targets.push_back(address);
  }
  if (!down.empty() && below(live.size() + 1) < down.size()) {
    const std::string& address = down[below(down.size())]->peer_address;
    if (std::find(targets.begin(), targets.end(), address) == targets.end()) {
      targets.push_back(address);
    }
  }
  if (!live_is_seed || live.size() < other_seeds_.size()) {
    if (auto seed = maybe_seed(live.size(), down.size(), targets)) targets.push_back(*seed);
  }
  return targets;
}

std::optional<std::string> GossipCore::maybe_seed(std::size_t live, std::size_t down,
                                                  const std::vector<std::string>& targets) {
  std::vector<const std::string*> seeds;
  for (const std::string& seed : other_seeds_) {
    if (std::find(targets.begin(), targets.end(), seed) != targets.end()) continue;
    seeds.push_back(&seed);
  }
  if (seeds.empty()) return std::nullopt;
  // Cassandra's maybeGossipToSeed: always when no peer is live, else with probability
  // seeds / known peers, so a seed hears from about one node per round, not from all.
  if (live > 0 && below(live + down) >= seeds.size()) return std::nullopt;
  return *seeds[below(seeds.size())];
}

bool GossipCore::is_seed(const std::string& address) const {
  return std::find(other_seeds_.begin(), other_seeds_.end(), address) != other_seeds_.end();
}

uint64_t GossipCore::below(uint64_t n) {
  QKV_ASSERT(n > 0);
  return rng_() % n;  // raw engine output: the same on every platform (modulo bias < 2^-50)
}

Syn GossipCore::make_syn() const {
  Syn syn;
  syn.sender = self();
  syn.digests.reserve(members_.size() - 1);
  for (const auto& [id, state] : members_) {
    if (id != self_id_) syn.digests.push_back({id, state.generation, state.version});
  }
  syn.ring_version = ring_.version;
  return syn;
}

Ack GossipCore::make_ack(const Syn& syn) const {
  std::map<NodeId, const Digest*> theirs;
  for (const Digest& d : syn.digests) theirs[d.id] = &d;

  std::vector<std::pair<uint64_t, NodeState>> states;
  for (const auto& [id, mine] : members_) {
    if (id == self_id_ || id == syn.sender.id) continue;  // both travel as message senders
    auto it = theirs.find(id);
    const Digest* digest = it == theirs.end() ? nullptr : it->second;
    if (digest == nullptr || newer_than_digest(mine, *digest)) {
      states.emplace_back(lag(mine, digest), mine);
    }
  }

  std::vector<std::pair<uint64_t, Digest>> requests;
  for (const auto& [id, digest] : theirs) {
    if (id == self_id_ || id == syn.sender.id) continue;
    auto it = members_.find(id);
    if (it == members_.end()) {
      if (members_.size() < config_.members_max) requests.emplace_back(kLagUnknown, Digest{id});
    } else if (digest_newer_than(*digest, it->second)) {
      Digest request{id, it->second.generation, it->second.version};
      requests.emplace_back(lag(digest->generation, digest->version, &request), request);
    }
  }

  Ack ack;
  ack.sender = self();
  ack.states = most_lagging(std::move(states), config_.states_per_message_max);
  ack.requests = most_lagging(std::move(requests), config_.states_per_message_max);
  if (ring_.version > syn.ring_version) ack.ring = ring_;
  ack.want_ring = syn.ring_version > ring_.version;
  return ack;
}

std::optional<Ack2> GossipCore::make_ack2(const Ack& ack) const {
  std::map<NodeId, const Digest*> requests;  // ordered and without repeats
  for (const Digest& request : ack.requests) requests[request.id] = &request;
  std::vector<std::pair<uint64_t, NodeState>> states;
  for (const auto& [id, request_ptr] : requests) {
    const Digest& request = *request_ptr;
    auto it = members_.find(id);
    if (it == members_.end() || !newer_than_digest(it->second, request)) continue;
    const bool unknown = request.generation == 0 && request.version == 0;
    states.emplace_back(lag(it->second, unknown ? nullptr : &request), it->second);
  }
  Ack2 ack2;
  ack2.states = most_lagging(std::move(states), config_.states_per_message_max);
  if (ack.want_ring && ring_.version > 0) ack2.ring = ring_;
  if (ack2.states.empty() && !ack2.ring) return std::nullopt;
  return ack2;
}

}  // namespace qkv::gossip
