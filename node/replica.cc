#include "node/replica.h"

#include <fmt/format.h>

#include "common/assert.h"
#include "node/entry_version.h"
#include "node/incarnation.h"
#include "node/wire/replica_codec.h"

namespace qkv::node {

Replica::Replica(const NodeConfig& config, storage::Storage& storage, Transport& transport,
                 const HeldRanges& held, handoff::HintedHandoff* handoff, NodeCounters& counters,
                 std::function<int64_t()> unix_ms, Hooks hooks)
    : config_(config),
      storage_(storage),
      transport_(transport),
      held_(held),
      handoff_(handoff),
      counters_(counters),
      unix_ms_(std::move(unix_ms)),
      hooks_(std::move(hooks)),
      versions_(config.version_cache_bytes) {}

const Replica::StagedWrite* Replica::pending(const std::string& key) const {
  if (auto staged = staged_index_.find(key); staged != staged_index_.end()) {
    return &staged_[staged->second];
  }
  if (!committing_index_.empty()) {
    if (auto c = committing_index_.find(key); c != committing_index_.end()) {
      return &committing_[c->second];
    }
  }
  return nullptr;
}

Result<std::optional<causal::SiblingSet>> Replica::load(ring::Token token, const std::string& key) {
  if (const StagedWrite* w = pending(key)) {
    if (w->erase) return std::optional<causal::SiblingSet>();
    return std::optional<causal::SiblingSet>(w->state);
  }
  auto bytes = storage_.get(token, key);
  if (!bytes) {
    ++counters_.storage_errors;
    return bytes.status();
  }
  if (!bytes.value()) return std::optional<causal::SiblingSet>();
  auto state = decode_sibling_set(*bytes.value());
  if (!state) {
    ++counters_.storage_errors;
    return state.status();
  }
  return std::optional<causal::SiblingSet>(std::move(state).value());
}

Result<std::optional<causal::SiblingSet>> Replica::load_with_hints(ring::Token token,
                                                                   const std::string& key) {
  auto local = load(token, key);
  if (!local || !handoff_) return local;
  auto hinted = handoff_->join_of_hints(token, key, unix_ms_ ? unix_ms_() : 0);
  if (!hinted) {
    ++counters_.storage_errors;
    return hinted.status();
  }
  if (!hinted.value()) return local;
  if (!local.value()) return hinted;
  return std::optional<causal::SiblingSet>(
      causal::SiblingSet::join(*local.value(), *hinted.value()));
}

std::optional<antientropy::Hash128> Replica::tree_entry(
    const std::string& key, const std::optional<causal::SiblingSet>& state) {
  if (!state || !hooks_.track_entries) return std::nullopt;
  return entry_hash(key, *state);
}

const VersionCache::Entry* Replica::cached(const std::string& key) {
  if (pending(key)) return nullptr;  // load() reads the staged state, no storage
  const VersionCache::Entry* entry = versions_.find(key);
  if (!entry) ++counters_.version_cache_misses;
  return entry;
}

Result<Replica::Update> Replica::updated(ring::Token token, const std::string& key,
                                         const causal::VersionVector& context,
                                         const causal::Actor& actor,
                                         std::optional<std::string> value, int64_t expires_ms,
                                         int64_t timestamp_ms) {
  if (const VersionCache::Entry* c = cached(key)) {
    if (c->summary.covered_by(context)) {
      ++counters_.version_cache_hits;
      return Update{c->summary.update(context, actor, std::move(value), expires_ms, timestamp_ms),
                    c->tree_entry};
    }
    ++counters_.version_cache_misses;  // a stored value survives the update: read it
  }
  auto local = load(token, key);
  if (!local) return local.status();
  if (!local.value()) {
    // No state: the key is new, or was removed. Its first dot goes above the reap floor.
    auto floor = reap_floor();
    if (!floor) return floor.status();
    if (*floor > context.get(actor)) {
      causal::VersionVector raised = context;
      raised.raise(actor, *floor);
      return Update{
          causal::SiblingSet().update(raised, actor, std::move(value), expires_ms, timestamp_ms),
          std::nullopt};
    }
  }
  causal::SiblingSet current = local.value().value_or(causal::SiblingSet());
  return Update{current.update(context, actor, std::move(value), expires_ms, timestamp_ms),
                tree_entry(key, local.value())};
}

void Replica::store(ring::Token token, const std::string& key, Update update) {
  // Only the latest state of a key is written: it was built on the earlier staged ones
  // (load reads them), so it holds their dots or covers them in its version vector.
  auto [at, inserted] = staged_index_.try_emplace(key, staged_.size());
  if (inserted) {
    // The tree holds the committed state's entry: the one before the first staging.
    staged_.push_back(StagedWrite{token, key, std::move(update.state), update.before});
  } else {
    staged_[at->second].state = std::move(update.state);
    staged_[at->second].erase = false;
  }
}

Result<uint64_t> Replica::reap_floor() {
  if (reap_floor_) return *reap_floor_;
  auto stored = get_meta_number(storage_, "reap_floor");
  if (!stored) return stored.status();
  reap_floor_ = stored.value().value_or(0);
  return *reap_floor_;
}

Status Replica::persist_reap_floor(uint64_t floor) {
  auto current = reap_floor();
  if (!current) return current.status();
  if (floor <= *current) return Status::ok();
  QKV_RETURN_IF_ERROR(storage_.put_meta("reap_floor", std::to_string(floor)));
  reap_floor_ = floor;
  return Status::ok();
}

Result<bool> Replica::reap(ring::Token token, const std::string& key,
                           const causal::SiblingSet& expected, const causal::Actor& actor) {
  auto local = load(token, key);
  if (!local) return local.status();
  if (!local.value() || !(*local.value() == expected)) return false;
  Status raised = persist_reap_floor(expected.version_vector().get(actor));
  if (!raised.is_ok()) {
    ++counters_.storage_errors;
    return raised;
  }
  auto before = tree_entry(key, local.value());
  auto [at, inserted] = staged_index_.try_emplace(key, staged_.size());
  if (inserted) {
    staged_.push_back(StagedWrite{token, key, {}, before, /*erase=*/true});
  } else {
    staged_[at->second].state = causal::SiblingSet();
    staged_[at->second].erase = true;
  }
  return true;
}

Status Replica::raise_reap_floor(ring::Token first, ring::Token last, const causal::Actor& actor) {
  uint64_t highest = 0;
  Status decoded = Status::ok();
  QKV_RETURN_IF_ERROR(
      storage_.scan(first, last, [&](ring::Token, std::string_view, std::string_view bytes) {
        auto state = decode_sibling_set(bytes);
        if (!state) {
          decoded = state.status();
          return false;
        }
        highest = std::max(highest, state->version_vector().get(actor));
        return true;
      }));
  QKV_RETURN_IF_ERROR(decoded);
  return persist_reap_floor(highest);
}

Status Replica::merge(ring::Token token, const std::string& key, const causal::SiblingSet& state) {
  return merge_state(token, key, state);
}

Status Replica::merge(ring::Token token, const std::string& key, causal::SiblingSet&& state) {
  return merge_state(token, key, std::move(state));
}

template <typename State>
Status Replica::merge_state(ring::Token token, const std::string& key, State&& state) {
  if (const VersionCache::Entry* c = cached(key)) {
    // An rvalue state is moved from only when joined, so it is still whole below.
    causal::StateSummary::Join j = c->summary.join(std::forward<State>(state));
    using Kind = causal::StateSummary::Join::Kind;
    if (j.kind == Kind::unchanged) {
      ++counters_.version_cache_hits;
      return Status::ok();
    }
    if (j.kind == Kind::joined) {
      ++counters_.version_cache_hits;
      store(token, key, Update{std::move(j.state), c->tree_entry});
      return Status::ok();
    }
    ++counters_.version_cache_misses;  // a stored value survives the join: read it
  }
  auto local = load(token, key);
  if (!local) return local.status();
  if (!local.value()) {
    store(token, key, Update{std::forward<State>(state), std::nullopt});
    return Status::ok();
  }
  causal::SiblingSet joined = causal::SiblingSet::join(*local.value(), state);
  if (joined == *local.value()) return Status::ok();  // nothing new: idempotent
  store(token, key, Update{std::move(joined), tree_entry(key, local.value())});
  return Status::ok();
}

void Replica::fill(const std::string& key, const std::optional<causal::SiblingSet>& state,
                   causal::StateSummary summary) {
  if (config_.version_cache_bytes == 0) return;  // the cache is off
  ++counters_.version_cache_fills;
  versions_.put(key, VersionCache::Entry{std::move(summary), tree_entry(key, state)});
}

Result<std::optional<causal::SiblingSet>> Replica::read(ring::Token token, const std::string& key) {
  // Only a committed state (no write of the key staged) that the cache lacks is put: a key
  // held nowhere is not, since a write of an absent key must read the reap floor.
  const bool fills = config_.version_cache_bytes > 0 && !pending(key) && !versions_.find(key);
  auto local = load(token, key);
  if (fills && local && local.value()) {
    fill(key, local.value(), causal::StateSummary::of(*local.value()));
  }
  return local;
}

Result<causal::StateSummary::Digest> Replica::digest(ring::Token token, const std::string& key) {
  const bool staged = pending(key) != nullptr;
  if (!staged) {
    if (const VersionCache::Entry* c = versions_.find(key)) return c->summary.digest();
  }
  auto local = load(token, key);
  if (!local) return local.status();
  if (!local.value()) return causal::StateSummary().digest();
  causal::StateSummary summary = causal::StateSummary::of(*local.value());
  const causal::StateSummary::Digest digest = summary.digest();
  if (!staged) fill(key, local.value(), std::move(summary));
  return digest;
}

void Replica::on_read(const PeerMessage& message, const ReplicaRead& read) {
  ++counters_.replica_reads;
  ReplicaReadReply reply;
  const ring::Token token = ring::token_of(read.key);
  if (read.digest_only && !read.with_hints) {
    ++counters_.digest_reads;
    auto digest = this->digest(token, read.key);
    if (digest) {
      reply.digest = digest.value();
    } else {
      reply.status = digest.status();
    }
    return (void)transport_.send(
        message.from, PeerMessage{config_.node_id, message.request_id, std::move(reply)});
  }
  auto local = read.with_hints ? load_with_hints(token, read.key) : this->read(token, read.key);
  if (local) {
    reply.state = std::move(local).value();
  } else {
    reply.status = local.status();
  }
  (void)transport_.send(message.from,
                        PeerMessage{config_.node_id, message.request_id, std::move(reply)});
}

void Replica::send_ack(const NodeId& to, uint64_t request_id, Status status) {
  (void)transport_.send(
      to, PeerMessage{config_.node_id, request_id, ReplicaWriteAck{std::move(status)}});
}

void Replica::on_write(const PeerMessage& message, ReplicaWrite&& write) {
  ++counters_.replica_writes;
  ring::Token token = ring::token_of(write.key);
  if (!held_.ring()) {
    return send_ack(message.from, message.request_id,
                    Status::unavailable("this node has not learned the ring yet"));
  }
  bool primary = held_.is_primary(token);
  if (!primary && !write.hint_for.empty()) {
    // A fallback for a down or silent primary (sloppy quorum, Dynamo 4.6): keep a hint.
    if (!handoff_) {
      return send_ack(message.from, message.request_id,
                      Status::unavailable("this node keeps no hints"));
    }
    return send_ack(
        message.from, message.request_id,
        handoff_->store(write.hint_for, token, write.key, write.state, unix_ms_ ? unix_ms_() : 0));
  }
  if (!held_.takes_writes_for(token, primary)) {
    return send_ack(
        message.from, message.request_id,
        Status::invalid_argument(fmt::format("{} is not a replica of the key (partition {})",
                                             config_.node_id, held_.ring()->partition_of(token))));
  }
  if (Status s = merge(token, write.key, std::move(write.state)); !s.is_ok()) {
    return send_ack(message.from, message.request_id, s);
  }
  // Acked once committed (even when nothing changed: what it joined with may be staged).
  staged_acks_.push_back(StagedAck{message.from, message.request_id});
}

Status Replica::commit() {
  std::vector<storage::WriteOp> ops = start_commit();
  Status committed = ops.empty() ? Status::ok() : storage_.write(ops);
  finish_commit(committed);
  return committed;
}

std::vector<storage::WriteOp> Replica::start_commit() {
  QKV_ASSERT(!committing_open_);
  committing_open_ = true;
  committing_.swap(staged_);  // committing_ is empty: its capacity serves the next staging
  committing_index_.swap(staged_index_);
  committing_acks_.swap(staged_acks_);
  std::vector<storage::WriteOp> ops;
  ops.reserve(committing_.size());
  for (const auto& w : committing_) {
    ops.push_back(w.erase ? storage::WriteOp{w.token, w.key, {}, true}
                          : storage::WriteOp{w.token, w.key, encode_sibling_set(w.state)});
  }
  committing_began_us_ = hooks_.latencies ? hooks_.latencies->now_us() : 0;
  return ops;
}

void Replica::finish_commit(const Status& committed) {
  QKV_ASSERT(committing_open_);
  if (!committing_.empty()) {
    if (hooks_.latencies) hooks_.latencies->on_commit(committing_began_us_);
    ++counters_.storage_commits;
    counters_.storage_writes += committing_.size();
    if (!committed.is_ok()) {
      ++counters_.storage_errors;
      if (hooks_.on_commit_failed) hooks_.on_commit_failed();
    } else {
      // The committed states, for the next writes of these keys and the trees.
      for (auto& w : committing_) {
        if (w.erase) {
          ++counters_.tombstones_reaped;
          if (w.before && hooks_.on_committed) hooks_.on_committed(w.token, w.before, std::nullopt);
          versions_.erase(w.key);
          continue;
        }
        std::optional<antientropy::Hash128> after;
        if (hooks_.track_entries) after = entry_hash(w.key, w.state);
        if (after && hooks_.on_committed) hooks_.on_committed(w.token, w.before, after);
        if (hooks_.on_tombstone) {
          if (auto dead = w.state.dead_from()) hooks_.on_tombstone(w.token, w.key, *dead);
        }
        // The staged state is done with: its version vector moves into the cache.
        versions_.put(w.key, std::move(w.state), after);
      }
    }
  }
  // Cleared before the acks leave: sending may re-enter the node (a local transport).
  std::vector<StagedWrite> done = std::move(committing_);
  committing_.clear();
  committing_index_.clear();
  std::vector<StagedAck> acks = std::move(committing_acks_);
  committing_acks_.clear();
  committing_open_ = false;
  for (auto& ack : acks) send_ack(ack.to, ack.request_id, committed);
  // Their capacity, for the next commits.
  done.clear();
  if (staged_.empty() && staged_.capacity() < done.capacity()) staged_.swap(done);
  acks.clear();
  if (staged_acks_.empty() && staged_acks_.capacity() < acks.capacity()) staged_acks_.swap(acks);
}

void Replica::discard_staged(const Status& status) {
  staged_.clear();
  staged_index_.clear();
  std::vector<StagedAck> acks;
  acks.swap(staged_acks_);
  for (auto& ack : acks) send_ack(ack.to, ack.request_id, status);
}

}  // namespace qkv::node
