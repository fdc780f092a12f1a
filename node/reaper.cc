#include "node/reaper.h"

#include "common/mutation.h"
#include "node/deadline.h"
#include "node/wire/replica_codec.h"

namespace qkv::node {
namespace {

// True if nothing in the state can be seen at `unix_ms` or later: only tombstones, or
// values whose time to live has ended.
bool is_dead(const causal::SiblingSet& state, int64_t unix_ms) {
  auto from = state.dead_from();
  return from && *from <= unix_ms;
}

}  // namespace

Reaper::Reaper(const NodeConfig& config, causal::Actor actor, storage::Storage& storage,
               Transport& transport, InFlight& in_flight, Replica& replica, const HeldRanges& held,
               const Liveness& liveness, NodeCounters& counters)
    : config_(config),
      actor_(std::move(actor)),
      storage_(storage),
      transport_(transport),
      in_flight_(in_flight),
      replica_(replica),
      held_(held),
      liveness_(liveness),
      counters_(counters),
      checks_bucket_(config.tombstones.checks_per_second_max,
                     config.tombstones.checks_per_second_max) {}

bool Reaper::drives(ring::Token token) const {
  if (!held_.ring()) return false;
  auto primaries = held_.primaries_of(token);
  return !primaries.empty() && primaries.front() == config_.node_id;
}

void Reaper::schedule(KeyId key, int64_t due_unix_ms) {
  auto [at, inserted] = latest_.try_emplace(key, due_unix_ms);
  if (!inserted) {
    queue_.erase({at->second, key});
    at->second = due_unix_ms;
  } else if (latest_.size() > config_.tombstones.pending_max) {
    latest_.erase(at);  // full: the sweep finds it later
    return;
  }
  queue_.emplace(due_unix_ms, std::move(key));
  counters_.tombstones_pending = latest_.size();
}

void Reaper::on_tombstone(ring::Token token, const std::string& key, int64_t unix_ms) {
  if (!config_.tombstones.reap || !drives(token)) return;
  schedule({token, key}, unix_ms + config_.tombstones.grace.count());
}

void Reaper::on_tick(TimePoint now, int64_t unix_ms) {
  if (!config_.tombstones.reap) return;
  for (auto it = checks_.begin(); it != checks_.end();) {
    auto next = std::next(it);
    if (now - it->second.started >= config_.tombstones.check_timeout) {
      it->second.failed = true;
      finish(it->first, unix_ms);
    }
    it = next;
  }
  sweep(unix_ms);
  // A transition may have a receiver copying the range: nothing is reaped until it ends.
  if (!held_.ring() || held_.next_ring()) return;
  checks_bucket_.refill(now);
  while (!queue_.empty() && queue_.begin()->first <= unix_ms &&
         checks_.size() < config_.tombstones.checks_in_flight_max && checks_bucket_.try_take()) {
    KeyId key = queue_.begin()->second;
    queue_.erase(queue_.begin());
    latest_.erase(key);
    start(std::move(key), now, unix_ms);
  }
  counters_.tombstones_pending = latest_.size();
}

void Reaper::start(KeyId key, TimePoint now, int64_t unix_ms) {
  const auto& [token, name] = key;
  if (!drives(token) || checking_.count(key)) return;
  auto local = replica_.load(token, name);
  if (!local) return defer(std::move(key), unix_ms);
  // Written since, or a time to live not over yet (a clock that went back): not dead.
  if (!local.value() || !is_dead(*local.value(), unix_ms)) return;
  std::vector<NodeId> others;
  for (NodeId& p : held_.primaries_of(token)) {
    if (p == config_.node_id) continue;
    if (!liveness_.is_up(p)) return defer(std::move(key), unix_ms);
    others.push_back(std::move(p));
  }
  ++counters_.reap_checks;
  const uint64_t id = in_flight_.next_id();
  Check check{key, std::move(*local.value()), {others.begin(), others.end()}, others, false, now};
  if (QKV_MUTATION(kReapWithoutCheck)) check.awaiting.clear();
  checking_.insert(key);
  auto [at, inserted] = checks_.emplace(id, std::move(check));
  for (const NodeId& p : at->second.awaiting) {
    Status sent =
        transport_.send(p, PeerMessage{config_.node_id, id, ReplicaRead{name, false},
                                       deadline_after(unix_ms, config_.tombstones.check_timeout)});
    if (!sent.is_ok()) at->second.failed = true;
  }
  if (at->second.awaiting.empty() || at->second.failed) finish(id, unix_ms);
}

bool Reaper::on_reply(uint64_t id, const NodeId& from, const Status& status,
                      const std::optional<causal::SiblingSet>& state, TimePoint, int64_t unix_ms) {
  auto it = checks_.find(id);
  if (it == checks_.end()) return false;
  Check& check = it->second;
  if (!check.awaiting.erase(from)) return true;  // a duplicate
  if (!status.is_ok()) {
    check.failed = true;
  } else if (!state || !(*state == check.state)) {
    // Missed the delete, or holds more (a concurrent write): send it what this node holds
    // (read repair; a join, so harmless either way) and try again later.
    check.failed = true;
    (void)transport_.send(
        from, PeerMessage{config_.node_id, 0, ReplicaWrite{check.key.second, check.state, {}},
                          deadline_after(unix_ms, config_.tombstones.check_timeout)});
  }
  if (check.awaiting.empty() || check.failed) finish(id, unix_ms);
  return true;
}

void Reaper::finish(uint64_t id, int64_t unix_ms) {
  auto node = checks_.extract(id);
  Check& check = node.mapped();
  checking_.erase(check.key);
  const auto& [token, name] = check.key;
  if (check.failed) return defer(std::move(check.key), unix_ms);
  // This node's own copy must still be the state every primary confirmed.
  auto staged = replica_.reap(token, name, check.state, actor_);
  if (!staged) return defer(std::move(check.key), unix_ms);
  if (!staged.value()) return;  // written meanwhile: the write wins
  for (const NodeId& p : check.primaries) {
    (void)transport_.send(p,
                          PeerMessage{config_.node_id, 0, ReplicaReap{name, check.state},
                                      deadline_after(unix_ms, config_.tombstones.check_timeout)});
  }
}

void Reaper::defer(KeyId key, int64_t unix_ms) {
  ++counters_.reaps_deferred;
  schedule(std::move(key), unix_ms + config_.tombstones.retry_interval.count());
}

void Reaper::on_reap(const PeerMessage&, const ReplicaReap& reap) {
  const ring::Token token = ring::token_of(reap.key);
  if (!held_.ring() || !held_.is_primary(token) || held_.next_ring()) return;
  (void)replica_.reap(token, reap.key, reap.state, actor_);  // errors are counted there
}

void Reaper::on_peer_unreachable(const NodeId& peer, int64_t unix_ms) {
  std::vector<uint64_t> failed;
  for (auto& [id, check] : checks_) {
    if (check.awaiting.count(peer)) failed.push_back(id);
  }
  for (uint64_t id : failed) {
    checks_[id].failed = true;
    finish(id, unix_ms);
  }
}

void Reaper::sweep(int64_t unix_ms) {
  const auto& ring = held_.ring();
  if (!ring || config_.tombstones.sweep_interval.count() == 0 || unix_ms < next_sweep_unix_ms_) {
    return;
  }
  next_sweep_unix_ms_ = unix_ms + config_.tombstones.sweep_interval.count();
  // The next partition this node drives, round robin.
  const uint32_t partitions = ring->partition_count();
  for (uint32_t i = 0; i < partitions; ++i) {
    const uint32_t p = (sweep_partition_ + i) % partitions;
    if (!drives(ring->first_token(p))) continue;
    sweep_partition_ = p + 1;
    const int64_t due = unix_ms + config_.tombstones.grace.count();
    (void)storage_.scan(ring->first_token(p), ring->last_token(p),
                        [&](ring::Token token, std::string_view key, std::string_view bytes) {
                          if (latest_.size() >= config_.tombstones.pending_max) return false;
                          auto state = decode_sibling_set(bytes);
                          KeyId id{token, std::string(key)};
                          if (!state || latest_.count(id)) return true;
                          if (auto dead = state->dead_from()) {
                            schedule(std::move(id),
                                     std::max(due, *dead + config_.tombstones.grace.count()));
                          }
                          return true;
                        });
    return;
  }
}

}  // namespace qkv::node
