// The simulation's insides, shared by the files that define them (simulation.h is the
// public API; only tests/sim/ includes this). One class, Simulation, whose members are
// defined by role:
//   world.cc         the event queue, the trace, the simulated network (send, deliver) and
//                    the nodes' lives (start, tick, group commit, crash, exit)
//   workload.cc      the clients: operations issued, answered and kept in the history
//   faults.cc        the fault schedule: partitions, crashes and wipes, then the heal
//   ring_changes.cc  the operator's joins, leaves and replaces, and every ring issued
//   final_phase.cc   the final repair, the final state for the checker, gossip's convergence
//   simulation.cc    a run: its setup, its phases and its result
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gossip/node_state.h"
#include "node/claimant.h"
#include "node/host.h"
#include "node/membership.h"
#include "node/node.h"
#include "ring/ring.h"
#include "tests/sim/checker.h"
#include "tests/sim/sim_storage.h"
#include "tests/sim/simulation.h"

namespace qkv::sim::detail {

constexpr Duration kTick{5};
constexpr Duration kClientTimeout{3000};
constexpr Duration kDrain{6000};  // after healing: longer than any delay plus timeouts
constexpr Duration kRepairRound{3000};
constexpr uint64_t kFnvPrime = 0x100000001b3ull;
// qkvd's gossip interval; and with ring changes, the time a transition may take to settle
// once the faults stop.
constexpr Duration kGossipInterval{1000};
constexpr Duration kRingSettleMax{120'000};

inline bool contains(const std::vector<NodeId>& ids, const NodeId& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// "n1:4 n2:4 n3:5 n4:3": partitions per owner, for the trace.
std::string describe_owners(const std::vector<NodeId>& owners);

// The simulated world's clock: one for everything; nodes add their skew.
class SimClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_{Duration(1'000'000)};
};

// A node's own clock: the world's plus its skew.
class NodeClock final : public Clock {
 public:
  NodeClock(const SimClock& world, Duration skew) : world_(world), skew_(skew) {}
  TimePoint now() const override { return world_.now() + skew_; }

 private:
  const SimClock& world_;
  Duration skew_;
};

// One run: K nodes on a simulated network and clock, the clients, the faults and, with ring
// changes, the operator; one thread, every random draw from rng_ (simulation.h). Members are
// grouped below by the file that defines them.
class Simulation {
 public:
  explicit Simulation(const SimConfig& config) : config_(config), rng_(config.seed) {}
  SimResult run();

 private:
  struct SimNode;
  class SimTransport final : public node::Transport {
   public:
    SimTransport(Simulation& sim, int index) : sim_(sim), index_(index) {}
    Status send(const NodeId& to, node::PeerMessage message) override {
      return sim_.on_send(index_, to, std::move(message));
    }
    void reply(node::ClientId client, proto::ClientResponse response) override {
      sim_.on_reply(client, std::move(response));
    }

   private:
    Simulation& sim_;
    int index_;
  };
  // The commit pipeline's storage side (SimConfig::commit_pipeline): the write and its end
  // are one later event of the world's loop.
  class SimCommitter final : public node::Committer {
   public:
    SimCommitter(Simulation& sim, int index) : sim_(sim), index_(index) {}
    void submit(std::vector<storage::WriteOp> ops) override;
    std::optional<Status> poll() override { return std::exchange(done_, std::nullopt); }
    Status wait() override;

   private:
    void write();
    Simulation& sim_;
    int index_;
    std::optional<std::vector<storage::WriteOp>> ops_;  // handed over, not yet written
    std::optional<Status> done_;                        // written, not yet taken
  };
  struct SimNode {
    NodeId id;
    std::unique_ptr<SimStorage> storage;
    std::unique_ptr<SimCommitter> committer;  // with commit_pipeline; outlives host
    std::unique_ptr<SimTransport> transport;
    // The process: the node core, its membership (gossip, failure detection, the ring's
    // life, the claimant) and its hints, wired as qkvd wires them (node/host.h). Null while
    // down; a restart builds a new one (hints reload from storage).
    std::unique_ptr<node::NodeHost> host;
    std::unique_ptr<NodeClock> clock;
    Duration skew{0};
    uint64_t life = 0;  // bumped at every crash: messages to an older life are lost
    std::set<uint64_t> incarnations;
    bool ever_member = false;  // named by some ring: never a spare again
    bool removed = false;      // left the ring, emptied and exited for good
  };
  struct Client {
    int index = 0;
    bool solo = false;
    std::optional<uint64_t> waiting;  // request id in flight
    std::function<void(std::optional<proto::ClientResponse>)> on_answer;
    std::vector<std::string> keys;
  };
  struct Event {
    TimePoint at;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Event& o) const { return std::tie(at, seq) > std::tie(o.at, o.seq); }
  };

  // Randomness: raw engine output only (distributions are implementation-defined).
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(double p) { return p > 0 && static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }
  Duration between(int64_t lo_ms, int64_t hi_ms) {
    return Duration(lo_ms + static_cast<int64_t>(below(static_cast<uint64_t>(hi_ms - lo_ms + 1))));
  }

  // simulation.cc: a run's setup, phases and result.
  // The nodes, their clocks and storages, the clients and the first ring.
  void build_world();
  // Runs until every initial member has made or learned the first ring (they wait to hear
  // of each other first: node/first_ring.h), at most kBootstrapMax, before the workload
  // and the faults begin.
  void bootstrap();
  // With ring changes, runs until the rings settle or kRingSettleMax passes; returns what
  // still keeps them from settling ("" once settled, and without ring changes).
  std::string settle_rings();
  // The checker's verdict and the run's counters. `limit`: the workload phase's time bound.
  SimResult judge(TimePoint limit, const std::string& unsettled);

  // world.cc: the event queue and the trace.
  void at(TimePoint t, std::function<void()> fn) { queue_.push({t, next_seq_++, std::move(fn)}); }
  void after(Duration d, std::function<void()> fn) { at(clock_.now() + d, std::move(fn)); }
  void run_until(TimePoint end);
  void trace(const std::string& line, const std::string* key = nullptr);
  // A ring event for the whole trace and every key's trace.
  void trace_ring(const std::string& line);
  void hash(uint64_t v) { trace_hash_ = (trace_hash_ ^ v) * kFnvPrime; }
  void hash(const std::string& s) {
    for (unsigned char c : s) hash(c);
  }

  // world.cc: the network.
  Status on_send(int from, const NodeId& to, node::PeerMessage message);
  void deliver(int from, int to, uint64_t life, const node::PeerMessage& message);
  void send_gossip(int from, std::vector<gossip::Outgoing> outgoing);

  // world.cc: the nodes' lives.
  TimePoint node_now(int i) const { return nodes_[i].clock->now(); }
  int index_of(const NodeId& id) const { return static_cast<int>(id[1] - '1'); }
  void start_node(int i);
  void tick(int i, uint64_t life);
  // Group commit as qkvd does it: the first event opens a batch that later events join
  // until it is committed 0-2 ms on; a crash in between loses the staged writes.
  void batch(int i);
  // The node's membership log lines into the trace (ring events into every key's trace).
  void trace_membership(int i);
  // A process ends (crash or exit): peers whose links to it break convict it at once.
  void links_break(int i);
  void crash(int i, bool machine, bool wipe);
  // A node that left, holds nothing and has gossiped its removal goes (Server::on_removed).
  void exit_node(int i);
  // Counters of a process that ends (per-process in the core).
  void end_life(SimNode& n);

  // workload.cc: the clients.
  void client_step(Client& c);
  void start_op(Client& c);
  // Records a new operation in the history; returns its index (ops refer to each other by
  // index: history_ grows, so references into it do not last).
  std::size_t begin_op(const Client& c, Op::Kind kind, const std::string& key, uint8_t quorum);
  // `seen`: the values of the read whose context the write carries; nullopt: a blind write.
  void record_write(Client& c, Op::Kind kind, std::string key,
                    std::optional<std::vector<std::string>> seen);
  // A node a client may connect to: any that has not left for good.
  int pick_node();
  void issue(Client& c, int node, proto::ClientOp op,
             std::function<void(std::optional<proto::ClientResponse>)> on_answer);
  // The solo client waits long enough that delays alone never leave its outcome unknown.
  uint32_t timeout_ms_of(const Client& c) const { return c.solo ? 10'000 : 0; }
  void on_reply(node::ClientId client, proto::ClientResponse response);
  void finish(Op& op, const std::optional<proto::ClientResponse>& response);

  // faults.cc: the fault schedule.
  void schedule_faults();
  void inject_fault();
  void inject_partition();
  // `wipe_chosen`: the fault drawn was a wipe (made only if the run had no destructive event).
  void inject_crash(bool wipe_chosen);
  void inject_long_outage();
  // A node to crash, wipe or snapshot: any, or with ring changes any that has not left.
  int crash_candidate();
  // The restore fault: takes a snapshot of a node's storage, or restores the node from the
  // one taken (faults.cc says when).
  void inject_restore();
  void heal();

  // ring_changes.cc: ring changes (config_.ring_changes > 0): the operator's commits through
  // the claimant's node::Membership, as qkvctl sends them.
  bool rings_on() const { return config_.ring_changes > 0; }
  // The ring node i holds: its gossip's while it runs, else the one saved on its disk.
  gossip::RingState ring_of(int i) const;
  // The newest ring some node holds, running or saved on its disk. A ring can be lost: a
  // claimant whose disk is wiped before it gossiped the ring it issued.
  gossip::RingState newest_ring() const;
  // Marked removed, waiting its three gossip rounds before it exits.
  bool exiting(int i) const {
    const auto& h = nodes_[i].host;
    return h && h->membership().gossip().self().status == gossip::Status::kRemoved;
  }
  // Every ring a claimant issues (the Membership's observer).
  void on_ring_issued(int by, const gossip::RingState& ring);
  void try_ring_change();
  // The last change's transition is lost: it counts as not made, to be committed again.
  // REQUIRES: last_change_ and ring (the newest) older than its transition.
  void recommit_lost_change(const gossip::RingState& ring);
  // A join, leave or replace drawn among those `ring` allows; nullopt (and no changes left)
  // when there is no spare and the ring has only n members.
  std::optional<node::RingChange> choose_ring_change(const gossip::RingState& ring);
  // Stages, plans and commits `change` at claimant c; returns its transition's version, or
  // the refusal (the change unstaged).
  Result<uint64_t> commit_ring_change(int c, const node::RingChange& change);
  bool ring_changes_pending() const {
    return rings_on() &&
           (ring_changes_left_ > 0 || last_change_ || !newest_ring().next_owners.empty());
  }
  // What still keeps the rings from settling after the faults ("" once settled).
  std::string ring_unsettled() const;

  // final_phase.cc: the final repair and the final state.
  void final_repair();
  FinalState final_state() const;
  // What node n holds and stores at the end, judged against the final ring.
  NodeHolding holding_of(const SimNode& n, const ring::Ring& final_ring) const;
  // The shared keys and the solo client's.
  std::vector<std::string> all_keys() const;
  // Gossip's convergence once the faults stopped: every running node knows every other
  // running node's current process (generation) and status and holds it up.
  std::vector<std::string> membership_violations() const;

  SimConfig config_;
  std::mt19937_64 rng_;
  SimClock clock_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  uint64_t next_seq_ = 0;
  std::shared_ptr<const ring::Ring> ring_;
  std::vector<SimNode> nodes_;
  std::vector<Client> clients_;
  std::vector<std::string> keys_;
  std::set<std::pair<int, int>> blocked_;  // directed (from, to) cuts
  bool faults_on_ = false;
  bool destructive_ = false;
  // The restore fault's snapshot, until it is restored (or its node's disk wiped).
  struct TakenSnapshot {
    int node = 0;
    std::string dir;  // on the node's SimStorage
    TimePoint restore_after;
  };
  std::optional<TakenSnapshot> snapshot_;
  int snapshots_ = 0, restores_ = 0;
  int down_ = 0;
  bool long_outage_scheduled_ = false;
  int ops_started_ = 0;
  int clients_done_ = 0;
  uint64_t next_request_id_ = 1;
  std::map<uint64_t, int> request_client_;  // request id -> client index
  std::vector<Op> history_;
  std::map<std::string, std::vector<std::string>> key_trace_;
  std::map<std::string, std::vector<TimePoint>> reaps_;  // ReplicaReaps sent, by key
  uint64_t trace_hash_ = 0xcbf29ce484222325ull;
  uint64_t events_ = 0;
  uint64_t messages_ = 0;
  std::vector<std::string> full_trace_;
  std::string pending_context_;  // the context a read-modify-write carries to its write

  // What a configured member (of the first ring) starts with when it has no saved ring, as
  // qkvd does: the members' claim, version 1. Spares join from these seeds.
  gossip::RingState initial_ring_;
  std::vector<NodeId> initial_members_;

  // Ring changes.
  std::map<uint64_t, gossip::RingState> rings_;  // the last ring issued under each version
  std::vector<gossip::RingState> issued_;        // every ring issued, lost ones included
  // Two tables under one version (issued, or seen by gossip), or gossip of another cluster.
  std::vector<std::string> ring_violations_;
  int ring_changes_left_ = 0;
  // The last change committed, until its switch exists: if its transition is lost, the
  // operator commits it again.
  struct Committed {
    node::RingChange change;
    uint64_t version = 0;  // of its transition
  };
  std::optional<Committed> last_change_;
  int joins_ = 0, leaves_ = 0, replaces_ = 0, removed_count_ = 0;
  uint64_t keys_received_ = 0, ranges_dropped_ = 0;  // of ended processes
};

}  // namespace qkv::sim::detail
