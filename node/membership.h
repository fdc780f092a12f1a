// Membership: a node's place in the cluster, sans-I/O — the gossip core
// (gossip/gossip_core.h), the claimant (node/claimant.h), and what runs between them and
// the node core (node/node.h):
//   - liveness: the node core asks gossip's failure detector whether a peer is up;
//   - the ring: every newer ring gossip adopts is applied to the node core and saved
//     (meta "ring"), and the own status follows it (joining, normal, leaving, removed);
//   - ring progress: every 50 ms, the lowest ring version the live ring members have
//     applied goes to the node core (transfers start, old ranges are dropped), the own
//     ring_version and transfers_done go to gossip, and the claimant completes a
//     transition once every receiver reports its transfers done;
//   - the operator's ring requests (qkvctl node join/leave/replace/remove, ring
//     plan/commit/cancel);
//   - auto-join (node/auto_join.h): a node with auto_join that is not in the ring asks the
//     claimant to stage its join (peer messages for the driver to send), and the claimant
//     answers such requests and commits automatic joins after its quiet period;
//   - leaving: a node that left and holds nothing marks itself removed, and exit_due() turns
//     true three gossip intervals later, when qkvd stops.
// qkvd (node/server.cc) and the simulation (tests/sim/simulation.cc) both run this class;
// they only carry its gossip messages, feed it evidence of dead peers (convict) and log
// its events.
//
// Time comes from the injected clock (ms, monotonic); nothing here reads a wall clock,
// opens a socket or starts a thread.
//
// Thread-safety: none; the owner of the node core calls it on the same thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log_event.h"
#include "gossip/gossip_core.h"
#include "node/auto_join.h"
#include "node/claimant.h"
#include "node/handoff/hinted_handoff.h"
#include "node/node.h"
#include "proto/client_api.h"

namespace qkv::node {

// The ring the last run applied (meta key "ring"); version 0 if none was saved.
// Errors: storage errors, corruption.
Result<gossip::RingState> load_saved_ring(storage::Storage& storage);
// True if this node owned partitions and has not left since (meta key "ring_member").
bool was_ring_member(storage::Storage& storage);
// True if this node owned partitions once and has left (or was removed) since.
bool left_the_ring(storage::Storage& storage);
// The peer addresses of the ring's other members as this node last knew them (meta key
// "peers"; empty if none were saved or the value is unreadable), by node id.
std::map<NodeId, std::string> load_saved_peers(storage::Storage& storage);

class Membership {
 public:
  // `self` is this process's gossip state (its generation above every earlier start's);
  // `ring` the ring this start begins with (the saved one, else the configured members'
  // first ring; version 0 for a node joining from seeds). `node`, `storage`, `handoff`
  // (null when hinted handoff is off) and `clock` outlive this object. Applies `ring` to
  // the node core and installs the node core's liveness function.
  //
  // Saved peers (Cassandra's system.peers): the peer addresses of the ring's other members
  // are saved (meta "peers") whenever they change, and gossip starts with them as seeds
  // beside config.seeds. A node that restarts knows no member until one gossips to it; its
  // configured seeds alone may all have left the cluster since, and the members it shares
  // the ring with know no address of it unless it is a seed of theirs.
  Membership(gossip::GossipConfig config, gossip::NodeState self, gossip::RingState ring,
             uint64_t seed, Node& node, storage::Storage& storage,
             const handoff::HintedHandoff* handoff, const Clock& clock);

  // Every driver tick (qkvd: every 5 ms): a gossip round when one is due, ring progress
  // every 50 ms, leaving. Returns the gossip messages to send.
  std::vector<gossip::Outgoing> on_tick();
  // A gossip message from peer `from` (authenticated by its certificate over TLS: the
  // Server checks PeerMessage::from); returns the replies to send. A newer ring it carries
  // is applied only when `from` owns partitions in this node's ring (owners, next owners,
  // or the claimant): a node that is not a member cannot hand the cluster a ring. Such a
  // ring is dropped (the rest of the message applies), counted (rings_refused) and logged
  // (ring_refused, once per sender). A node without a ring takes it from anyone.
  std::vector<gossip::Outgoing> on_gossip(const NodeId& from, gossip::Message message);
  // Direct evidence that `peer` is down (a refused or broken connection).
  void convict(const NodeId& peer);
  // Optional: the driver's link-level suspicion (qkvd: a ping unanswered for a ping
  // interval, net/peer_links.h). A member it names is suspect to the node core
  // (node/liveness.h: still asked, with stand-ins at once; forwards try it last) while
  // gossip's verdict is unchanged: the link layer sees a partition or a paused peer within
  // a second, phi in tens.
  void set_link_silent(std::function<bool(const NodeId&)> silent) {
    node_.set_suspicion(std::move(silent));
  }
  // Direct evidence that `peer` is alive (GossipCore::absolve).
  void absolve(const NodeId& peer) { gossip_.absolve(peer); }

  // The operator's ring requests (qkvctl). Only the claimant stages, plans and commits;
  // others refuse and name the claimant and its client address in the response.
  proto::ClientResponse ring_admin(uint64_t request_id, const proto::RingAdminRequest& request);
  // The members as this node sees them (qkvctl members / ring status).
  proto::MembersResponse members_response() const;

