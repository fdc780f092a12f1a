// GossipCore: membership by scuttlebutt anti-entropy gossip (van Renesse et al., "Efficient
// Reconciliation and Flow Control for Anti-Entropy Protocols", 2008) in the shape of
// Cassandra's Gossiper (three-way Syn/Ack/Ack2, see messages.h), with phi-accrual failure
// detection (failure_detector.h) deciding up/down locally.
//
// Sans-I/O (design.md §3): calls in (on_tick, on_message, set_status, set_ring), effects
// out (messages to send, events for subscribers). No sockets, no clock reads: time is the
// `now` argument (ms, monotonic), randomness a std::mt19937_64 seeded at construction, and
// only ordered containers are iterated, so a seed and a sequence of calls give one sequence
// of outputs on every platform.
//
// Per round (once per config.interval; on_tick may be called more often):
//   1. verdicts: every member's phi is compared with phi_convict; flips become kUp/kDown.
//   2. heartbeat: the own heartbeat is bumped (the content version is not: it moves only
//      with set_status and set_ring_progress, which take the next heartbeat value as the
//      new version; node_state.h).
//   3. Syn to one random live peer; with probability down/(live+1) also to one random down
//      peer (so a returning node is noticed; Cassandra's doGossipToUnreachableMember); and
//      if the live peer was not a seed, or fewer peers are live than seeds exist, to one
//      random seed with probability seeds/(live+down), always when no peer is live
//      (Cassandra's maybeGossipToSeed: seeds keep partitions from forming without every
//      node hitting them every round). Seeds are addresses; the own address is skipped, and
//      no address gets two Syns in one round. A node that knows no peers sends to a seed.
// Members with status kRemoved or no peer_address are never gossiped to (their verdicts
// still flip to down once they fall silent).
//
// Heartbeats apart from content (van Renesse, Minsky and Hayden 1998; Cassandra's
// HeartBeatState): digests carry (generation, version, heartbeat); an Ack or Ack2 carries a
// full state for a member whose content is newer than the receiver's (its version lies past
// the receiver's heartbeat, or the receiver lacks the member or holds an older generation),
// and a heartbeat entry (id, generation, heartbeat) where only the heartbeat is newer. So
// every member's heartbeat, which moves every round, travels in a few bytes, and the few
// content changes as states. A peer that does not take heartbeat entries (a node from
// before them: Syn/Ack::heartbeat_entries false) gets full states instead, as it always did.
//
// Applying a state (from any message): taken only with a newer generation, or within the
// generation a newer heartbeat (NodeState::heartbeat_newer_than), so a stale generation
// never overwrites a newer one; the content is replaced only if the state's version lies
// past our copy's heartbeat (otherwise it is the same content and only the heartbeat
// moves). A heartbeat entry moves only the heartbeat of a member we hold in the same
// generation (unknown members and other generations wait for a full state). Either kind
// of newer heartbeat is a heartbeat arrival for that peer's failure detector; nothing else
// is. Nothing about self is ever taken: a state or heartbeat newer than our own means
// another process claims our id (or this process started without a higher generation); it
// is ignored and counted in stats().foreign_self_states. The own heartbeat comes only from
// on_tick.
//
// Clusters (ring_identity.h): every node states its cluster id (NodeState::cluster_id: its
// ring's, or before it has one the id its configured first ring will have; 0 = unknown, an
// old node or one joining from seeds, which matches any). A Syn from a node of another
// cluster is answered with a bare Ack — this node's state and ring, nothing else — so the
// other side sees what it met, and an Ack from one is not answered; neither sender's state
// is merged. States of another cluster relayed by anyone, and rings of another cluster, are
// refused too. Each is counted (stats) and reported as a kForeignCluster event once per
// peer and identity (sightings() keeps what it said). A Syn or Ack whose sender holds another
// table (ring_hash) under this node's ring version is a ring conflict: counted, reported
// (kRingConflict), and the other table is never applied (equal versions never replace).
// This node's own cluster id follows the ring it holds.
//
// Limits: states per Ack/Ack2 <= states_per_message_max (the most out-of-date first,
// unknown members before known ones; the rest go in later rounds); content requests per
// Ack <= the same; heartbeat entries per Ack/Ack2 and heartbeat requests per Ack <=
// heartbeats_per_message_max (as large as members_max by default, so they are not
// rationed); members <= members_max (states of further unknown nodes are refused and
// counted); a Syn carries one digest per member. Members are never purged: a removed node
// stays as its kRemoved state so old gossip cannot bring it back.
//
// Thread-safety: none; one owner thread (the io_context thread in qkvd).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/node_id.h"
#include "common/status.h"
#include "gossip/failure_detector.h"
#include "gossip/messages.h"
#include "gossip/node_state.h"
#include "gossip/ring_identity.h"

