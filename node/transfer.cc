#include "node/transfer.h"

#include <fmt/format.h>

#include <algorithm>

#include "node/wire/replica_codec.h"

namespace qkv::node {
namespace {

bool after_cursor(const std::optional<std::pair<ring::Token, std::string>>& cursor,
                  ring::Token token, std::string_view key) {
  if (!cursor) return true;
  if (token != cursor->first) return token > cursor->first;
  return key > std::string_view(cursor->second);
}

}  // namespace

OwnershipTransfer::OwnershipTransfer(TransferConfig config, NodeId self, uint32_t n,
                                     storage::Storage& storage, Transport& transport,
                                     Replica& replica, TreeReady tree_ready, InFlight& ids)
    : config_(config),
      self_(std::move(self)),
      n_(n),
      storage_(storage),
      transport_(transport),
      replica_(replica),
      tree_ready_(std::move(tree_ready)),
      ids_(ids) {
  QKV_ASSERT(config_.validate().is_ok());
  budget_bytes_ = static_cast<double>(config_.bytes_per_second_max);
}

void OwnershipTransfer::set_ring(std::shared_ptr<const ring::Ring> current,
                                 std::shared_ptr<const ring::Ring> next, uint64_t version,
                                 std::vector<NodeId> removed) {
  const bool same_transition = next && next_ && *next == *next_ && current && current_ &&
                               *current == *current_ && removed == removed_;
  current_ = std::move(current);
  next_ = std::move(next);
  removed_ = std::move(removed);
  version_ = version;
  // A claimant handover re-issues the same transition under a new version: pulls go on.
  if (same_transition) return;
  cleared_ = false;
  inbound_.clear();
  in_flight_.clear();  // late replies of ended pulls are ignored
  if (!next_ || !current_) return;
  for (const ring::Transfer& t : ring::plan_transfers(*current_, *next_, n_)) {
    if (t.to == self_) inbound_.emplace(t.partition, inbound_for(t, removed_));
  }
}

OwnershipTransfer::Inbound OwnershipTransfer::inbound_for(
    const ring::Transfer& transfer, const std::vector<NodeId>& removed) const {
  auto is_removed = [&](const NodeId& id) {
    return std::find(removed.begin(), removed.end(), id) != removed.end();
  };
  Inbound in;
  const auto primaries =
      current_->preference_list(current_->first_token(transfer.partition), n_).primaries;
  in.every_source = std::any_of(primaries.begin(), primaries.end(), is_removed);
  if (!is_removed(transfer.from)) in.sources.push_back(transfer.from);
  for (const NodeId& p : primaries) {
    if (p != transfer.from && p != self_ && !is_removed(p)) in.sources.push_back(p);
  }
  if (in.every_source) in.all_sources = in.sources;
  in.received = in.sources.empty();  // no old replica survives: nothing to copy
  return in;
}

void OwnershipTransfer::source_done(Inbound& in) {
  if (!in.every_source) {
    in.received = true;
    return;
  }
  // This source sent all of the range; the next one still to pull starts from the beginning.
  in.sources.erase(in.sources.begin() + static_cast<std::ptrdiff_t>(in.source));
  in.source = 0;
  in.cursor.reset();
  in.received = in.sources.empty();
}

void OwnershipTransfer::on_commit_failed() {
  // What the last batches staged may be lost: copy every range again (joins are idempotent).
  for (auto& [p, in] : inbound_) {
    if (in.every_source) {
      in.sources = in.all_sources;
      in.source = 0;
    }
    in.cursor.reset();
    in.received = in.sources.empty();
    in.done = false;
  }
}

uint64_t OwnershipTransfer::done_version() const {
  if (!next_) return 0;
  for (const auto& [p, in] : inbound_) {
    if (!in.done) return 0;
  }
  return version_;
}

std::vector<InboundTransfer> OwnershipTransfer::inbound() const {
  std::vector<InboundTransfer> out;
  for (const auto& [p, in] : inbound_) {
    out.push_back(InboundTransfer{p, in.sources.empty() ? NodeId() : in.sources[in.source], in.keys,
                                  in.bytes, in.done, in.request_id != 0});
  }
  return out;
}

void OwnershipTransfer::refill(TimePoint now) {
  double rate = static_cast<double>(config_.bytes_per_second_max);
  double elapsed_s = static_cast<double>((now - budget_at_).count()) / 1000.0;
  budget_at_ = now;
  budget_bytes_ = std::min(rate, budget_bytes_ + std::max(0.0, elapsed_s) * rate);
}

bool OwnershipTransfer::completion_due() const {
  if (!next_) return false;
  return std::any_of(inbound_.begin(), inbound_.end(), [&](const auto& entry) {
    return entry.second.received && !entry.second.done && tree_ready_(entry.first);
  });
}

void OwnershipTransfer::on_tick(TimePoint now) {
  if (!next_) return;
  refill(now);
  std::size_t active = in_flight_.size();
  for (auto& [p, in] : inbound_) {
    if (in.received) {
      // The range is copied; it is done once its tree has caught up (a scan may still run).
      if (!in.done && tree_ready_(p)) {
        in.done = true;
        ++counters_.ranges_done;
      }
      continue;
    }
    if (in.request_id != 0) {
      if (now >= in.deadline) {
        in_flight_.erase(in.request_id);
        --active;
        fail(in, now);
      }
      continue;
    }
    if (!cleared_ || now < in.retry_at || active >= config_.concurrent_max || budget_bytes_ <= 0) {
      continue;
    }
    // The first source that is up, from the current one on.
    for (std::size_t i = 0; i < in.sources.size(); ++i) {
      std::size_t candidate = (in.source + i) % in.sources.size();
      if (!is_up_ || is_up_(in.sources[candidate])) {
        in.source = candidate;
        break;
      }
    }
    uint64_t id = ids_.next_id();
    TransferRequest request{p, version_, in.cursor, config_.batch_bytes_max};
    Status sent = transport_.send(in.sources[in.source], PeerMessage{self_, id, request});
    if (!sent.is_ok()) {
      fail(in, now);
      continue;
    }
    in.request_id = id;
    in.deadline = now + config_.request_timeout;
    in_flight_.emplace(id, p);
    ++active;
  }
}

void OwnershipTransfer::fail(Inbound& in, TimePoint now) {
  ++counters_.source_failures;
  in.request_id = 0;
  in.source = (in.source + 1) % in.sources.size();
  in.retry_at = now + config_.retry_interval;
  // Every source is pulled in full: the next one starts from the beginning of the range.
  if (in.every_source) in.cursor.reset();
}

void OwnershipTransfer::on_peer_unreachable(const NodeId& peer, TimePoint now) {
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    Inbound& in = inbound_.at(it->second);
    if (in.sources[in.source] != peer) {
      ++it;
      continue;
    }
    it = in_flight_.erase(it);
    fail(in, now);
  }
}