  // Auto-join (node/auto_join.h; membership_auto_join.cc): this node's own setting (it asks
  // to join) and, as the claimant, the quiet period before it commits automatic joins.
  // REQUIRES: config.validate() is ok.
  void set_auto_join(AutoJoinConfig config);
  // A peer's ring request (a Forward from `from`): only `stage join <from>` is taken, as
  // the node's own automatic join, and only while this node runs with auto_join itself
  // (the cluster's policy: the same config on every node); anything else is refused.
  // The answer goes back to it as a ForwardReply with `request_id`.
  proto::ClientResponse peer_ring_admin(const NodeId& from, uint64_t request_id,
                                        const proto::RingAdminRequest& request);
  // A ForwardReply: true if it answers the join request this node awaits (then it is
  // consumed); other answers are the node core's.
  bool on_peer_ring_admin_reply(uint64_t request_id, const proto::ClientResponse& response);
  // Peer messages to send (this node's join requests to the claimant), oldest first.
  std::vector<std::pair<NodeId, PeerMessage>> take_peer_messages() {
    return std::exchange(peer_messages_, {});
  }

  // True once this node has left the ring, holds nothing, and has gossiped its removed
  // status for three gossip intervals: the process should stop (graceful, as on SIGTERM).
  bool exit_due() const { return exit_due_; }

  // A fresh initial member's configured first ring (host.h Boot::first_ring), made once
  // gossip shows no cluster disagrees (node/first_ring.h). REQUIRES: no ring yet; before the
  // first tick. (membership_identity.cc)
  void set_first_ring(gossip::RingState ring);
  // Set when this node must not go on (qkvd exits 2): waiting to make its first ring, it
  // met a node of another cluster. Names the peer, both clusters and what to do.
  const std::optional<Status>& fatal() const { return fatal_; }

  const gossip::GossipCore& gossip() const { return gossip_; }
  // Events for the driver's log since the last call (info or warn), oldest first.
  std::vector<LogEvent> take_log_events() { return std::exchange(log_events_, {}); }
  // node_up, node_down, members_joined, ring_changes, gossip_rounds.
  std::vector<std::pair<std::string, uint64_t>> counters() const;

  // The configured members' client addresses (qkvd's `members`): a refused ring request
  // names the claimant's address from these while gossip has not heard of it yet (just
  // after a start), so the SDK can resend there.
  void set_configured_client_addresses(std::map<NodeId, std::string> addresses) {
    configured_client_addresses_ = std::move(addresses);
  }
  // Called with a member's state whenever gossip learns or changes it (addresses).
  void set_on_member(std::function<void(const gossip::NodeState&)> f) { on_member_ = std::move(f); }
  // Called with every ring this node issues (it is the claimant), before gossip spreads it.
  void set_on_ring_issued(std::function<void(const gossip::RingState&)> f) {
    on_ring_issued_ = std::move(f);
  }

 private:
  // Whether `from` may hand this node a newer ring (see on_gossip).
  bool may_send_rings(const NodeId& from) const;
  void on_events();
  void apply_ring();
  // Saves the peer addresses of the ring's members when they changed (see the constructor).
  void save_peers();
  void update_own_status();
  void update_ring_progress(TimePoint now);
  void publish_ring(gossip::RingState ring);
  void maybe_exit(TimePoint now);
  void maybe_request_join(TimePoint now);
  void maybe_auto_commit(TimePoint now);
  void fill_plan(proto::RingAdminResponse& body, const RingPlan& plan);
  // Cluster identity (membership_identity.cc): the first ring's wait, and refused gossip.
  void step_first_ring(TimePoint now);
  void on_sighting(const gossip::Event& event);
  void log(LogEvent event) { log_events_.push_back(std::move(event)); }

  const Clock& clock_;
  Node& node_;
  storage::Storage& storage_;
  const handoff::HintedHandoff* handoff_;
  const Duration gossip_interval_;
  std::map<NodeId, std::string> saved_peers_;  // as in meta "peers"; before gossip_, which starts
                                               // with them
  gossip::GossipCore gossip_;
  Claimant claimant_;
  bool was_member_ = false;  // this node has owned partitions (a leave ends in removal)
  std::optional<TimePoint> removed_at_;
  bool exit_due_ = false;
  TimePoint ring_progress_due_{};
  uint64_t last_applied_ = UINT64_MAX;
  std::map<std::string, uint64_t> counters_;
  std::set<NodeId> ring_refused_from_;  // senders whose rings were refused (logged once each)
  std::vector<LogEvent> log_events_;
  std::map<NodeId, std::string> configured_client_addresses_;
  std::function<void(const gossip::NodeState&)> on_member_;
  std::function<void(const gossip::RingState&)> on_ring_issued_;
  std::optional<gossip::RingState> first_ring_;  // not made yet (set_first_ring)
  TimePoint first_ring_since_{};
  TimePoint first_ring_log_due_{};
  std::optional<Status> fatal_;
  bool distribute_ring_ = false;  // a ring this node issued goes to every member next tick
  AutoJoin auto_join_;
  bool left_before_ = false;  // left the ring (or was removed) in an earlier life
  std::vector<std::pair<NodeId, PeerMessage>> peer_messages_;
};

}  // namespace qkv::node