namespace qkv::gossip {

struct GossipConfig {
  Duration interval{1000};                   // between rounds; > 0
  double phi_convict = 8;                    // conviction threshold; > 0
  std::vector<std::string> seeds;            // peer addresses ("host:port")
  std::size_t states_per_message_max = 256;  // full states per Ack/Ack2; >= 1
  // Heartbeat entries (and heartbeat requests) per Ack/Ack2: a few dozen bytes each, so as
  // many as members_max by default; below the membership they ration heartbeats again. >= 1
  std::size_t heartbeats_per_message_max = 4096;
  std::size_t members_max = 4096;    // self included; >= 1
  std::size_t fd_window_max = 1000;  // intervals per peer in the failure detector
  Duration fd_interval_max{10'000};  // longer intervals are not recorded; > 0
  // A gap between two rounds longer than this is a local pause (GC, SIGSTOP, an overloaded
  // host): that round convicts no one, because the silence was ours (Cassandra's
  // MAX_LOCAL_PAUSE). > 0.
  Duration local_pause_max{5000};
};

// Something subscribers react to; each change yields exactly one event.
// - kJoined: a node was learned for the first time. It starts as up (its state just
//   arrived and counts as a heartbeat), so a node already dead when first heard of
//   second-hand is up until convicted, after about 8 ln(10) * 2 = 36.8 intervals (the
//   failure detector's window is seeded with two intervals, as Cassandra's is).
// - kUp / kDown: this node's verdict on a member flipped (evaluated once per round).
// - kChanged: a newer state of a known node (or of self, from set_status or
//   set_ring_progress) differs in generation, status, addresses, zone or ring progress.
//   Heartbeats (a heartbeat entry, or a state whose only news is its heartbeat) are not.
// - kRingChanged: a newer ring was adopted (from gossip or set_ring); id is empty.
// - kForeignCluster: gossip of another cluster was refused; id is the peer that sent it
//   (for a ring relayed without a sender, the ring's claimant). Once per peer and identity.
// - kRingConflict: a peer of this cluster holds another table under this node's ring
//   version (never in a correct cluster). Once per peer and identity.
struct Event {
  enum Kind : uint8_t {
    kJoined,
    kUp,
    kDown,
    kChanged,
    kRingChanged,
    kForeignCluster,
    kRingConflict
  };
  Kind kind;
  NodeId id;

  friend bool operator==(const Event&, const Event&) = default;
};

struct GossipStats {
  uint64_t rounds = 0;                    // rounds run by on_tick
  uint64_t foreign_self_states = 0;       // states/messages about our id newer than ours, ignored
  uint64_t rejected_states = 0;           // states with an invalid node id, ignored
  uint64_t members_refused = 0;           // states of unknown nodes refused at members_max
  uint64_t local_pauses = 0;              // rounds that skipped convictions after a local pause
  uint64_t heartbeats_applied = 0;        // heartbeat entries that moved a member's heartbeat
  uint64_t foreign_cluster_messages = 0;  // Syns and Acks from nodes of another cluster
  uint64_t foreign_cluster_states = 0;    // relayed states of another cluster, refused
  uint64_t foreign_cluster_rings = 0;     // rings of another cluster, refused
  uint64_t ring_conflicts = 0;  // peers holding another table under this node's ring version
};

// What a refused peer said about itself (the last time; kForeignCluster or kRingConflict).
struct Sighting {
  Event::Kind kind = Event::kForeignCluster;
  NodeId peer;
  std::string peer_address;
  uint64_t cluster_id = 0;        // the peer's (0: unknown)
  uint64_t ring_version = 0;      // of the peer's ring (0: none or unknown)
  uint64_t ring_hash = 0;         // of the peer's ring (0: none or unknown)
  std::optional<RingState> ring;  // the peer's ring, when its message carried it

