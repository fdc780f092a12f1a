// AntiEntropy (node/anti_entropy.h), the trees and the common parts: one Merkle tree per
// replicated partition, built by a scan and kept current by every committed write, saved
// and loaded across a clean restart; the tick that schedules builds, exchanges and repairs.
// The exchanges are in anti_entropy_exchange.cc, the on-demand repair in
// anti_entropy_repair.cc.
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

AntiEntropy::AntiEntropy(AntiEntropyConfig config, NodeId self, uint32_t n,
                         storage::Storage& storage, Transport& transport, Replica& replica,
                         InFlight& ids, uint64_t seed)
    : config_(std::move(config)),
      self_(std::move(self)),
      n_(n),
      storage_(storage),
      transport_(transport),
      replica_(replica),
      ids_(ids),
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

bool AntiEntropy::peer_up(const NodeId& peer) const {
  return !is_up_ || is_up_(peer);
}

void AntiEntropy::on_write(ring::Token token, const std::optional<Hash128>& before,
                           const std::optional<Hash128>& after) {
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
    log(LogEvent::warn("aae_tree_build_failed")
            .with("partition", partition)
            .with("error", scanned));
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

bool AntiEntropy::build_due(const Tree& tree, TimePoint now) const {
  return !tree.built || tree.tree.stale() || now - tree.built_at >= config_.rebuild_interval;
}

bool AntiEntropy::build_due(TimePoint now) const {
  if (!ring_) return false;
  return std::any_of(trees_.begin(), trees_.end(),
                     [&](const auto& entry) { return build_due(entry.second, now); });
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
    if (build_due(tree, now)) {
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
  start_due_repairs(now);
  start_due_exchanges(now);
  send_ready(now, unix_ms);
}

std::vector<std::pair<uint32_t, int64_t>> AntiEntropy::last_exchanges() const {
  std::vector<std::pair<uint32_t, int64_t>> out;
  out.reserve(trees_.size());
  for (const auto& [p, tree] : trees_) out.emplace_back(p, tree.last_success_unix_ms);
  return out;
}

void AntiEntropy::log(LogEvent event) {
  if (log_events_.size() < 1000) log_events_.push_back(std::move(event));
}

std::vector<LogEvent> AntiEntropy::take_log_events() {
  return std::exchange(log_events_, {});
}

}  // namespace qkv::node
