#include "node/anti_entropy.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/assert.h"
#include "node/entry_version.h"
#include "node/wire/replica_codec.h"

namespace qkv::node {

using antientropy::Hash128;
using antientropy::MerkleTree;
using antientropy::SegmentEntry;

Status AntiEntropyConfig::validate() const {
  if (segments == 0 || segments > MerkleTree::kSegmentsMax || (segments & (segments - 1)) != 0) {
    return Status::invalid_argument(
        fmt::format("anti_entropy.segments is {}; it must be a power of two in [1, {}]", segments,
                    MerkleTree::kSegmentsMax));
  }
  if (exchange_interval.count() <= 0) {
    return Status::invalid_argument("anti_entropy.exchange_interval_ms must be > 0");
  }
  if (rebuild_interval.count() <= 0) {
    return Status::invalid_argument("anti_entropy.rebuild_interval_ms must be > 0");
  }
  if (concurrent_exchanges_max == 0) {
    return Status::invalid_argument("anti_entropy.concurrent_exchanges_max must be >= 1");
  }
  if (bytes_per_second_max < 4096) {
    return Status::invalid_argument(fmt::format(
        "anti_entropy.bytes_per_second_max is {}; it must be >= 4096", bytes_per_second_max));
  }
  if (exchange_timeout.count() <= 0) {
    return Status::invalid_argument("anti_entropy.exchange_timeout_ms must be > 0");
  }
  if (segments_per_request == 0 || keys_per_request == 0 || reply_bytes_max == 0) {
    return Status::invalid_argument(
        "anti_entropy.segments_per_request, keys_per_request and reply_bytes_max must be > 0");
  }
  return Status::ok();
}

AntiEntropy::AntiEntropy(AntiEntropyConfig config, NodeId self, uint32_t n,
                         storage::Storage& storage, Transport& transport, Load load, Merge merge,
                         std::function<uint64_t()> next_id, uint64_t seed)
    : config_(std::move(config)),
      self_(std::move(self)),
      n_(n),
      storage_(storage),
      transport_(transport),
      load_(std::move(load)),
      merge_(std::move(merge)),
      next_id_(std::move(next_id)),
      random_(seed) {
  QKV_ASSERT(config_.validate().is_ok());
  budget_bytes_ = static_cast<double>(config_.bytes_per_second_max);
}

void AntiEntropy::set_ring(std::shared_ptr<const ring::Ring> ring, TimePoint now,
                           std::shared_ptr<const ring::Ring> next) {
  ring_ = std::move(ring);
  next_ = std::move(next);
  if (!ring_ || !config_.enabled) return;  // off: no trees
  std::set<uint32_t> mine;
  for (uint32_t p = 0; p < ring_->partition_count(); ++p) {
    // A range this node receives in a transition gets its tree now: the copy and the
    // writes keep it current, so it is ready when the ring switches.
    if (is_primary(p) ||
        (next_ && next_->preference_list(next_->first_token(p), n_).is_primary(self_))) {
      mine.insert(p);
    }
  }
  std::erase_if(trees_, [&](const auto& e) { return !mine.count(e.first); });
  for (uint32_t p : mine) {
    if (trees_.count(p)) continue;
    Tree tree(MerkleTree(ring_->first_token(p), ring_->last_token(p), config_.segments));
    // The first exchanges of a fresh node spread over one interval.
    tree.next_exchange =
        now +
        Duration(static_cast<int64_t>(std::uniform_real_distribution<double>(0, 1)(random_) *
                                      static_cast<double>(config_.exchange_interval.count())));
    trees_.emplace(p, std::move(tree));
  }
  // Exchanges of partitions no longer replicated end.
  std::vector<uint64_t> ended;
  for (const auto& [id, ex] : exchanges_) {
    if (!mine.count(ex.partition)) ended.push_back(id);
  }
  for (uint64_t id : ended) {
    finish(id, Status::unavailable("the partition is no longer replicated here"), 0);
  }
  std::erase_if(repair_queue_, [&](const RepairTask& t) { return !mine.count(t.partition); });
  update_repair();
}

bool AntiEntropy::is_primary(uint32_t partition) const {
  if (!ring_) return false;
  return ring_->preference_list(ring_->first_token(partition), n_).is_primary(self_);
}

std::vector<NodeId> AntiEntropy::other_primaries(uint32_t partition) const {
  std::vector<NodeId> out;
  // Exchanges run between the current primaries; a range still being received has none.
  if (!ring_ || !is_primary(partition)) return out;
  for (const auto& p : ring_->preference_list(ring_->first_token(partition), n_).primaries) {
    if (p != self_) out.push_back(p);
  }
  return out;
}

void AntiEntropy::on_write(ring::Token token, const std::optional<Hash128>& before,
                           const Hash128& after) {
  if (!ring_) return;
  auto it = trees_.find(ring_->partition_of(token));
  // A tree not built yet sees the write in its scan; a key of a partition this node does
  // not replicate (a hint delivered late, a stale ring) has no tree.
  if (it == trees_.end() || !it->second.built) return;
  it->second.tree.replace(token, before, after);
}

const MerkleTree* AntiEntropy::tree(uint32_t partition) const {
  auto it = trees_.find(partition);
  if (it == trees_.end() || !it->second.built) return nullptr;
  return &it->second.tree;
}

bool AntiEntropy::all_built() const {
  return std::all_of(trees_.begin(), trees_.end(), [](const auto& e) { return e.second.built; });
}

namespace {
constexpr std::string_view kSavedTreesMagic = "qkv-aae-trees-1";

template <typename T>
void put_int(std::string& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
template <typename T>
bool get_int(std::string_view& in, T& v) {
  if (in.size() < sizeof(T)) return false;
  using U = std::make_unsigned_t<T>;
  U u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    u |= static_cast<U>(static_cast<unsigned char>(in[i])) << (8 * i);
  }
  v = static_cast<T>(u);
  in.remove_prefix(sizeof(T));
  return true;
}
}  // namespace

std::string AntiEntropy::save_trees(TimePoint now, int64_t unix_ms) const {
  std::string out(kSavedTreesMagic);
  for (const auto& [p, tree] : trees_) {
    if (!tree.built) continue;
    std::string bytes = tree.tree.serialize();
    put_int<uint32_t>(out, p);
    put_int<int64_t>(out, unix_ms - (now - tree.built_at).count());  // when it was built
    put_int<uint64_t>(out, bytes.size());
    out += bytes;
  }
  return out;
}

Status AntiEntropy::load_trees(std::string_view saved, TimePoint now, int64_t unix_ms) {
  auto bad = [](const std::string& what) {
    return Status::corruption("saved anti-entropy trees: " + what);
  };
  if (!saved.starts_with(kSavedTreesMagic)) return bad("unknown format");
  saved.remove_prefix(kSavedTreesMagic.size());
  std::vector<std::tuple<uint32_t, int64_t, MerkleTree>> loaded;
  while (!saved.empty()) {
    uint32_t p = 0;
    int64_t built_unix_ms = 0;
    uint64_t size = 0;
    if (!get_int(saved, p) || !get_int(saved, built_unix_ms) || !get_int(saved, size) ||
        size > saved.size()) {
      return bad(fmt::format("truncated after {} trees", loaded.size()));
    }
    auto tree = MerkleTree::deserialize(saved.substr(0, size));
    if (!tree) return bad(fmt::format("partition {}: {}", p, tree.status().message()));
    saved.remove_prefix(size);
    loaded.emplace_back(p, built_unix_ms, std::move(tree).value());
  }
  for (auto& [p, built_unix_ms, tree] : loaded) {
    auto it = trees_.find(p);
    if (it == trees_.end()) continue;  // no longer replicated here
    const MerkleTree& shape = it->second.tree;
    if (tree.first() != shape.first() || tree.last() != shape.last() ||
        tree.segments() != shape.segments()) {
      continue;  // another ring or segment count: built by a scan instead
    }
    it->second.tree = std::move(tree);
    it->second.built = true;
    it->second.built_at = now - Duration(std::max<int64_t>(0, unix_ms - built_unix_ms));
  }
  return Status::ok();
}

void AntiEntropy::build(uint32_t partition, Tree& tree, TimePoint now) {
  MerkleTree fresh(tree.tree.first(), tree.tree.last(), tree.tree.segments());
  Status scanned =
      storage_.scan(fresh.first(), fresh.last(),
                    [&](ring::Token token, std::string_view key, std::string_view value) {
                      auto state = decode_sibling_set(value);
                      // A state that does not decode is left out: it differs from every peer's, so
                      // the exchange fetches the peer's state and the repair overwrites it with the
                      // join.
                      if (state) fresh.insert(token, entry_hash(key, state.value()));
                      return true;
                    });
  ++counters_.tree_builds;
  if (!scanned.is_ok()) {
    log(fmt::format("event=aae_tree_build_failed partition={} error=\"{}\"", partition,
                    scanned.to_string()));
    return;  // retried at the next tick
  }
  tree.tree = std::move(fresh);
  tree.built = true;
  tree.built_at = now;
}

Status AntiEntropy::scan_segment(const MerkleTree& tree, uint32_t segment,
                                 std::vector<SegmentEntry>& out) {
  auto [first, last] = tree.segment_range(segment);
  return storage_.scan(first, last, [&](ring::Token, std::string_view key, std::string_view value) {
    auto state = decode_sibling_set(value);
    if (state) {
      out.push_back(SegmentEntry{std::string(key), entry_hash(key, state.value())});
    }
    return true;
  });
}

void AntiEntropy::on_tick(TimePoint now, int64_t unix_ms) {
  if (!ring_) return;
  // Refill the byte budget: a burst of at most one second's worth.
  if (budget_at_ != TimePoint{}) {
    double seconds = std::chrono::duration<double>(now - budget_at_).count();
    budget_bytes_ = std::min(static_cast<double>(config_.bytes_per_second_max),
                             budget_bytes_ + seconds * config_.bytes_per_second_max);
  }
  budget_at_ = now;

  // One tree build (or periodic rebuild) per tick: a scan of one partition.
  for (auto& [p, tree] : trees_) {
    if (!tree.built || tree.tree.stale() || now - tree.built_at >= config_.rebuild_interval) {
      build(p, tree, now);
      break;
    }
  }

  // Steps that went unanswered fail their exchange.
  std::vector<uint64_t> late;
  for (const auto& [id, ex] : exchanges_) {
    if (!ex.to_send && now >= ex.step_deadline) late.push_back(id);
  }
  for (uint64_t id : late) {
    finish(id,
           Status::unavailable(fmt::format("{} did not answer within {} ms", exchanges_.at(id).peer,
                                           config_.exchange_timeout.count())),
           unix_ms);
  }

  // Start what is due: the repair's exchanges first, then the periodic ones.
  auto up = [&](const NodeId& peer) { return !is_up_ || is_up_(peer); };
  for (RepairTask& task : repair_queue_) {
    if (exchanges_.size() >= config_.concurrent_exchanges_max) break;
    if (!trees_.at(task.partition).built) continue;  // once built
    while (!task.peers_left.empty() && exchanges_.size() < config_.concurrent_exchanges_max) {
      NodeId peer = task.peers_left.back();
      task.peers_left.pop_back();
      if (!up(peer)) {
        task.failed = true;
        repair_.last_error = fmt::format("partition {}: {} is down", task.partition, peer);
        continue;
      }
      ++task.running;
      start(task.partition, peer, /*repair=*/true, now);
    }
  }
  update_repair();
  {
    for (auto& [p, tree] : trees_) {
      if (exchanges_.size() >= config_.concurrent_exchanges_max) break;
      if (!tree.built || now < tree.next_exchange) continue;
      tree.next_exchange = now + jittered(config_.exchange_interval);
      std::vector<NodeId> peers = other_primaries(p);
      // Round robin over the peers that are up.
      std::optional<NodeId> peer;
      for (std::size_t i = 0; i < peers.size() && !peer; ++i) {
        const NodeId& candidate = peers[(tree.next_peer + i) % peers.size()];
        if (up(candidate)) {
          peer = candidate;
          tree.next_peer = (tree.next_peer + i + 1) % peers.size();
        }
      }
      if (peer) start(p, *peer, /*repair=*/false, now);
    }
  }
  send_ready(now, unix_ms);
}

Duration AntiEntropy::jittered(Duration d) {
  double f = std::uniform_real_distribution<double>(0.75, 1.25)(random_);
  return Duration(std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(d.count()) * f)));
}