  friend bool operator==(const Sighting&, const Sighting&) = default;
};

class GossipCore {
 public:
  // `self` is this process's own state: its generation must exceed that of every earlier
  // start with the same id. `ring` is the last ring known locally (version 0: none). The
  // first round runs at the first on_tick at or after `now`.
  // REQUIRES: valid self.id; the config's stated ranges (asserted).
  GossipCore(GossipConfig config, NodeState self, RingState ring, uint64_t seed, TimePoint now);

  // Runs a round if one is due (see above); otherwise returns nothing.
  std::vector<Outgoing> on_tick(TimePoint now);

  // Syn -> an Ack to the Syn's sender. Ack -> applies it; an Ack2 to the Ack's sender if it
  // asked for anything this node has newer (content or heartbeat). Ack2 -> applies it. Messages
  // carrying our own id as sender are ignored (counted as foreign_self_states).
  std::vector<Outgoing> on_message(const Message& message, TimePoint now);

  // Every known node, self included, by id.
  const std::map<NodeId, NodeState>& members() const { return members_; }
  const NodeState& self() const { return members_.at(self_id_); }

  // True for self; false for an unknown id; else phi(id, now) < phi_convict. This is the
  // live reading; the event stream carries the once-per-round verdicts.
  bool is_up(const NodeId& id, TimePoint now) const;
  // The failure detector's suspicion of `id` (0 for self and for unknown ids).
  double phi(const NodeId& id, TimePoint now) const { return fd_.phi(id, now); }

  const RingState& ring() const { return ring_; }
  // ring_hash(ring()), kept with it.
  uint64_t ring_hash() const { return ring_hash_; }
  // This node's cluster id (self().cluster_id; 0: unknown).
  uint64_t cluster_id() const { return self().cluster_id; }
  // The last sighting of each peer whose gossip was refused (kForeignCluster) or whose ring
  // conflicts with ours (kRingConflict); at most members_max peers.
  const std::map<NodeId, Sighting>& sightings() const { return sightings_; }

  // A local ring change (an operator's commit, a first ring). Errors: invalid_argument
  // unless ring.version is higher than the current one and its cluster id matches this
  // node's. Emits kRingChanged.
  qkv::Status set_ring(RingState ring);

  // The current ring to every other member that is up (by the last verdict), not removed,
  // at once: an Ack2 carrying only the ring, applied as any ring is (newer only, same
  // cluster). The claimant calls it after issuing a ring (Riak's riak_core_gossip
  // distribute_ring), so a new ring reaches every member in one hop instead of over a few
  // gossip rounds, and coordinators and replicas disagree about it for milliseconds, not
  // seconds: a receiver of a transition that has not heard of it refuses the writes meant
  // for it. Empty without a ring.
  std::vector<Outgoing> distribute_ring() const;

  // Changes the own status: if it differs, bumps the own version (and heartbeat) and emits
  // kChanged (self); otherwise does nothing.
  void set_status(Status status);

