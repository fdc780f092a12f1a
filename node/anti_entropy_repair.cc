// AntiEntropy (node/anti_entropy.h), the on-demand repair (qkvctl repair): the partitions
// queued for exchanges with every other primary, started ahead of the periodic ones, and
// the progress the node reports.
#include "node/anti_entropy.h"

#include <fmt/format.h>

#include <algorithm>

namespace qkv::node {

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

void AntiEntropy::start_due_repairs(TimePoint now) {
  for (RepairTask& task : repair_queue_) {
    if (exchanges_.size() >= config_.concurrent_exchanges_max) break;
    if (!trees_.at(task.partition).built) continue;  // once built
    while (!task.peers_left.empty() && exchanges_.size() < config_.concurrent_exchanges_max) {
      NodeId peer = task.peers_left.back();
      task.peers_left.pop_back();
      if (!peer_up(peer)) {
        task.failed = true;
        repair_.last_error = fmt::format("partition {}: {} is down", task.partition, peer);
        continue;
      }
      ++task.running;
      start(task.partition, peer, /*repair=*/true, now);
    }
  }
  update_repair();
}

void AntiEntropy::repair_exchange_ended(const Exchange& ex, const Status& status) {
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

}  // namespace qkv::node
