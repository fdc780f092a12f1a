// AntiEntropy (node/anti_entropy.h), the exchanges. As initiator: the descent of the trees
// (TreeRequest), then the differing segments (SegmentRequest) and keys (KeysRequest), each
// step sent as the byte budget allows (a step past its deadline is failed by the tick, in
// anti_entropy.cc). As responder: the answers to a peer's steps.
#include "node/anti_entropy.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "node/wire/replica_codec.h"

namespace qkv::node {

using antientropy::MerkleTree;
using antientropy::SegmentEntry;

void AntiEntropy::start_due_exchanges(TimePoint now) {
  for (auto& [p, tree] : trees_) {
    if (exchanges_.size() >= config_.concurrent_exchanges_max) break;
    if (!tree.built || now < tree.next_exchange) continue;
    tree.next_exchange = now + jittered(config_.exchange_interval);
    std::vector<NodeId> peers = other_primaries(p);
    // Round robin over the peers that are up.
    std::optional<NodeId> peer;
    for (std::size_t i = 0; i < peers.size() && !peer; ++i) {
      const NodeId& candidate = peers[(tree.next_peer + i) % peers.size()];
      if (peer_up(candidate)) {
        peer = candidate;
        tree.next_peer = (tree.next_peer + i + 1) % peers.size();
      }
    }
    if (peer) start(p, *peer, /*repair=*/false, now);
  }
}

Duration AntiEntropy::jittered(Duration d) {
  double f = std::uniform_real_distribution<double>(0.75, 1.25)(random_);
  return Duration(std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(d.count()) * f)));
}

void AntiEntropy::start(uint32_t partition, const NodeId& peer, bool repair, TimePoint now) {
  uint64_t id = ids_.next_id();
  Exchange ex;
  ex.partition = partition;
  ex.peer = peer;
  ex.repair = repair;
  ex.descent = std::make_unique<antientropy::Descent>(trees_.at(partition).tree);
  auto& inserted = exchanges_.emplace(id, std::move(ex)).first->second;
  const auto& request = inserted.descent->request();
  step(inserted, TreeRequest{partition, config_.segments, request.level, request.indices}, now);
}

void AntiEntropy::step(Exchange& ex, PeerBody body, TimePoint now) {
  ex.request_id = ids_.next_id();
  ex.to_send = PeerMessage{self_, ex.request_id, std::move(body)};
  ex.step_deadline = now + config_.exchange_timeout;
}

void AntiEntropy::send_ready(TimePoint now, int64_t unix_ms) {
  std::vector<std::pair<uint64_t, Status>> failed;  // not sent: the peer is unreachable
  for (auto& [id, ex] : exchanges_) {
    if (!ex.to_send || budget_bytes_ <= 0) continue;
    uint64_t bytes = 0;
    Status sent = send_now(ex.peer, std::move(*ex.to_send), bytes);
    ex.to_send.reset();
    ex.bytes_sent += bytes;
    if (ex.repair) repair_.bytes_sent += bytes;
    ex.step_deadline = now + config_.exchange_timeout;
    if (!sent.is_ok()) failed.emplace_back(id, std::move(sent));
  }
  for (auto& [id, status] : failed) finish(id, status, unix_ms);
}

Status AntiEntropy::send_now(const NodeId& to, PeerMessage message, uint64_t& bytes) {
  bytes = encode(message).size() * sizeof(capnp::word);
  budget_bytes_ -= static_cast<double>(bytes);
  counters_.bytes_sent += bytes;
  return transport_.send(to, std::move(message));
}

void AntiEntropy::on_message(const PeerMessage& message, TimePoint now, int64_t unix_ms) {
  const PeerBody& body = message.body;
  if (std::holds_alternative<TreeRequest>(body) || std::holds_alternative<SegmentRequest>(body) ||
      std::holds_alternative<KeysRequest>(body)) {
    return answer(message);
  }
  // A reply: to the exchange whose current step it answers (a duplicate or late one is
  // dropped).
  for (auto& [id, ex] : exchanges_) {
    if (ex.request_id != message.request_id || ex.peer != message.from || ex.to_send) continue;
    if (const auto* tree = std::get_if<TreeReply>(&body); tree && ex.phase == Phase::kTree) {
      on_tree_reply(id, ex, *tree, now, unix_ms);
    } else if (const auto* seg = std::get_if<SegmentReply>(&body);
               seg && ex.phase == Phase::kSegments) {
      on_segment_reply(id, ex, *seg, now, unix_ms);
    } else if (const auto* keys = std::get_if<KeysReply>(&body); keys && ex.phase == Phase::kKeys) {
      on_keys_reply(id, ex, *keys, now, unix_ms);
    }
    break;
  }
  send_ready(now, unix_ms);
}

