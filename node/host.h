// NodeHost: one qkv node process's cores wired together — the node core (node/node.h),
// its membership (gossip, the phi-accrual failure detector, the ring's life and the
// claimant: node/membership.h) and its hinted handoff store — with the order in which a
// tick and every event reach them. Generic over Storage, Transport and Clock: qkvd's
// Server (node/server.h) and the deterministic simulation (tests/sim/) build the same
// host, so the simulation runs exactly what qkvd runs (TigerBeetle builds one replica type
// for production and for its simulator). The drivers only carry bytes, run the timers,
// open group-commit batches and log.
//
// boot() is the start both share: the incarnation, the gossip generation and the ring a
// process begins with, read from its own disk.
//
// Thread-safety: none; the driver calls everything on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gossip/gossip_core.h"
#include "node/auto_join.h"
#include "node/handoff/hinted_handoff.h"
#include "node/membership.h"
#include "node/node.h"
#include "node/node_config.h"
#include "node/node_transport.h"
#include "node/storage/storage.h"

namespace qkv::node {

// What a process reads from its disk at start.
struct Boot {
  uint64_t incarnation = 0;    // the actor's incarnation (node/incarnation.h)
  bool after_unclean = false;  // the last stop was not clean: a new incarnation was taken
  bool restored = false;       // started from a restored snapshot: a new incarnation was taken
  uint64_t previous_incarnation = 0;  // the one stored before this start (0: a new directory)
  uint64_t generation = 0;            // gossip generation: above every earlier start's
  gossip::RingState ring;             // the saved ring; version 0: none
  bool ring_saved = false;            // `ring` is the one the last run applied
  // No saved ring and a configured first ring: the ring this fresh initial member makes once
  // gossip has shown no cluster disagrees (node/first_ring.h); version 0: none.
  gossip::RingState first_ring;
};
// Opens the incarnation (`random` draws a new one when needed), the next generation (at
// least `wall_ms`), and the ring: the one the last run saved; else none, and `first_ring`
// (the configured members' ring for one of them, version 0 for a node joining from seeds)
// is kept as Boot::first_ring. Errors: storage errors, corruption.
Result<Boot> boot(storage::Storage& storage, const std::function<uint64_t()>& random,
                  int64_t wall_ms, const gossip::RingState& first_ring);

// The first ring of a cluster: the members' claim (ring/ring.h), version 1, its claimant
// the smallest id, its cluster id derived from the members, `partitions` and `n`
// (gossip/ring_identity.h). Errors: invalid_argument (no members, a bad partition count).
Result<gossip::RingState> first_ring(std::vector<NodeId> members, uint32_t partitions, uint32_t n);

// This process's gossip state at start: it serves if it knows a ring, else it is joining.
gossip::NodeState initial_self(const NodeId& id, uint64_t generation, std::string peer_address,
                               std::string client_address, std::string zone, bool has_ring,
                               std::string http_address = "");

struct HostConfig {
  NodeConfig node;             // REQUIRES: validate() ok; generation set from boot()
  bool hinted_handoff = true;  // false: no hints kept or delivered (handoff.enabled)
  handoff::HandoffConfig handoff;
  gossip::GossipConfig gossip;  // interval, phi, seeds
  gossip::NodeState self;       // initial_self()
  AutoJoinConfig auto_join;     // off by default (node/auto_join.h)
};

class NodeHost {
 public:
  // `storage`, `transport` and `clock` outlive the host. `unix_ms` gives wall-clock ms
  // (hint ages, transition starts); `ring` is boot()'s.
  NodeHost(HostConfig config, const Boot& boot, storage::Storage& storage, Transport& transport,
           const Clock& clock, std::function<int64_t()> unix_ms);

  // Loads the hints a previous run kept. Errors: storage errors.
  Status open() { return handoff_.open(); }

  // Every driver tick (qkvd: every 5 ms): the node core first (hint deliveries,
  // anti-entropy, transfers, alarms), then membership (a gossip round when due, ring
  // progress, leaving, an auto-join request, sent here). Returns the gossip messages to send.
  std::vector<gossip::Outgoing> on_tick();
  // A message from a peer: gossip goes to membership (the replies to send are returned), and
  // so do a peer's own join request (a Forward of a ring request, answered here) and the
  // answer to ours; everything else to the node core.
  std::vector<gossip::Outgoing> on_peer_message(PeerMessage message);
  // A client request: members and ring changes are answered by membership, the rest by
  // the node core; answers leave through Transport::reply.
  void on_client_request(ClientId client, proto::ClientRequest request);
  // A peer's connection was refused or broke: it is convicted at once (direct evidence, as
  // Riak's nodedown), and with `never_sent` (what was sent certainly did not leave) rounds
  // and forwards waiting on it act now (node_transport.h); without it only hint deliveries
  // to it fail now (Node::on_peer_link_broke).
  void on_peer_unreachable(const NodeId& peer, bool never_sent);
  // `peer` spoke to us on its own connection or answered a ping on ours: a conviction ends
  // (after a partition heals, without waiting for its gossip to pick us as a target).
  void on_peer_alive(const NodeId& peer) { membership_.absolve(peer); }

  Node& node() { return node_; }
  const Node& node() const { return node_; }
  Membership& membership() { return membership_; }
  const Membership& membership() const { return membership_; }
  handoff::HintedHandoff& handoff() { return handoff_; }
  const handoff::HintedHandoff& handoff() const { return handoff_; }

 private:
  // True if `message` was a ring request or answer between peers (auto-join), now handled.
  bool on_peer_ring_admin(PeerMessage& message);

  const Clock& clock_;
  Transport& transport_;
  handoff::HintedHandoff handoff_;
  Node node_;
  Membership membership_;
};

// True if `message` is gossip (it opens no group-commit batch: it writes no key).
inline bool is_gossip(const PeerMessage& message) {
  return std::holds_alternative<Gossip>(message.body);
}

}  // namespace qkv::node
