#include "node/in_flight.h"

#include "common/assert.h"

namespace qkv::node {

InFlight::InFlight(uint64_t incarnation, uint64_t generation)
    // High bits from the incarnation and the generation: a restarted node does not reuse
    // request ids, so its new forwards are never mistaken for duplicates of its old ones.
    : next_id_((((incarnation ^ (generation << 17)) * 0x9E3779B97F4A7C15ull) & ~0xFFFFFFFFull) |
               1) {}

void InFlight::track(uint64_t id, RequestKind kind, ReplyTo reply_to, TimePoint deadline,
                     TimePoint alarm) {
  const bool client = reply_to.client.has_value();
  bool inserted =
      entries_.emplace(id, Entry{kind, std::move(reply_to), deadline, alarm, false}).second;
  QKV_ASSERT(inserted);
  if (client) ++client_requests_;
  alarms_.insert({alarm, id});
}

void InFlight::rearm(uint64_t id, TimePoint alarm) {
  auto it = entries_.find(id);
  QKV_ASSERT(it != entries_.end());
  alarms_.erase({it->second.alarm, id});
  it->second.alarm = alarm;
  alarms_.insert({alarm, id});
}

void InFlight::forget(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  alarms_.erase({it->second.alarm, id});
  if (it->second.reply_to.client && !it->second.answered) --client_requests_;
  entries_.erase(it);
}

void InFlight::answered(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.answered) return;
  it->second.answered = true;
  if (it->second.reply_to.client) --client_requests_;
}

const InFlight::Entry* InFlight::find(uint64_t id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

std::optional<uint64_t> InFlight::pop_due(TimePoint now) {
  if (alarms_.empty() || alarms_.begin()->first > now) return std::nullopt;
  uint64_t id = alarms_.begin()->second;
  alarms_.erase(alarms_.begin());
  return id;
}

std::optional<TimePoint> InFlight::next_alarm() const {
  if (alarms_.empty()) return std::nullopt;
  return alarms_.begin()->first;
}

}  // namespace qkv::node