void AntiEntropy::answer(const PeerMessage& message) {
  if (const auto* req = std::get_if<TreeRequest>(&message.body)) {
    answer_tree(message, *req);
  } else if (const auto* req = std::get_if<SegmentRequest>(&message.body)) {
    answer_segments(message, *req);
  } else if (const auto* req = std::get_if<KeysRequest>(&message.body)) {
    answer_keys(message, *req);
  }
}

std::optional<Status> AntiEntropy::refusal(uint32_t partition,
                                           std::optional<uint32_t> segments) const {
  if (!config_.enabled) return Status::unavailable("anti-entropy is off on " + self_);
  if (!ring_) return Status::unavailable(self_ + " has not learned the ring yet");
  if (partition >= ring_->partition_count()) {
    return Status::invalid_argument(fmt::format("partition {} does not exist (the ring has {})",
                                                partition, ring_->partition_count()));
  }
  if (!trees_.count(partition)) {
    return Status::invalid_argument(
        fmt::format("{} is not a replica of partition {}", self_, partition));
  }
  if (segments && *segments != config_.segments) {
    return Status::invalid_argument(
        fmt::format("trees differ in shape: {} has {} segments, the request {}", self_,
                    config_.segments, *segments));
  }
  return std::nullopt;
}

void AntiEntropy::answer_tree(const PeerMessage& message, const TreeRequest& req) {
  TreeReply reply;
  if (auto refused = refusal(req.partition, req.segments)) {
    reply.status = *refused;
  } else if (!trees_.at(req.partition).built) {
    reply.status = Status::unavailable(
        fmt::format("{}'s tree of partition {} is not built yet", self_, req.partition));
  } else {
    const MerkleTree& tree = trees_.at(req.partition).tree;
    for (uint32_t index : req.indices) {
      if (req.level > tree.depth() || index >= (uint64_t{1} << req.level)) {
        reply.status = Status::invalid_argument(fmt::format(
            "no node {} on level {} of a tree of depth {}", index, req.level, tree.depth()));
        reply.hashes.clear();
        break;
      }
      reply.hashes.push_back(tree.node(req.level, index));
    }
  }
  uint64_t bytes = 0;
  (void)send_now(message.from, PeerMessage{self_, message.request_id, std::move(reply)}, bytes);
}

void AntiEntropy::answer_segments(const PeerMessage& message, const SegmentRequest& req) {
  SegmentReply reply;
  if (auto refused = refusal(req.partition, req.segments)) {
    reply.status = *refused;
  } else {
    const MerkleTree& tree = trees_.at(req.partition).tree;
    uint64_t bytes = 0;
    for (uint32_t segment : req.segment_ids) {
      if (segment >= tree.segments()) {
        reply.status = Status::invalid_argument(
            fmt::format("no segment {} in a tree of {}", segment, tree.segments()));
        reply.entries.clear();
        reply.segments_included = 0;
        break;
      }
      // Whole segments only; at least one even past the bound.
      if (reply.segments_included > 0 && bytes >= config_.reply_bytes_max) break;
      std::size_t before = reply.entries.size();
      Status s = scan_segment(tree, segment, reply.entries);
      if (!s.is_ok()) {
        reply.status = s;
        reply.entries.clear();
        reply.segments_included = 0;
        break;
      }
      for (std::size_t i = before; i < reply.entries.size(); ++i) {
        bytes += reply.entries[i].key.size() + 24;
      }
      ++reply.segments_included;
    }
  }
  uint64_t bytes = 0;
  (void)send_now(message.from, PeerMessage{self_, message.request_id, std::move(reply)}, bytes);
}

