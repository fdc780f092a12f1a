// The simulated world: the event queue and the trace, the network between the nodes (every
// peer message through the real codec, with loss, duplication, delay and partitions), and
// each node's life: start, tick, group commit, crash and exit. Everything that builds or
// drives a node::Node and its node::Membership is here.
#include "tests/sim/world.h"

#include <fmt/format.h>

#include "node/incarnation.h"
#include "node/wire/replica_codec.h"

namespace qkv::sim::detail {
namespace {

const char* body_name(const node::PeerBody& body) {
  static constexpr const char* kNames[] = {
      "replica_read", "replica_read_reply", "replica_write",  "replica_write_ack",
      "forward",      "forward_reply",      "gossip",         "tree_request",
      "tree_reply",   "segment_request",    "segment_reply",  "keys_request",
      "keys_reply",   "transfer_request",   "transfer_reply", "link_ping",
      "link_pong",    "replica_reap"};
  static_assert(std::size(kNames) == std::variant_size_v<node::PeerBody>);
  return kNames[body.index()];
}

// The key a message is about, if any (for the per-key trace).
const std::string* key_of(const node::PeerBody& body) {
  if (auto* m = std::get_if<node::ReplicaRead>(&body)) return &m->key;
  if (auto* m = std::get_if<node::ReplicaWrite>(&body)) return &m->key;
  if (auto* m = std::get_if<node::ReplicaReap>(&body)) return &m->key;
  if (auto* m = std::get_if<node::Forward>(&body)) {
    return std::visit(
        [](const auto& op) -> const std::string* {
          if constexpr (requires { op.key; }) return &op.key;
          return nullptr;
        },
        m->request.op);
  }
  return nullptr;
}

}  // namespace

// The event queue and the trace.

void Simulation::trace(const std::string& line, const std::string* key) {
  std::string stamped = fmt::format(
      "{:>8} {}", (clock_.now().time_since_epoch() - Duration(1'000'000)).count(), line);
  hash(stamped);
  if (key != nullptr) {
    auto& lines = key_trace_[*key];
    lines.push_back(stamped);
  }
  if (config_.keep_trace) full_trace_.push_back(std::move(stamped));
}

void Simulation::trace_ring(const std::string& line) {
  trace(line);
  std::string stamped = fmt::format(
      "{:>8} {}", (clock_.now().time_since_epoch() - Duration(1'000'000)).count(), line);
  for (const auto& key : keys_) key_trace_[key].push_back(stamped);
  for (const auto& cl : clients_) {
    if (!cl.solo) continue;
    for (const auto& key : cl.keys) key_trace_[key].push_back(stamped);
  }
}

void Simulation::run_until(TimePoint end) {
  while (!queue_.empty() && queue_.top().at <= end) {
    Event e = queue_.top();
    queue_.pop();
    clock_.set(e.at);
    ++events_;
    e.fn();
  }
  clock_.set(end);
}

// The network.

Status Simulation::on_send(int from, const NodeId& to, node::PeerMessage message) {
  ++messages_;
  if (const auto* reap = std::get_if<node::ReplicaReap>(&message.body)) {
    reaps_[reap->key].push_back(clock_.now());
  }
  int t = index_of(to);
  trace(fmt::format("send {}->{} {} id={}", nodes_[from].id, to, body_name(message.body),
                    message.request_id),
        key_of(message.body));
  SimNode& target = nodes_[t];
  if (!target.host) {
    // As PeerLinks: a link backing off refuses at once; otherwise the frame is queued, the
    // connect is refused a moment later, and the sender hears of it.
    // Either way the sender's driver convicts it (Server's on_unreachable).
    auto convict = [this, from, to, life = nodes_[from].life](bool tell_core) {
      if (nodes_[from].life != life || !nodes_[from].host) return;
      nodes_[from].host->on_peer_unreachable(to, /*never_sent=*/tell_core);
      trace_membership(from);
    };
    if (below(2) == 0) {
      after(Duration(1), [convict] { convict(false); });
      return Status::unavailable(to + " is unreachable (backing off)");
    }
    after(Duration(1), [convict] { convict(true); });
    return Status::ok();
  }
  if (blocked_.count({from, t})) return Status::ok();  // a partition: silently lost
  if (faults_on_ && chance(config_.faults.loss)) {
    trace("  lost");
    return Status::ok();
  }
  auto latency = [&] {
    if (faults_on_ && chance(config_.faults.long_delay)) return between(100, 2000);
    return between(1, 5);
  };
  uint64_t life = target.life;
  auto shared = std::make_shared<node::PeerMessage>(std::move(message));
  after(latency(), [this, from, t, life, shared] { deliver(from, t, life, *shared); });
  if (faults_on_ && chance(config_.faults.duplicate)) {
    trace("  duplicated");
    after(latency(), [this, from, t, life, shared] { deliver(from, t, life, *shared); });
  }
  return Status::ok();
}

void Simulation::deliver(int from, int to, uint64_t life, const node::PeerMessage& message) {
  SimNode& target = nodes_[to];
  if (target.life != life || !target.host) return;  // its connection died with the old life
  if (blocked_.count({from, to})) return;           // cut while in flight
  // Through the real codec, as on the wire.
  auto decoded = node::decode_peer_message(node::encode(message));
  QKV_ASSERT(decoded.is_ok());
  trace(fmt::format("recv {}->{} {} id={}", nodes_[from].id, target.id, body_name(message.body),
                    message.request_id),
        key_of(message.body));
  if (!node::is_gossip(*decoded)) batch(to);
  send_gossip(to, target.host->on_peer_message(std::move(decoded).value()));
  trace_membership(to);
}

void Simulation::send_gossip(int from, std::vector<gossip::Outgoing> outgoing) {
  for (auto& out : outgoing) {
    (void)on_send(from, out.address,
                  node::PeerMessage{nodes_[from].id, 0, node::Gossip{std::move(out.message)}});
  }
}

// The nodes' lives.

void Simulation::start_node(int i) {
  SimNode& n = nodes_[i];
  // As qkvd's main: the ring it saved, else (a configured member) the first ring, else none
  // (a spare joining from the seeds).
  const gossip::RingState first =
      contains(initial_members_, n.id) ? initial_ring_ : gossip::RingState{};
  auto boot = node::boot(
      *n.storage, [this] { return rng_(); }, node_now(i).time_since_epoch().count(), first);
  QKV_ASSERT(boot.is_ok());
  n.incarnations.insert(boot->incarnation);
  node::HostConfig config;
  config.node.node_id = n.id;
  config.node.n = config_.n;
  config.node.generation = boot->generation;
  // Default quorums (requests here always name theirs) must fit a small n.
  config.node.r = std::min(config.node.r, config_.n);
  config.node.w = std::min(config.node.w, config_.n);
  config.node.read_fanout = config_.read_fanout;
  config.node.request_timeout = config_.request_timeout;
  config.node.request_timeout_max = std::max(config_.request_timeout, Duration(2000));
  // Node clocks differ by up to 4 s under the skew fault (each +-2 s).
  config.node.clock_skew_max = Duration(4500);
  // Reaping with a grace short enough to happen during a run; hints live shorter still
  // (node/reaper.h: the grace must outlive them, requests and the skew).
  config.handoff.hint_age_max = config_.hint_age_max;
  config.node.tombstones.reap = config_.tombstone_grace.count() > 0;
  if (config.node.tombstones.reap) config.node.tombstones.grace = config_.tombstone_grace;
  config.node.tombstones.retry_interval = Duration(2000);
  config.node.tombstones.sweep_interval = Duration(1000);
  const bool aae_only = config_.repair == SimConfig::Repair::kAntiEntropy;
  config.node.anti_entropy.segments = 16;  // a few keys per partition: most segments empty
  config.node.anti_entropy.exchange_interval = aae_only ? Duration(500) : Duration(2000);
  config.node.anti_entropy.exchange_timeout = Duration(2000);
  // A lost transfer batch is asked again after 2 s, not qkvd's 10 s: under the simulation's
  // fault rates a transition would otherwise take minutes.
  config.node.transfer.request_timeout = Duration(2000);
  config.hinted_handoff = !aae_only;
  config.auto_join.enabled = config_.auto_join;
  config.auto_join.quiet = Duration(3000);
  // Gossip addresses are node ids; the configured members are the seeds.
  config.gossip.interval = kGossipInterval;
  for (const auto& id : initial_members_) {
    if (id != n.id) config.gossip.seeds.push_back(id);
  }
  config.self = node::initial_self(n.id, boot->generation, n.id, n.id, "", boot->ring.version != 0);
  n.host = std::make_unique<node::NodeHost>(
      std::move(config), *boot, *n.storage, *n.transport, *n.clock,
      [this, i] { return static_cast<int64_t>(node_now(i).time_since_epoch().count()); });
  QKV_ASSERT(n.host->open().is_ok());
  trace(fmt::format("start {} incarnation={} generation={}", n.id, boot->incarnation,
                    boot->generation));
  if (config_.commit_pipeline) {
    n.committer = std::make_unique<SimCommitter>(*this, i);
    n.host->node().set_committer(n.committer.get());
  }
  n.host->membership().set_on_ring_issued(
      [this, i](const gossip::RingState& issued) { on_ring_issued(i, issued); });
  trace_membership(i);
  after(kTick, [this, i, life = n.life] { tick(i, life); });
}

void Simulation::tick(int i, uint64_t life) {
  SimNode& n = nodes_[i];
  n.storage->write_back(clock_.now());
  if (n.life != life || !n.host) return;
  send_gossip(i, n.host->on_tick());
  trace_membership(i);
  for (const auto& event : n.host->node().take_log_events()) {
    trace(n.id + " " + event.to_string());
  }
  if (n.host->membership().exit_due()) return exit_node(i);
  after(kTick, [this, i, life] { tick(i, life); });
}

void Simulation::batch(int i) {
  SimNode& n = nodes_[i];
  if (n.host->node().batch_open()) return;
  n.host->node().begin_batch();
  after(between(0, 2), [this, i, life = n.life] {
    SimNode& node = nodes_[i];
    if (node.life != life || !node.host) return;  // crashed with the batch open
    node.host->node().commit_batch();
  });
}

void Simulation::trace_membership(int i) {
  for (const auto& event : nodes_[i].host->membership().take_log_events()) {
    const std::string text = nodes_[i].id + " " + event.to_string();
    // One cluster, one table per version: gossip must never see otherwise.
    if (event.event() == "ring_conflict" || event.event() == "gossip_foreign_cluster" ||
        event.event() == "first_ring_refused") {
      ring_violations_.push_back(fmt::format("seed {}: {}\n", config_.seed, text));
    }
    if (event.event().starts_with("ring_") || event.event() == "node_removed") {
      trace_ring(text);
    } else {
      trace(text);
    }
  }
}

void Simulation::links_break(int i) {
  for (int j = 0; j < static_cast<int>(nodes_.size()); ++j) {
    if (j == i || !nodes_[j].host || blocked_.count({i, j})) continue;
    after(between(1, 5), [this, i, j, life = nodes_[j].life] {
      if (nodes_[j].life != life || !nodes_[j].host) return;
      nodes_[j].host->on_peer_unreachable(nodes_[i].id, /*never_sent=*/false);
      trace_membership(j);
    });
  }
}

void Simulation::crash(int i, bool machine, bool wipe) {
  SimNode& n = nodes_[i];
  end_life(n);
  n.host.reset();
  n.committer.reset();  // a write it had not made is lost with the process
  ++n.life;
  std::size_t lost = machine ? n.storage->lose_unsynced() : 0;
  // The saved ring and the gossip generation go with the disk.
  if (wipe) {
    n.storage = std::make_unique<SimStorage>(clock_, config_.sync_writes, config_.writeback);
    if (snapshot_ && snapshot_->node == i) snapshot_.reset();  // it was on that disk
  }
  if (wipe || lost > 0) destructive_ = true;
  trace(fmt::format("crash {} machine={} wipe={} lost_unsynced={}", n.id, machine, wipe, lost));
  // A process crash closes its connections and the peers see them break; a machine that
  // dies says nothing: peers notice through failed sends and phi.
  if (!machine) links_break(i);
}

void Simulation::exit_node(int i) {
  SimNode& n = nodes_[i];
  end_life(n);
  n.host.reset();
  n.committer.reset();
  ++n.life;
  n.removed = true;
  ++removed_count_;
  trace_ring(fmt::format("ring {} exits", n.id));
  links_break(i);
}

void Simulation::SimCommitter::submit(std::vector<storage::WriteOp> ops) {
  QKV_ASSERT(!ops_ && !done_);
  ops_ = std::move(ops);
  sim_.after(sim_.between(0, 3), [sim = &sim_, i = index_, life = sim_.nodes_[index_].life] {
    SimNode& n = sim->nodes_[i];
    if (n.life != life || !n.host || !n.committer->ops_) return;  // crashed, or waited for
    n.committer->write();
    n.host->node().on_commit_done(sim->node_now(i));
  });
}

Status Simulation::SimCommitter::wait() {
  if (ops_) write();
  QKV_ASSERT(done_.has_value());
  return *std::exchange(done_, std::nullopt);
}

void Simulation::SimCommitter::write() {
  done_ = sim_.nodes_[index_].storage->write(*ops_);
  ops_.reset();
}

void Simulation::end_life(SimNode& n) {
  if (!n.host) return;
  keys_received_ += n.host->node().transfer().counters().keys_received;
  ranges_dropped_ += n.host->node().counters().ranges_dropped;
}

}  // namespace qkv::sim::detail