void OwnershipTransfer::on_message(const PeerMessage& message, TimePoint now) {
  if (const auto* request = std::get_if<TransferRequest>(&message.body)) {
    return answer(message, *request);
  }
  if (const auto* reply = std::get_if<TransferReply>(&message.body)) {
    on_reply(message, *reply, now);
  }
}

void OwnershipTransfer::answer(const PeerMessage& message, const TransferRequest& request) {
  auto send = [&](TransferReply reply) {
    (void)transport_.send(message.from, PeerMessage{self_, message.request_id, std::move(reply)});
  };
  if (!current_) return send({Status::unavailable(self_ + " has not learned the ring yet"), {}});
  if (request.ring_version > version_) {
    // Not an error of the receiver: this node has not applied the transition yet.
    return send({Status::unavailable(fmt::format("{} has not applied ring version {} yet", self_,
                                                 request.ring_version)),
                 {}});
  }
  if (request.partition >= current_->partition_count() ||
      !current_->preference_list(current_->first_token(request.partition), n_).is_primary(self_)) {
    return send({Status::invalid_argument(
                     fmt::format("{} is not a replica of key range {}", self_, request.partition)),
                 {}});
  }
  const ring::Token first =
      request.after ? request.after->first : current_->first_token(request.partition);
  const ring::Token last = current_->last_token(request.partition);
  const uint64_t bytes_max = std::clamp<uint64_t>(request.bytes_max, 1, kTransferBatchBytesCap);
  TransferReply reply{Status::ok(), {}, true};
  uint64_t bytes = 0;
  Status scanned = storage_.scan(
      first, last, [&](ring::Token token, std::string_view key, std::string_view value) {
        if (!after_cursor(request.after, token, key)) return true;
        if (bytes >= bytes_max) {
          reply.done = false;  // more to come: the receiver asks again after the last state
          return false;
        }
        auto state = decode_sibling_set(value);
        if (!state) {
          reply.status = state.status();
          return false;
        }
        bytes += key.size() + value.size();
        reply.states.push_back(KeyState{std::string(key), std::move(state).value()});
        return true;
      });
  if (!scanned.is_ok()) reply.status = scanned;
  if (!reply.status.is_ok()) {
    reply.states.clear();
    reply.done = false;
  }
  counters_.keys_sent += reply.states.size();
  counters_.bytes_sent += bytes;
  send(std::move(reply));
}

void OwnershipTransfer::on_reply(const PeerMessage& message, const TransferReply& reply,
                                 TimePoint now) {
  auto flight = in_flight_.find(message.request_id);
  if (flight == in_flight_.end()) return;  // an ended pull, or given up on
  Inbound& in = inbound_.at(flight->second);
  in_flight_.erase(flight);
  if (message.from != in.sources[in.source]) return fail(in, now);
  if (!reply.status.is_ok()) return fail(in, now);
  in.request_id = 0;
  uint64_t bytes = 0;
  for (const KeyState& ks : reply.states) {
    ring::Token token = ring::token_of(ks.key);
    if (Status s = replica_.merge(token, ks.key, *ks.state); !s.is_ok()) {
      // The cursor stays before this state: the next batch starts from it.
      in.retry_at = now + config_.retry_interval;
      return;
    }
    in.cursor.emplace(token, ks.key);
    // Keys and values: what the source's scan counted too, without encoding the state again
    // (that cost 5 % of a receiver's thread).
    bytes += ks.key.size();
    for (const auto& sibling : ks.state->siblings()) bytes += sibling.value.size();
    ++in.keys;
  }
  in.bytes += bytes;
  counters_.keys_received += reply.states.size();
  counters_.bytes_received += bytes;
  budget_bytes_ -= static_cast<double>(bytes);
  if (reply.done) source_done(in);
}

}  // namespace qkv::node