void AntiEntropy::answer_keys(const PeerMessage& message, const KeysRequest& req) {
  KeysReply reply;
  if (auto refused = refusal(req.partition)) {
    reply.status = *refused;
  } else {
    uint64_t bytes = 0;
    for (const std::string& key : req.keys) {
      if (reply.keys_included > 0 && bytes >= config_.reply_bytes_max) break;
      auto state = replica_.load(ring::token_of(key), key);
      if (!state) {
        reply.status = state.status();
        reply.states.clear();
        reply.keys_included = 0;
        break;
      }
      if (state.value()) {
        for (const auto& s : state.value()->siblings()) bytes += s.value.size() + 32;
      }
      bytes += key.size();
      reply.states.push_back(KeyState{key, std::move(state).value()});
      ++reply.keys_included;
    }
  }
  uint64_t bytes = 0;
  (void)send_now(message.from, PeerMessage{self_, message.request_id, std::move(reply)}, bytes);
}

void AntiEntropy::on_tree_reply(uint64_t id, Exchange& ex, const TreeReply& reply, TimePoint now,
                                int64_t unix_ms) {
  if (!reply.status.is_ok()) return finish(id, reply.status, unix_ms);
  if (Status s = ex.descent->on_reply(reply.hashes); !s.is_ok()) return finish(id, s, unix_ms);
  if (!ex.descent->done()) {
    const auto& request = ex.descent->request();
    return step(ex, TreeRequest{ex.partition, config_.segments, request.level, request.indices},
                now);
  }
  ex.segments_left = ex.descent->differing_segments();
  counters_.segments_differing += ex.segments_left.size();
  // Compared in ascending order: segments_left is consumed from its back.
  std::reverse(ex.segments_left.begin(), ex.segments_left.end());
  ex.phase = Phase::kSegments;
  next_segments(id, ex, now, unix_ms);
}

void AntiEntropy::next_segments(uint64_t id, Exchange& ex, TimePoint now, int64_t unix_ms) {
  if (ex.segments_left.empty()) {
    ex.phase = Phase::kKeys;
    return next_keys(id, ex, now, unix_ms);
  }
  SegmentRequest request{ex.partition, config_.segments, {}};
  for (auto it = ex.segments_left.rbegin();
       it != ex.segments_left.rend() && request.segment_ids.size() < config_.segments_per_request;
       ++it) {
    request.segment_ids.push_back(*it);
  }
  step(ex, std::move(request), now);
}

void AntiEntropy::on_segment_reply(uint64_t id, Exchange& ex, const SegmentReply& reply,
                                   TimePoint now, int64_t unix_ms) {
  if (!reply.status.is_ok()) return finish(id, reply.status, unix_ms);
  uint32_t included =
      std::min<uint32_t>(reply.segments_included, static_cast<uint32_t>(ex.segments_left.size()));
  if (included == 0) {
    return finish(id, Status::corruption(ex.peer + " answered a segment request with none"),
                  unix_ms);
  }
  auto t = trees_.find(ex.partition);
  if (t == trees_.end())
    return finish(id, Status::unavailable("partition no longer replicated"), unix_ms);
  std::vector<SegmentEntry> local;
  for (uint32_t i = 0; i < included; ++i) {
    uint32_t segment = ex.segments_left.back();
    ex.segments_left.pop_back();
    if (Status s = scan_segment(t->second.tree, segment, local); !s.is_ok()) {
      return finish(id, s, unix_ms);
    }
  }
  std::set<std::string_view> keys;
  for (const auto& e : local) keys.insert(e.key);
  for (const auto& e : reply.entries) keys.insert(e.key);
  ex.keys_compared += keys.size();
  for (auto& key : antientropy::differing_keys(local, reply.entries)) {
    ex.keys_left.push_back(std::move(key));
  }
  next_segments(id, ex, now, unix_ms);
}

void AntiEntropy::next_keys(uint64_t id, Exchange& ex, TimePoint now, int64_t unix_ms) {
  if (ex.keys_left.empty()) return finish(id, Status::ok(), unix_ms);
  KeysRequest request{ex.partition, {}};
  std::size_t take = std::min<std::size_t>(ex.keys_left.size(), config_.keys_per_request);
  request.keys.assign(ex.keys_left.end() - static_cast<std::ptrdiff_t>(take), ex.keys_left.end());
  step(ex, std::move(request), now);
}