void AntiEntropy::start(uint32_t partition, const NodeId& peer, bool repair, TimePoint now) {
  uint64_t id = next_id_();
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
  ex.request_id = next_id_();
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
  // Why this node cannot answer for `partition` (with trees of `segments` leaves), if so.
  auto refuse = [&](uint32_t partition,
                    std::optional<uint32_t> segments = std::nullopt) -> std::optional<Status> {
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
  };
  if (const auto* req = std::get_if<TreeRequest>(&message.body)) {
    TreeReply reply;
    if (auto refused = refuse(req->partition, req->segments)) {
      reply.status = *refused;
    } else if (!trees_.at(req->partition).built) {
      reply.status = Status::unavailable(
          fmt::format("{}'s tree of partition {} is not built yet", self_, req->partition));
    } else {
      const MerkleTree& tree = trees_.at(req->partition).tree;
      for (uint32_t index : req->indices) {
        if (req->level > tree.depth() || index >= (uint64_t{1} << req->level)) {
          reply.status = Status::invalid_argument(fmt::format(
              "no node {} on level {} of a tree of depth {}", index, req->level, tree.depth()));
          reply.hashes.clear();
          break;
        }
        reply.hashes.push_back(tree.node(req->level, index));
      }
    }
    uint64_t bytes = 0;
    (void)send_now(message.from, PeerMessage{self_, message.request_id, std::move(reply)}, bytes);
  } else if (const auto* req = std::get_if<SegmentRequest>(&message.body)) {
    SegmentReply reply;
    if (auto refused = refuse(req->partition, req->segments)) {
      reply.status = *refused;
    } else {
      const MerkleTree& tree = trees_.at(req->partition).tree;
      uint64_t bytes = 0;
      for (uint32_t segment : req->segment_ids) {
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
  } else if (const auto* req = std::get_if<KeysRequest>(&message.body)) {
    KeysReply reply;
    if (auto refused = refuse(req->partition)) {
      reply.status = *refused;
    } else {
      uint64_t bytes = 0;
      for (const std::string& key : req->keys) {
        if (reply.keys_included > 0 && bytes >= config_.reply_bytes_max) break;
        auto state = load_(ring::token_of(key), key);
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
    auto local = load_(token, remote.key);
    if (!local) return finish(id, local.status(), unix_ms);
    if (!local.value() && !remote.state) continue;
    causal::SiblingSet joined = local.value() && remote.state
                                    ? causal::SiblingSet::join(*local.value(), *remote.state)
                                    : (local.value() ? *local.value() : *remote.state);
    bool repaired = false;
    if (!local.value() || joined != *local.value()) {
      if (Status s = merge_(token, remote.key, joined); !s.is_ok()) return finish(id, s, unix_ms);
      repaired = true;
    }
    if (!remote.state || joined != *remote.state) {
      uint64_t bytes = 0;
      Status sent = send_now(
          ex.peer, PeerMessage{self_, next_id_(), ReplicaWrite{remote.key, joined, {}}}, bytes);
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
      log(
          fmt::format("event=aae_exchange partition={} peer={} keys_compared={} keys_repaired={} "
                      "bytes_sent={}",
                      ex.partition, ex.peer, ex.keys_compared, ex.keys_repaired, ex.bytes_sent));
    }
  } else {
    ++counters_.exchanges_failed;
    log(fmt::format("event=aae_exchange_failed partition={} peer={} error=\"{}\"", ex.partition,
                    ex.peer, status.to_string()));
  }
  if (!ex.repair) return;
  repair_.keys_compared += ex.keys_compared;
  repair_.keys_repaired += ex.keys_repaired;
  if (!status.is_ok()) {
    repair_.last_error =
        fmt::format("partition {} with {}: {}", ex.partition, ex.peer, status.to_string());
  }
  for (RepairTask& task : repair_queue_) {
    if (task.partition != ex.partition || task.running == 0) continue;
    --task.running;
    if (!status.is_ok()) task.failed = true;
    break;
  }
  update_repair();
}

void AntiEntropy::update_repair() {
  // A partition of the repair is done once every exchange of it has ended.
  for (auto task = repair_queue_.begin(); task != repair_queue_.end();) {
    if (task->running == 0 && task->peers_left.empty()) {
      ++repair_.partitions_done;
      if (task->failed) ++repair_.partitions_failed;
      task = repair_queue_.erase(task);
    } else {
      ++task;
    }
  }
  repair_.running = !repair_queue_.empty();
}

void AntiEntropy::on_peer_unreachable(const NodeId& peer, int64_t unix_ms) {
  std::vector<uint64_t> ids;
  for (const auto& [id, ex] : exchanges_) {
    if (ex.peer == peer) ids.push_back(id);
  }
  for (uint64_t id : ids) finish(id, Status::unavailable(peer + " is unreachable"), unix_ms);
}

uint32_t AntiEntropy::start_repair(std::optional<uint32_t> partition) {
  // An earlier repair's exchanges still running finish as ordinary exchanges.
  for (auto& [id, ex] : exchanges_) ex.repair = false;
  repair_queue_.clear();
  repair_ = proto::RepairProgress{};
  for (const auto& [p, tree] : trees_) {
    if (partition && *partition != p) continue;
    std::vector<NodeId> peers = other_primaries(p);
    std::reverse(peers.begin(), peers.end());  // taken from the back: ring order
    if (peers.empty()) continue;
    repair_queue_.push_back(RepairTask{p, std::move(peers), false, 0});
  }
  repair_.partitions_total = static_cast<uint32_t>(repair_queue_.size());
  update_repair();
  return repair_.partitions_total;
}

std::vector<std::pair<uint32_t, int64_t>> AntiEntropy::last_exchanges() const {
  std::vector<std::pair<uint32_t, int64_t>> out;
  out.reserve(trees_.size());
  for (const auto& [p, tree] : trees_) out.emplace_back(p, tree.last_success_unix_ms);
  return out;
}

void AntiEntropy::log(std::string line) {
  if (log_lines_.size() < 1000) log_lines_.push_back(std::move(line));
}

std::vector<std::string> AntiEntropy::take_log_lines() {
  return std::exchange(log_lines_, {});
}

}  // namespace qkv::node
