// The final phase: once the faults stop and the work drains, every key read at R=N (the
// final repair), the final state handed to the checker (every node's copy of every key and,
// with ring changes, what each node holds), and gossip's convergence.
#include "tests/sim/world.h"

#include <fmt/format.h>

#include "node/wire/replica_codec.h"

namespace qkv::sim::detail {

void Simulation::final_repair() {
  // Every key read at R=N, so read repair brings every replica to the merged state.
  Client& c = clients_[0];
  const std::vector<std::string> all = all_keys();
  for (const auto& key : all) {
    run_until(clock_.now() + Duration(50));
    issue(c, pick_node(), proto::GetRequest{key, static_cast<uint8_t>(config_.n)},
          [this, key](std::optional<proto::ClientResponse> response) {
            trace(fmt::format("final read {} -> {}", key,
                              response ? response->status.to_string() : "no answer"),
                  &key);
          });
  }
  run_until(clock_.now() + kRepairRound);
}

FinalState Simulation::final_state() const {
  FinalState state;
  state.reaps = reaps_;
  const std::vector<std::string> all = all_keys();
  // Replicas are judged against the final ring; coordinators were primaries of any ring.
  std::shared_ptr<const ring::Ring> final_ring = ring_;
  std::vector<std::shared_ptr<const ring::Ring>> every_ring;
  if (rings_on()) {
    final_ring = std::make_shared<const ring::Ring>(newest_ring().owners);
    for (const auto& r : issued_) {
      every_ring.push_back(std::make_shared<const ring::Ring>(r.owners));
      if (!r.next_owners.empty())
        every_ring.push_back(std::make_shared<const ring::Ring>(r.next_owners));
    }
  }
  for (const auto& key : all) {
    KeyState& ks = state.keys[key];
    ks.primaries = final_ring->preference_list(ring::token_of(key), config_.n).primaries;
    std::set<NodeId> ever;
    for (const auto& r : every_ring) {
      for (auto& p : r->preference_list(ring::token_of(key), config_.n).primaries) ever.insert(p);
    }
    ks.ever_primaries.assign(ever.begin(), ever.end());
    for (const auto& n : nodes_) {
      auto bytes = n.storage->get(ring::token_of(key), key);
      QKV_ASSERT(bytes.is_ok());
      std::optional<causal::SiblingSet> set;
      if (bytes.value()) {
        auto decoded = node::decode_sibling_set(*bytes.value());
        QKV_ASSERT(decoded.is_ok());
        set = std::move(decoded).value();
      }
      ks.replicas[n.id] = std::move(set);
    }
  }
  for (const auto& n : nodes_) state.incarnations[n.id] = n.incarnations.size();
  if (!rings_on()) return state;
  state.ring_version = newest_ring().version;
  for (const auto& n : nodes_) state.holdings[n.id] = holding_of(n, *final_ring);
  return state;
}

NodeHolding Simulation::holding_of(const SimNode& n, const ring::Ring& final_ring) const {
  NodeHolding h;
  h.removed = n.removed;
  for (uint32_t p = 0; p < final_ring.partition_count(); ++p) {
    if (final_ring.preference_list(final_ring.first_token(p), config_.n).is_primary(n.id)) {
      h.replicated.insert(p);
    }
  }
  if (n.host) h.held = n.host->node().held_ranges();
  Status scanned =
      n.storage->scan(0, UINT64_MAX, [&](ring::Token token, std::string_view, std::string_view) {
        ++h.stored[final_ring.partition_of(token)];
        return true;
      });
  QKV_ASSERT(scanned.is_ok());
  return h;
}

std::vector<std::string> Simulation::all_keys() const {
  std::vector<std::string> all = keys_;
  for (const auto& cl : clients_) {
    if (cl.solo) all.insert(all.end(), cl.keys.begin(), cl.keys.end());
  }
  return all;
}

std::vector<std::string> Simulation::membership_violations() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) {
    if (!n.host) continue;
    const gossip::GossipCore& view = n.host->membership().gossip();
    for (const auto& other : nodes_) {
      if (&other == &n || !other.host) continue;
      const gossip::NodeState& actual = other.host->membership().gossip().self();
      auto it = view.members().find(other.id);
      std::string wrong;
      if (it == view.members().end()) {
        wrong = "never heard of it";
      } else if (it->second.generation != actual.generation) {
        wrong = fmt::format("holds generation {}, its process has {}", it->second.generation,
                            actual.generation);
      } else if (it->second.status != actual.status) {
        wrong = fmt::format("holds status {}, it is {}", gossip::status_name(it->second.status),
                            gossip::status_name(actual.status));
      } else if (!view.is_up(other.id, node_now(index_of(n.id)))) {
        wrong =
            fmt::format("holds it down (phi {:.1f})", view.phi(other.id, node_now(index_of(n.id))));
      }
      if (!wrong.empty()) {
        out.push_back(fmt::format(
            "seed {}: gossip did not converge after the faults stopped: {} about {}: {}\n",
            config_.seed, n.id, other.id, wrong));
      }
    }
  }
  return out;
}

}  // namespace qkv::sim::detail