void AntiEntropy::on_keys_reply(uint64_t id, Exchange& ex, const KeysReply& reply, TimePoint now,
                                int64_t unix_ms) {
  if (!reply.status.is_ok()) return finish(id, reply.status, unix_ms);
  std::size_t asked = std::min<std::size_t>(ex.keys_left.size(), config_.keys_per_request);
  std::size_t included = std::min<std::size_t>({reply.keys_included, reply.states.size(), asked});
  if (included == 0) {
    return finish(id, Status::corruption(ex.peer + " answered a keys request with none"), unix_ms);
  }
  // The request held the last `asked` keys in order; the reply answers a prefix of them.
  std::vector<std::string> requested(ex.keys_left.end() - static_cast<std::ptrdiff_t>(asked),
                                     ex.keys_left.end());
  for (std::size_t i = 0; i < included; ++i) {
    const KeyState& remote = reply.states[i];
    if (remote.key != requested[i]) {
      return finish(
          id, Status::corruption(fmt::format("{} answered key #{} with another key", ex.peer, i)),
          unix_ms);
    }
    ring::Token token = ring::token_of(remote.key);
    auto local = replica_.load(token, remote.key);
    if (!local) return finish(id, local.status(), unix_ms);
    if (!local.value() && !remote.state) continue;
    causal::SiblingSet joined = local.value() && remote.state
                                    ? causal::SiblingSet::join(*local.value(), *remote.state)
                                    : (local.value() ? *local.value() : *remote.state);
    bool repaired = false;
    if (!local.value() || joined != *local.value()) {
      if (Status s = replica_.merge(token, remote.key, joined); !s.is_ok())
        return finish(id, s, unix_ms);
      repaired = true;
    }
    if (!remote.state || joined != *remote.state) {
      uint64_t bytes = 0;
      Status sent = send_now(
          ex.peer, PeerMessage{self_, ids_.next_id(), ReplicaWrite{remote.key, joined, {}}}, bytes);
      if (!sent.is_ok()) return finish(id, sent, unix_ms);
      ex.bytes_sent += bytes;
      if (ex.repair) repair_.bytes_sent += bytes;
      repaired = true;
    }
    if (repaired) ++ex.keys_repaired;
  }
  // Remove the answered prefix of the requested tail.
  auto first_requested = ex.keys_left.end() - static_cast<std::ptrdiff_t>(asked);
  ex.keys_left.erase(first_requested, first_requested + static_cast<std::ptrdiff_t>(included));
  next_keys(id, ex, now, unix_ms);
}

void AntiEntropy::finish(uint64_t id, const Status& status, int64_t unix_ms) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  Exchange ex = std::move(it->second);
  exchanges_.erase(it);
  counters_.keys_compared += ex.keys_compared;
  counters_.keys_repaired += ex.keys_repaired;
  if (status.is_ok()) {
    ++counters_.exchanges;
    if (auto t = trees_.find(ex.partition); t != trees_.end()) {
      t->second.last_success_unix_ms = unix_ms;
    }
    if (ex.keys_repaired > 0) {
      log(LogEvent::info("aae_exchange")
              .with("partition", ex.partition)
              .with("peer", ex.peer)
              .with("keys_compared", ex.keys_compared)
              .with("keys_repaired", ex.keys_repaired)
              .with("bytes_sent", ex.bytes_sent));
    }
  } else {
    ++counters_.exchanges_failed;
    log(LogEvent::warn("aae_exchange_failed")
            .with("partition", ex.partition)
            .with("peer", ex.peer)
            .with("error", status));
  }
  if (ex.repair) repair_exchange_ended(ex, status);
}

void AntiEntropy::on_peer_unreachable(const NodeId& peer, int64_t unix_ms) {
  std::vector<uint64_t> ids;
  for (const auto& [id, ex] : exchanges_) {
    if (ex.peer == peer) ids.push_back(id);
  }
  for (uint64_t id : ids) finish(id, Status::unavailable(peer + " is unreachable"), unix_ms);
}

}  // namespace qkv::node