  // The ring's word that member `id` is gone for good (a ring transition removed it without
  // a handoff: qkvctl node remove). A lost node never says so itself, so its state is given
  // status kRemoved and the next version of its own clock, and spreads as its own change
  // would (Riak's claimant marks a force-removed member in the ring likewise). A restart
  // of `id` (a higher generation) overrides it. Self, unknown ids and members already
  // removed are ignored. Emits kChanged (id).
  void declare_removed(const NodeId& id);
  // The own ring progress (NodeState::ring_version, transfers_done). Bumps the own version
  // (and heartbeat) and emits kChanged (self) if either differs; otherwise does nothing.
  void set_ring_progress(uint64_t ring_version, uint64_t transfers_done);

  // Direct evidence that `id` is down (its peer port refused a connection): it is marked
  // down now rather than after phi_convict's silence, and stays down until a message from
  // it arrives or a state with a higher generation (a restart). Gossip heard second-hand
  // does not clear it: other nodes may still pass on heartbeats from before the crash.
  // Unknown ids and self are ignored. Emits kDown if the verdict flips.
  void convict(const NodeId& id);
  // Direct evidence that `id` is alive and reachable (a message from it arrived on its own
  // connection, or it answered a link ping): a conviction ends, so the verdict follows phi
  // again (up once its heartbeats arrive) without waiting for its gossip to reach us. No
  // effect on members not convicted.
  void absolve(const NodeId& id);

  // The events since the last call, oldest first. The driver drains it after every call;
  // it holds at most what those calls produced.
  std::vector<Event> take_events();

  const GossipStats& stats() const { return stats_; }
  const FailureDetector& failure_detector() const { return fd_; }

 private:
  NodeState& self_mut() { return members_.at(self_id_); }
  std::vector<Outgoing> handle_syn(const Syn& syn, TimePoint now);
  std::vector<Outgoing> handle_ack(const Ack& ack, TimePoint now);
  // False (and counted) if a message's sender is this node's id or an invalid one.
  bool accept_sender(const NodeState& sender);
  void apply_state(const NodeState& incoming, TimePoint now);
  void apply_heartbeat(const Heartbeat& heartbeat, TimePoint now);
  // A change of the own content: version = ++heartbeat (one clock; node_state.h).
  void bump_version();
  void apply_ring(const RingState& ring);
  // Takes `ring` as the current ring; this node's cluster id follows it.
  void adopt_ring(RingState ring);
  // The identity checks of a Syn's or Ack's sender: false (counted, reported) if it is of
  // another cluster; a ring conflict is reported but the message is taken.
  bool same_cluster_as(const NodeState& sender, uint64_t ring_version, uint64_t hash,
                       const std::optional<RingState>& ring);
  void sighted(Sighting sighting);
  Ack bare_ack() const;
  void evaluate_verdicts(TimePoint now, bool convict);
  std::vector<std::string> choose_targets();
  // A seed to Syn this round besides `targets`, or none (see the rule above).
  std::optional<std::string> maybe_seed(std::size_t live, std::size_t down,
                                        const std::vector<std::string>& targets);
  bool is_seed(const std::string& address) const;
  uint64_t below(uint64_t n);  // uniform-enough in [0, n) from the raw engine; n > 0
  Syn make_syn() const;
  Ack make_ack(const Syn& syn) const;
  std::optional<Ack2> make_ack2(const Ack& ack) const;

  GossipConfig config_;
  NodeId self_id_;
  std::vector<std::string> other_seeds_;  // config_.seeds without the own address
  std::map<NodeId, NodeState> members_;   // self included
  std::map<NodeId, bool> up_;             // last verdict per member (self excluded)
  // Members convicted on direct evidence (a refused connection), with the generation they
  // had then: down until they speak to us themselves or restart (a higher generation).
  std::map<NodeId, uint64_t> convicted_;
  RingState ring_;
  uint64_t ring_hash_ = 0;  // ring_hash(ring_)
  std::map<NodeId, Sighting> sightings_;
  FailureDetector fd_;
  std::mt19937_64 rng_;
  TimePoint next_round_;
  std::optional<TimePoint> last_round_;
  std::vector<Event> events_;
  GossipStats stats_;
};

}  // namespace qkv::gossip
