#include "gossip/gossip_core.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "common/assert.h"

namespace qkv::gossip {
namespace {

// How far behind a digest is, and what it lacks. Lags order a full message: the most
// out-of-date first (scuttle-depth ordering in van Renesse et al. 2008, §3.2, by member
// rather than by key): unknown lags most, then an older generation, then the heartbeat gap.
constexpr uint64_t kLagUnknown = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kLagGeneration = kLagUnknown - 1;

// What a node whose knowledge of a member is `behind` (null: none) lacks of `ahead`.
enum class Gap : uint8_t {
  kNone,       // nothing: it is as new or newer
  kState,      // the content (or all of it): a full state
  kHeartbeat,  // only the heartbeat: its copy holds the same content
};

struct Offer {
  Gap gap = Gap::kNone;
  uint64_t lag = 0;
};

Digest digest_of(const NodeState& state) {
  return {state.id, state.generation, state.version, state.beat()};
}

// A digest as the ordering reads it: a heartbeat below the version is the version.
Digest normalized(Digest digest) {
  digest.heartbeat = std::max(digest.heartbeat, digest.version);
  return digest;
}

// REQUIRES: both normalized (heartbeat >= version).
Offer offer(const Digest& ahead, const Digest* behind) {
  if (behind == nullptr) return {Gap::kState, kLagUnknown};
  if (ahead.generation != behind->generation) {
    if (ahead.generation < behind->generation) return {};
    return {Gap::kState, kLagGeneration};
  }
  if (ahead.heartbeat <= behind->heartbeat) return {};
  const uint64_t lag = std::min(ahead.heartbeat - behind->heartbeat, kLagGeneration - 1);
  // `behind` holds the content as it was from its version through its heartbeat (one clock:
  // node_state.h). Content whose version lies past that may differ; content at or before
  // it is the same, and only the heartbeat moved.
  if (ahead.version > behind->heartbeat) return {Gap::kState, lag};
  return {Gap::kHeartbeat, lag};
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

// Candidates for a message, with their lags (most_lagging picks within each bound).
struct Offers {
  std::vector<std::pair<uint64_t, NodeState>> states;
  std::vector<std::pair<uint64_t, Heartbeat>> heartbeats;
};

// Adds what a node at `behind` lacks of `mine`: a full state, or a heartbeat entry if
// `entries` (the receiver takes them; otherwise a full state, as before they existed).
void offer_member(const NodeState& mine, const Digest* behind, bool entries, Offers& out) {
  const Offer o = offer(digest_of(mine), behind);
  if (o.gap == Gap::kState || (o.gap == Gap::kHeartbeat && !entries)) {
    out.states.emplace_back(o.lag, mine);
  } else if (o.gap == Gap::kHeartbeat) {
    out.heartbeats.emplace_back(o.lag, Heartbeat{mine.id, mine.generation, mine.heartbeat});
  }
}

}  // namespace

GossipCore::GossipCore(GossipConfig config, NodeState self, RingState ring, uint64_t seed,
                       TimePoint now)
    : config_(std::move(config)),
      self_id_(self.id),
      ring_(std::move(ring)),
      ring_hash_(gossip::ring_hash(ring_)),
      fd_(FailureDetectorConfig{config_.phi_convict, 2 * config_.interval, config_.fd_interval_max,
                                config_.fd_window_max}),
      rng_(seed),
      next_round_(now) {
  QKV_ASSERT(validate_node_id(self_id_).is_ok());
  QKV_ASSERT(config_.interval.count() > 0);
  QKV_ASSERT(config_.states_per_message_max >= 1);
  QKV_ASSERT(config_.heartbeats_per_message_max >= 1);
  QKV_ASSERT(config_.members_max >= 1);
  QKV_ASSERT(config_.local_pause_max.count() > 0);
  for (const std::string& address : config_.seeds) {
    if (address != self.peer_address) other_seeds_.push_back(address);
  }
  self.heartbeat = self.beat();
  if (ring_.version != 0) self.cluster_id = ring_.cluster_id;  // a node is of its ring's cluster
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
  self_mut().heartbeat += 1;  // the heartbeat; the content version stays

  std::vector<Outgoing> out;
  for (std::string& address : choose_targets()) out.push_back({std::move(address), make_syn()});
  return out;
}

std::vector<Outgoing> GossipCore::on_message(const Message& message, TimePoint now) {
  if (const auto* syn = std::get_if<Syn>(&message)) return handle_syn(*syn, now);
  if (const auto* ack = std::get_if<Ack>(&message)) return handle_ack(*ack, now);
  const Ack2& ack2 = std::get<Ack2>(message);
  for (const NodeState& state : ack2.states) apply_state(state, now);
  for (const Heartbeat& heartbeat : ack2.heartbeats) apply_heartbeat(heartbeat, now);
  if (ack2.ring) apply_ring(*ack2.ring);
  return {};
}

std::vector<Outgoing> GossipCore::distribute_ring() const {
  std::vector<Outgoing> out;
  if (ring_.version == 0) return out;
  for (const auto& [id, up] : up_) {
    const NodeState& state = members_.at(id);
    if (!up || state.status == Status::kRemoved || state.peer_address.empty()) continue;
    out.push_back({state.peer_address, Ack2{{}, ring_, {}}});
  }
  return out;
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

void GossipCore::absolve(const NodeId& id) {
  convicted_.erase(id);
}

qkv::Status GossipCore::set_ring(RingState ring) {
  if (!ring.newer_than(ring_)) {
    return qkv::Status::invalid_argument(
        fmt::format("ring version {} is not newer than the current ring version {}", ring.version,
                    ring_.version));
  }
  if (!same_cluster(ring.cluster_id, cluster_id())) {
    return qkv::Status::invalid_argument(
        fmt::format("ring version {} is of cluster {:#x}, this node of cluster {:#x}", ring.version,
                    ring.cluster_id, cluster_id()));
  }
  adopt_ring(std::move(ring));
  return qkv::Status::ok();
}

void GossipCore::adopt_ring(RingState ring) {
  ring_ = std::move(ring);
  ring_hash_ = gossip::ring_hash(ring_);
  events_.push_back({Event::kRingChanged, {}});
  if (ring_.cluster_id != self().cluster_id) {  // a joining node learns its cluster
    bump_version();
    self_mut().cluster_id = ring_.cluster_id;
    events_.push_back({Event::kChanged, self_id_});
  }
}

void GossipCore::set_status(Status status) {
  NodeState& self = self_mut();
  if (self.status == status) return;
  bump_version();
  self.status = status;
  events_.push_back({Event::kChanged, self_id_});
}

void GossipCore::declare_removed(const NodeId& id) {
  auto it = members_.find(id);
  if (id == self_id_ || it == members_.end() || it->second.status == Status::kRemoved) return;
  NodeState& state = it->second;
  state.heartbeat += 1;
  state.version = state.heartbeat;
  state.status = Status::kRemoved;
  events_.push_back({Event::kChanged, id});
}

void GossipCore::set_ring_progress(uint64_t ring_version, uint64_t transfers_done) {
  NodeState& self = self_mut();
  if (self.ring_version == ring_version && self.transfers_done == transfers_done) return;
  bump_version();
  self.ring_version = ring_version;
  self.transfers_done = transfers_done;
  events_.push_back({Event::kChanged, self_id_});
}

void GossipCore::bump_version() {
  // One clock for both (Cassandra's VersionGenerator): the change takes the next heartbeat
  // value as its version, so every copy of this state is current from its version through
  // its heartbeat, and a change always moves the heartbeat too.
  NodeState& self = self_mut();
  self.heartbeat += 1;
  self.version = self.heartbeat;
}

std::vector<Event> GossipCore::take_events() {
  return std::exchange(events_, {});
}

std::vector<Outgoing> GossipCore::handle_syn(const Syn& syn, TimePoint now) {
  if (!accept_sender(syn.sender)) return {};
  if (!same_cluster_as(syn.sender, syn.ring_version, syn.ring_hash, std::nullopt)) {
    // Nothing of it is merged; the bare Ack shows it what it met (it refuses it likewise).
    if (syn.sender.peer_address.empty()) return {};
    return {{syn.sender.peer_address, bare_ack()}};
  }
  apply_state(syn.sender, now);
  if (syn.sender.peer_address.empty()) return {};
  return {{syn.sender.peer_address, make_ack(syn)}};
}

std::vector<Outgoing> GossipCore::handle_ack(const Ack& ack, TimePoint now) {
  if (!accept_sender(ack.sender)) return {};
  const uint64_t ring_version = ack.ring ? ack.ring->version : ack.ring_version;
  if (!same_cluster_as(ack.sender, ring_version, ack.ring_hash, ack.ring)) return {};
  apply_state(ack.sender, now);
  for (const NodeState& state : ack.states) apply_state(state, now);
  for (const Heartbeat& heartbeat : ack.heartbeats) apply_heartbeat(heartbeat, now);
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

bool GossipCore::same_cluster_as(const NodeState& sender, uint64_t ring_version, uint64_t hash,
                                 const std::optional<RingState>& ring) {
  if (hash == 0 && ring) hash = gossip::ring_hash(*ring);
  Sighting seen{Event::kForeignCluster,
                sender.id,
                sender.peer_address,
                sender.cluster_id,
                ring_version,
                hash,
                ring};
  if (!same_cluster(sender.cluster_id, cluster_id())) {
    ++stats_.foreign_cluster_messages;
    sighted(std::move(seen));
    return false;
  }
  // One version of one cluster is one table: another is a second writer of ring versions.
  if (ring_version != 0 && ring_version == ring_.version && hash != 0 && ring_hash_ != 0 &&
      hash != ring_hash_) {
    ++stats_.ring_conflicts;
    seen.kind = Event::kRingConflict;
    sighted(std::move(seen));
  }
  return true;
}

void GossipCore::sighted(Sighting sighting) {
  auto it = sightings_.find(sighting.peer);
  if (it == sightings_.end() && sightings_.size() >= config_.members_max) return;  // counted only
  const bool news = it == sightings_.end() || it->second.kind != sighting.kind ||
                    it->second.cluster_id != sighting.cluster_id ||
                    it->second.ring_version != sighting.ring_version ||
                    it->second.ring_hash != sighting.ring_hash;
  const NodeId peer = sighting.peer;
  const Event::Kind kind = sighting.kind;
  sightings_[peer] = std::move(sighting);
  if (news) events_.push_back({kind, peer});
}

Ack GossipCore::bare_ack() const {
  Ack ack;
  ack.sender = self();
  if (ring_.version != 0) ack.ring = ring_;
  ack.ring_version = ring_.version;
  ack.ring_hash = ring_hash_;
  return ack;
}

void GossipCore::apply_state(const NodeState& incoming, TimePoint now) {
  if (incoming.id == self_id_) {
    if (incoming.heartbeat_newer_than(self())) ++stats_.foreign_self_states;
    return;
  }
  if (!same_cluster(incoming.cluster_id, cluster_id())) {
    ++stats_.foreign_cluster_states;  // relayed by a node that did not know better
    return;
  }
  NodeState state = incoming;
  state.heartbeat = state.beat();
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
    const NodeId id = state.id;
    members_.emplace(id, std::move(state));
    up_[id] = true;
    fd_.heartbeat(id, now);
    events_.push_back({Event::kJoined, id});
    return;
  }
  NodeState& mine = it->second;
  // Stale or repeated (an older generation, or no newer heartbeat): never overwrites. A
  // state newer in version always carries a newer heartbeat (version <= heartbeat).
  if (!state.heartbeat_newer_than(mine)) return;
  if (auto c = convicted_.find(state.id); c != convicted_.end() && state.generation > c->second) {
    convicted_.erase(c);  // restarted since it was convicted
  }
  // Within a generation, our copy holds the content as it was through its heartbeat: a
  // state whose version is not past that carries the same content and moves the heartbeat
  // only (so a state relayed by an old node, whose version is its heartbeat, changes nothing
  // else).
  const bool content = state.generation != mine.generation || state.version > mine.heartbeat;
  const bool changed = content && state.differs_in_substance(mine);
  if (content) {
    mine = std::move(state);
  } else {
    mine.heartbeat = state.heartbeat;
  }
  fd_.heartbeat(mine.id, now);
  if (changed) events_.push_back({Event::kChanged, mine.id});
}

void GossipCore::apply_heartbeat(const Heartbeat& heartbeat, TimePoint now) {
  if (heartbeat.id == self_id_) {
    const NodeState& self = this->self();
    if (heartbeat.generation > self.generation ||
        (heartbeat.generation == self.generation && heartbeat.heartbeat > self.heartbeat)) {
      ++stats_.foreign_self_states;
    }
    return;
  }
  auto it = members_.find(heartbeat.id);
  // An unknown member or another generation needs a full state, which travels as one (an
  // older generation is stale; a newer one is a restart and clears a conviction only with
  // its state).
  if (it == members_.end() || heartbeat.generation != it->second.generation ||
      heartbeat.heartbeat <= it->second.heartbeat) {
    return;
  }
  it->second.heartbeat = heartbeat.heartbeat;
  ++stats_.heartbeats_applied;
  fd_.heartbeat(heartbeat.id, now);
}

void GossipCore::apply_ring(const RingState& ring) {
  if (!same_cluster(ring.cluster_id, cluster_id())) {
    ++stats_.foreign_cluster_rings;
    sighted({Event::kForeignCluster, ring.claimant, "", ring.cluster_id, ring.version,
             gossip::ring_hash(ring), ring});
    return;
  }
  if (!ring.newer_than(ring_)) return;
  adopt_ring(ring);
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
    if (id != self_id_) syn.digests.push_back(digest_of(state));
  }
  syn.ring_version = ring_.version;
  syn.ring_hash = ring_hash_;
  return syn;
}

Ack GossipCore::make_ack(const Syn& syn) const {
  std::map<NodeId, Digest> theirs;  // normalized; the last of repeated ids
  for (const Digest& d : syn.digests) theirs[d.id] = normalized(d);

  Offers offers;
  for (const auto& [id, mine] : members_) {
    if (id == self_id_ || id == syn.sender.id) continue;  // both travel as message senders
    auto it = theirs.find(id);
    offer_member(mine, it == theirs.end() ? nullptr : &it->second, syn.heartbeat_entries, offers);
  }

  // Requests carry our digest; the Ack2 answers each with a state or a heartbeat entry. A
  // peer without heartbeat entries reads only `requests` and answers each with a state.
  std::vector<std::pair<uint64_t, Digest>> state_requests;
  std::vector<std::pair<uint64_t, Digest>> heartbeat_requests;
  for (const auto& [id, digest] : theirs) {
    if (id == self_id_ || id == syn.sender.id) continue;
    auto it = members_.find(id);
    if (it == members_.end()) {
      if (members_.size() < config_.members_max) {
        state_requests.emplace_back(kLagUnknown, Digest{id});
      }
      continue;
    }
    const Digest mine = digest_of(it->second);
    const Offer o = offer(digest, &mine);
    if (o.gap == Gap::kState || (o.gap == Gap::kHeartbeat && !syn.heartbeat_entries)) {
      state_requests.emplace_back(o.lag, mine);
    } else if (o.gap == Gap::kHeartbeat) {
      heartbeat_requests.emplace_back(o.lag, mine);
    }
  }

  Ack ack;
  ack.sender = self();
  ack.states = most_lagging(std::move(offers.states), config_.states_per_message_max);
  ack.heartbeats = most_lagging(std::move(offers.heartbeats), config_.heartbeats_per_message_max);
  ack.requests = most_lagging(std::move(state_requests), config_.states_per_message_max);
  ack.heartbeat_requests =
      most_lagging(std::move(heartbeat_requests), config_.heartbeats_per_message_max);
  if (ring_.version > syn.ring_version) ack.ring = ring_;
  ack.want_ring = syn.ring_version > ring_.version;
  ack.ring_version = ring_.version;
  ack.ring_hash = ring_hash_;
  return ack;
}

std::optional<Ack2> GossipCore::make_ack2(const Ack& ack) const {
  // Both lists are answered alike (the digest says what is lacking); ordered, without
  // repeats, normalized.
  std::map<NodeId, Digest> requests;
  for (const Digest& request : ack.heartbeat_requests) requests[request.id] = normalized(request);
  for (const Digest& request : ack.requests) requests[request.id] = normalized(request);
  Offers offers;
  for (const auto& [id, request] : requests) {
    auto it = members_.find(id);
    if (it == members_.end()) continue;
    const bool unknown = request.generation == 0 && request.heartbeat == 0;
    offer_member(it->second, unknown ? nullptr : &request, ack.heartbeat_entries, offers);
  }
  Ack2 ack2;
  ack2.states = most_lagging(std::move(offers.states), config_.states_per_message_max);
  ack2.heartbeats = most_lagging(std::move(offers.heartbeats), config_.heartbeats_per_message_max);
  if (ack.want_ring && ring_.version > 0) ack2.ring = ring_;
  if (ack2.states.empty() && ack2.heartbeats.empty() && !ack2.ring) return std::nullopt;
  return ack2;
}

}  // namespace qkv::gossip
