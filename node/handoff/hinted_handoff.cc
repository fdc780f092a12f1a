#include "node/handoff/hinted_handoff.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <tuple>

#include "node/handoff/hint_value.h"
#include "node/storage/key_codec.h"

namespace qkv::handoff {

namespace {

// Bytes of the hint key storage keeps for (target, key): target ‖ 0x00 ‖ token ‖ key.
uint64_t hint_key_bytes(const NodeId& target, std::string_view key) {
  return target.size() + 1 + storage::kTokenBytes + key.size();
}

}  // namespace

Status validate(const HandoffConfig& config) {
  auto positive = [](std::string_view name, int64_t value) {
    if (value > 0) return Status::ok();
    return Status::invalid_argument(fmt::format("{} is {}; it must be > 0", name, value));
  };
  QKV_RETURN_IF_ERROR(positive("hint_age_max_ms", config.hint_age_max.count()));
  if (config.hint_bytes_max == 0) return Status::invalid_argument("hint_bytes_max must be > 0");
  QKV_RETURN_IF_ERROR(positive("hints_per_second_max", config.hints_per_second_max));
  QKV_RETURN_IF_ERROR(positive("in_flight_max", config.in_flight_max));
  QKV_RETURN_IF_ERROR(positive("delivery_timeout_ms", config.delivery_timeout.count()));
  if (config.retry_backoff.count() < 0) {
    return Status::invalid_argument(
        fmt::format("retry_backoff_ms is {}; it must be >= 0", config.retry_backoff.count()));
  }
  return Status::ok();
}

bool HintedHandoff::AgeOrder::operator()(const AgeEntry& a, const AgeEntry& b) const {
  return std::tie(a.created_unix_ms, *a.target, *a.key) <
         std::tie(b.created_unix_ms, *b.target, *b.key);
}

HintedHandoff::HintedHandoff(HandoffConfig config, storage::Storage& storage)
    : config_(config), storage_(storage) {
  QKV_ASSERT(validate(config_).is_ok());
}

Status HintedHandoff::open() {
  QKV_ASSERT(!opened_);
  std::vector<std::pair<NodeId, HintKey>> corrupt;
  Status scanned = storage_.scan_hints(
      [&](const NodeId& target, ring::Token token, std::string_view key, std::string_view value) {
        if (Status valid = validate_node_id(target); !valid.is_ok()) {
          // Only a corrupt key can hold this; storage cannot even delete it: leave it be.
          log(LogEvent::warn("hint_corrupt")
                  .with("token", token)
                  .with("action", "ignored")
                  .with("error", "target: " + valid.message()));
          return true;
        }
        auto created = decode_hint_created(value);
        if (!created.is_ok()) {
          corrupt.emplace_back(target, HintKey{token, std::string(key)});
          return true;
        }
        Hint hint{*created, hint_key_bytes(target, key) + value.size(), next_generation_++, 0};
        index_insert(targets_.try_emplace(target).first, HintKey{token, std::string(key)}, hint);
        return true;
      });
  QKV_RETURN_IF_ERROR(scanned);
  for (const auto& [target, key] : corrupt) {
    QKV_RETURN_IF_ERROR(storage_.delete_hint(target, key.first, key.second));
    ++stats_.dropped_corrupt;
    log(LogEvent::warn("hint_corrupt")
            .with("target", target)
            .with("token", key.first)
            .with("action", "dropped")
            .with("error", "value too short for its creation time"));
  }
  opened_ = true;
  uint64_t count = 0;
  for (const auto& [id, target] : targets_) count += target.hints.size();
  log(LogEvent::info("hints_loaded")
          .with("targets", targets_.size())
          .with("hints", count)
          .with("hint_bytes", hint_bytes_));
  return Status::ok();
}

Status HintedHandoff::store(const NodeId& target, ring::Token token, const std::string& key,
                            const causal::SiblingSet& state, int64_t unix_ms) {
  QKV_ASSERT(opened_);
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  auto target_it = targets_.try_emplace(target).first;
  HintKey hint_key{token, key};
  auto hint_it = target_it->second.hints.find(hint_key);
  const bool existed = hint_it != target_it->second.hints.end();

  int64_t created = unix_ms;
  causal::SiblingSet merged = state;
  std::optional<std::string> old_value;
  if (existed) {
    auto read = storage_.get_hint(target, token, key);
    if (!read.is_ok()) {
      storage_failed("reading a hint to join into", read.status());
      return read.status();
    }
    old_value = std::move(*read);
    if (old_value) {
      auto decoded = decode_hint_value(*old_value);
      if (decoded.is_ok()) {
        created = std::min(decoded->created_unix_ms, unix_ms);
        merged = causal::SiblingSet::join(decoded->state, state);
      } else {
        ++stats_.dropped_corrupt;
        log(LogEvent::warn("hint_corrupt")
                .with("target", target)
                .with("token", token)
                .with("action", "replaced")
                .with("error", decoded.status().message()));
      }
    }
  }

  std::string value = encode_hint_value(created, merged);
  const uint64_t old_bytes = existed ? hint_it->second.bytes : 0;
  const uint64_t new_bytes = hint_key_bytes(target, key) + value.size();
  if (old_value == value) {  // the hint already holds this state: nothing to write
    ++stats_.stored;
    return Status::ok();
  }
  if (hint_bytes_ - old_bytes + new_bytes > config_.hint_bytes_max) {
    ++stats_.dropped_full;
    ++refused_unlogged_[target];
    return Status::overloaded(fmt::format(
        "hints are full: a hint of {} bytes for {} would make {} bytes of hints; hint_bytes_max "
        "is {}",
        new_bytes, target, hint_bytes_ - old_bytes + new_bytes, config_.hint_bytes_max));
  }
  Status put = storage_.put_hint(target, token, key, value);
  if (!put.is_ok()) {
    storage_failed("storing a hint", put);
    return put;
  }
  storage_worked();
  Hint hint{created, new_bytes, next_generation_++, 0};
  if (existed) {
    hint.delivery = hint_it->second.delivery;  // still in flight, with the older state
    index_erase(target_it, hint_it);
  }
  index_insert(target_it, std::move(hint_key), hint);
  ++stats_.stored;
  return Status::ok();
}

std::vector<HintedHandoff::Delivery> HintedHandoff::due(
    TimePoint now, int64_t unix_ms, const std::function<bool(const NodeId&)>& is_up) {
  QKV_ASSERT(opened_);
  start_backoffs(now);
  release_timed_out(now);
  expire(unix_ms);
  std::vector<Delivery> out;
  uint64_t allowed = budget(now);
  if (allowed == 0) return out;

  // One turn per eligible target, starting after the target served last.
  struct Turn {
    TargetMap::iterator target;
    std::map<HintKey, Hint>::iterator next;
  };
  std::vector<Turn> turns;
  auto it = last_served_ ? targets_.upper_bound(*last_served_) : targets_.begin();
  for (std::size_t i = 0; i < targets_.size(); ++i, ++it) {
    if (it == targets_.end()) it = targets_.begin();
    Target& target = it->second;
    if (target.hints.empty() || target.retry_after > now || !is_up(it->first)) continue;
    turns.push_back({it, target.hints.begin()});
  }
  while (allowed > 0 && !turns.empty()) {
    for (std::size_t i = 0; i < turns.size() && allowed > 0;) {
      Turn& turn = turns[i];
      auto& hints = turn.target->second.hints;
      while (turn.next != hints.end() && turn.next->second.delivery != 0) ++turn.next;
      if (turn.next == hints.end()) {
        turns.erase(turns.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      auto hint = turn.next++;  // deliver() may erase it
      auto delivery = deliver(turn.target, hint, now);
      if (!delivery.is_ok()) return out;  // storage fails: try again next time
      if (!*delivery) continue;           // dropped: this target's turn goes on
      last_served_ = turn.target->first;
      out.push_back(std::move(**delivery));
      --allowed;
      bucket_millis_ -= 1000;
      ++i;
    }
  }
  return out;
}

void HintedHandoff::on_ack(uint64_t delivery_id, const Status& status) {
  QKV_ASSERT(opened_);
  auto it = in_flight_.find(delivery_id);
  if (it == in_flight_.end()) return;
  const InFlight sent = std::move(it->second);
  in_flight_.erase(it);
  auto target_it = targets_.find(sent.target);
  QKV_ASSERT(target_it != targets_.end());  // targets are never erased
  auto& hints = target_it->second.hints;
  auto hint_it = hints.find(sent.key);
  if (hint_it != hints.end() && hint_it->second.delivery == delivery_id) {
    hint_it->second.delivery = 0;
  }
  if (!status.is_ok()) {
    ++stats_.failed_deliveries;
    failed_.insert_or_assign(sent.target, status.to_string());  // backs off at the next due()
    return;
  }
  ++stats_.delivered;
  // Delete only what the target acknowledged: not a hint a newer write was joined into
  // since (nor one that expired, or was replaced after expiring, meanwhile).
  if (hint_it == hints.end() || hint_it->second.generation != sent.generation) return;
  Status deleted = storage_.delete_hint(sent.target, sent.key.first, sent.key.second);
  if (!deleted.is_ok()) {
    storage_failed("deleting a delivered hint", deleted);  // it stays: replayed again, harmless
    return;
  }
  storage_worked();
  index_erase(target_it, hint_it);
}

Result<std::optional<causal::SiblingSet>> HintedHandoff::join_of_hints(ring::Token token,
                                                                       const std::string& key,
                                                                       int64_t unix_ms) {
  QKV_ASSERT(opened_);
  const HintKey wanted{token, key};
  std::optional<causal::SiblingSet> joined;
  for (const auto& [target, held] : targets_) {
    if (!held.hints.contains(wanted)) continue;
    auto read = storage_.get_hint(target, token, key);
    if (!read.is_ok()) {
      storage_failed("reading a hint for a read", read.status());
      return read.status();
    }
    if (!*read) continue;  // the index and storage disagree: due() forgets it
    auto decoded = decode_hint_value(**read);
    if (!decoded.is_ok()) {
      log(LogEvent::warn("hint_corrupt")
              .with("target", target)
              .with("token", token)
              .with("action", "skipped_in_read")
              .with("error", decoded.status().message()));
      continue;
    }
    // An expired hint is never read, even before due() deletes it: it may hold what a
    // reaped tombstone deleted (node/reaper.h).
    if (unix_ms - decoded->created_unix_ms > config_.hint_age_max.count()) continue;
    joined = joined ? causal::SiblingSet::join(*joined, decoded->state) : decoded->state;
  }
  return joined;
}

std::map<NodeId, std::pair<uint64_t, uint64_t>> HintedHandoff::pending() const {
  std::map<NodeId, std::pair<uint64_t, uint64_t>> out;
  for (const auto& [id, target] : targets_) {
    if (!target.hints.empty()) out.emplace(id, std::pair{target.hints.size(), target.bytes});
  }
  return out;
}

std::vector<LogEvent> HintedHandoff::take_log_events() {
  std::vector<LogEvent> out = std::move(events_);
  events_.clear();
  if (lines_suppressed_ > 0) {
    out.push_back(LogEvent::warn("handoff_log_lines_suppressed")
                      .with("count", lines_suppressed_)
                      .with("log_lines_max", kLogLinesMax));
  }
  for (const auto& [target, count] : expired_unlogged_) {
    out.push_back(LogEvent::warn("hints_expired")
                      .with("target", target)
                      .with("count", count)
                      .with("hint_age_max_ms", config_.hint_age_max.count()));
  }
  for (const auto& [target, count] : refused_unlogged_) {
    out.push_back(LogEvent::warn("hints_refused_full")
                      .with("target", target)
                      .with("count", count)
                      .with("hint_bytes", hint_bytes_)
                      .with("hint_bytes_max", config_.hint_bytes_max));
  }
  expired_unlogged_.clear();
  refused_unlogged_.clear();
  lines_suppressed_ = 0;
  return out;
}

void HintedHandoff::index_insert(TargetMap::iterator target, HintKey key, Hint hint) {
  auto [it, inserted] = target->second.hints.emplace(std::move(key), hint);
  QKV_ASSERT(inserted);
  target->second.bytes += hint.bytes;
  hint_bytes_ += hint.bytes;
  by_age_.insert(AgeEntry{hint.created_unix_ms, &target->first, &it->first});
}

void HintedHandoff::index_erase(TargetMap::iterator target,
                                std::map<HintKey, Hint>::iterator hint) {
  const std::size_t erased =
      by_age_.erase(AgeEntry{hint->second.created_unix_ms, &target->first, &hint->first});
  QKV_ASSERT(erased == 1);
  target->second.bytes -= hint->second.bytes;
  hint_bytes_ -= hint->second.bytes;
  target->second.hints.erase(hint);
}

void HintedHandoff::start_backoffs(TimePoint now) {
  for (const auto& [target, error] : failed_) back_off(targets_.at(target), target, now, error);
  failed_.clear();
}

void HintedHandoff::release_timed_out(TimePoint now) {
  std::map<NodeId, uint64_t> timed_out;  // per target
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (now - it->second.sent_at < config_.delivery_timeout) {
      ++it;
      continue;
    }
    auto& hints = targets_.at(it->second.target).hints;
    auto hint = hints.find(it->second.key);
    if (hint != hints.end() && hint->second.delivery == it->first) hint->second.delivery = 0;
    ++stats_.failed_deliveries;
    ++timed_out[it->second.target];
    it = in_flight_.erase(it);
  }
  for (const auto& [target, count] : timed_out) {
    back_off(targets_.at(target), target, now,
             fmt::format("{} deliveries unacknowledged after delivery_timeout_ms={}", count,
                         config_.delivery_timeout.count()));
  }
}

void HintedHandoff::expire(int64_t unix_ms) {
  // Hints created before `cutoff` are older than hint_age_max (saturating, never overflows).
  const int64_t age_max = config_.hint_age_max.count();
  const int64_t cutoff = unix_ms < std::numeric_limits<int64_t>::min() + age_max
                             ? std::numeric_limits<int64_t>::min()
                             : unix_ms - age_max;
  while (!by_age_.empty() && by_age_.begin()->created_unix_ms < cutoff) {
    const AgeEntry& oldest = *by_age_.begin();
    auto target = targets_.find(*oldest.target);
    auto hint = target->second.hints.find(*oldest.key);
    Status deleted = storage_.delete_hint(target->first, hint->first.first, hint->first.second);
    if (!deleted.is_ok()) {
      storage_failed("deleting an expired hint", deleted);
      return;  // tried again next time
    }
    storage_worked();
    ++stats_.dropped_expired;
    ++expired_unlogged_[target->first];
    index_erase(target, hint);
  }
}

uint64_t HintedHandoff::budget(TimePoint now) {
  const uint64_t rate = config_.hints_per_second_max;
  const uint64_t capacity = rate * 1000;  // one second's worth, in thousandths
  if (!bucket_refilled_) {
    bucket_millis_ = capacity;
    bucket_refilled_ = now;
  } else if (now > *bucket_refilled_) {
    // Past one second the bucket is full anyway; capping also keeps the product small.
    const auto elapsed_ms =
        static_cast<uint64_t>(std::min<Duration::rep>((now - *bucket_refilled_).count(), 1000));
    bucket_millis_ = std::min(capacity, bucket_millis_ + elapsed_ms * rate);
    bucket_refilled_ = now;
  }
  const uint64_t by_rate = bucket_millis_ / 1000;
  const uint64_t by_in_flight =
      config_.in_flight_max - std::min<uint64_t>(in_flight_.size(), config_.in_flight_max);
  return std::min(by_rate, by_in_flight);
}

Result<std::optional<HintedHandoff::Delivery>> HintedHandoff::deliver(
    TargetMap::iterator target, std::map<HintKey, Hint>::iterator hint, TimePoint now) {
  const ring::Token token = hint->first.first;
  const std::string& key = hint->first.second;
  auto read = storage_.get_hint(target->first, token, key);
  if (!read.is_ok()) {
    storage_failed("reading a hint to replay", read.status());
    return read.status();
  }
  if (!*read) {  // the index and storage disagree: something else deleted it
    log(LogEvent::warn("hint_missing")
            .with("target", target->first)
            .with("token", token)
            .with("action", "forgotten"));
    index_erase(target, hint);
    return std::optional<Delivery>();
  }
  auto decoded = decode_hint_value(**read);
  if (!decoded.is_ok()) {
    Status deleted = storage_.delete_hint(target->first, token, key);
    if (!deleted.is_ok()) {
      storage_failed("deleting a corrupt hint", deleted);
      return deleted;
    }
    storage_worked();
    ++stats_.dropped_corrupt;
    log(LogEvent::warn("hint_corrupt")
            .with("target", target->first)
            .with("token", token)
            .with("action", "dropped")
            .with("error", decoded.status().message()));
    index_erase(target, hint);
    return std::optional<Delivery>();
  }
  const uint64_t id = next_delivery_id_++;
  hint->second.delivery = id;
  in_flight_.emplace(id, InFlight{target->first, hint->first, hint->second.generation, now});
  return std::optional<Delivery>(
      Delivery{id, target->first, token, key, std::move(decoded).value().state});
}

void HintedHandoff::back_off(Target& target, const NodeId& id, TimePoint now,
                             const std::string& why) {
  const bool backing_off = target.retry_after > now;
  target.retry_after = now + config_.retry_backoff;
  if (backing_off) return;  // logged when it began
  log(LogEvent::warn("hint_delivery_failed")
          .with("target", id)
          .with("error", why)
          .with("retry_backoff_ms", config_.retry_backoff.count()));
}

void HintedHandoff::storage_failed(const std::string& doing, const Status& status) {
  if (storage_failing_) return;
  storage_failing_ = true;
  log(LogEvent::warn("hint_storage_error")
          .with("doing", doing)
          .with("error", status)
          .with("note", "not logged again until a hint write succeeds"));
}

void HintedHandoff::log(LogEvent event) {
  if (events_.size() < kLogLinesMax) {
    events_.push_back(std::move(event));
  } else {
    ++lines_suppressed_;
  }
}

}  // namespace qkv::handoff
