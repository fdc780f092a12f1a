#include "tests/sim/simulation.h"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>

#include "node/incarnation.h"
#include "node/node.h"
#include "node/wire/replica_codec.h"
#include "ring/ring.h"
#include "tests/sim/checker.h"
#include "tests/sim/sim_storage.h"

namespace qkv::sim {
namespace {

constexpr Duration kTick{5};
constexpr Duration kClientTimeout{3000};
constexpr Duration kDrain{6000};  // after healing: longer than any delay plus timeouts
constexpr Duration kRepairRound{3000};
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

// The simulated world's clock: one for everything; nodes add their skew.
class SimClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_{Duration(1'000'000)};
};

const char* body_name(const node::PeerBody& body) {
  static constexpr const char* kNames[] = {
      "replica_read", "replica_read_reply", "replica_write", "replica_write_ack",
      "forward",      "forward_reply",      "gossip",        "tree_request",
      "tree_reply",   "segment_request",    "segment_reply", "keys_request",
      "keys_reply",   "transfer_request",   "transfer_reply"};
  static_assert(std::size(kNames) == std::variant_size_v<node::PeerBody>);
  return kNames[body.index()];
}

// The key a message is about, if any (for the per-key trace).
const std::string* key_of(const node::PeerBody& body) {
  if (auto* m = std::get_if<node::ReplicaRead>(&body)) return &m->key;
  if (auto* m = std::get_if<node::ReplicaWrite>(&body)) return &m->key;
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

// "ctx{n1/1234:3 ...}" for a trace line; incarnations shortened to 4 digits.
std::string describe_context(const std::string& bytes) {
  auto vv = node::decode_context(bytes);
  if (!vv) return " ctx{malformed}";
  std::string out = " ctx{";
  for (const auto& e : vv->entries()) {
    out += fmt::format("{}{}/{}:{}", out.size() > 5 ? " " : "", e.actor.node,
                       e.actor.incarnation % 10000, e.counter);
  }
  return out + "}";
}

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
  struct SimNode {
    NodeId id;
    std::unique_ptr<SimStorage> storage;
    std::unique_ptr<SimTransport> transport;
    std::unique_ptr<handoff::HintedHandoff> handoff;  // per process: reloads hints at start
    std::unique_ptr<node::Node> core;                 // null while down
    Duration skew{0};
    uint64_t life = 0;  // bumped at every crash: messages to an older life are lost
    std::set<uint64_t> incarnations;
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

  void at(TimePoint t, std::function<void()> fn) { queue_.push({t, next_seq_++, std::move(fn)}); }
  void after(Duration d, std::function<void()> fn) { at(clock_.now() + d, std::move(fn)); }
  void run_until(TimePoint end);
  void trace(const std::string& line, const std::string* key = nullptr);
  void hash(uint64_t v) { trace_hash_ = (trace_hash_ ^ v) * kFnvPrime; }
  void hash(const std::string& s) {
    for (unsigned char c : s) hash(c);
  }

  TimePoint node_now(int i) const { return clock_.now() + nodes_[i].skew; }
  int index_of(const NodeId& id) const { return static_cast<int>(id[1] - '1'); }
  void start_node(int i);
  void crash(int i, bool machine, bool wipe);
  void tick(int i, uint64_t life);

  Status on_send(int from, const NodeId& to, node::PeerMessage message);
  void deliver(int from, int to, uint64_t life, const node::PeerMessage& message);
  // Group commit as qkvd does it: the first event opens a batch that later events join
  // until it is committed 0-2 ms on; a crash in between loses the staged writes.
  void batch(int i);
  void on_reply(node::ClientId client, proto::ClientResponse response);

  void client_step(Client& c);
  void issue(Client& c, int node, proto::ClientOp op,
             std::function<void(std::optional<proto::ClientResponse>)> on_answer);
  // The solo client waits long enough that delays alone never leave its outcome unknown.
  uint32_t timeout_ms_of(const Client& c) const { return c.solo ? 10'000 : 0; }
  void start_op(Client& c);
  // Records a new operation in the history; returns its index (ops refer to each other by
  // index: history_ grows, so references into it do not last).
  std::size_t begin_op(const Client& c, Op::Kind kind, const std::string& key, uint8_t quorum);
  // `seen`: the values of the read whose context the write carries; nullopt: a blind write.
  void record_write(Client& c, Op::Kind kind, std::string key,
                    std::optional<std::vector<std::string>> seen);
  void finish(Op& op, const std::optional<proto::ClientResponse>& response);

  void schedule_faults();
  void inject_fault();
  void heal();
  void final_repair();
  FinalState final_state() const;

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
  int down_ = 0;
  int ops_started_ = 0;
  int clients_done_ = 0;
  uint64_t next_request_id_ = 1;
  std::map<uint64_t, int> request_client_;  // request id -> client index
  std::vector<Op> history_;
  std::map<std::string, std::vector<std::string>> key_trace_;
  uint64_t trace_hash_ = 0xcbf29ce484222325ull;
  uint64_t events_ = 0;
  uint64_t messages_ = 0;
  std::vector<std::string> full_trace_;
  std::string pending_context_;  // the context a read-modify-write carries to its write
};

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

void Simulation::start_node(int i) {
  SimNode& n = nodes_[i];
  auto incarnation = node::open_incarnation(*n.storage, [this] { return rng_(); });
  QKV_ASSERT(incarnation.is_ok());
  n.incarnations.insert(incarnation->incarnation);
  node::NodeConfig config;
  config.node_id = n.id;
  config.n = config_.n;
  config.request_timeout = config_.request_timeout;
  const bool aae_only = config_.repair == SimConfig::Repair::kAntiEntropy;
  config.anti_entropy.segments = 16;  // a few keys per partition: most segments empty
  config.anti_entropy.exchange_interval = aae_only ? Duration(500) : Duration(2000);
  config.anti_entropy.exchange_timeout = Duration(2000);
  n.handoff = std::make_unique<handoff::HintedHandoff>(handoff::HandoffConfig{}, *n.storage);
  QKV_ASSERT(n.handoff->open().is_ok());
  n.core = std::make_unique<node::Node>(
      config, ring_, *n.storage, *n.transport, causal::Actor{n.id, incarnation->incarnation},
      node_now(i), aae_only ? nullptr : n.handoff.get(),
      [this, i] { return static_cast<int64_t>(node_now(i).time_since_epoch().count()); });
  trace(fmt::format("start {} incarnation={}", n.id, incarnation->incarnation));
  after(kTick, [this, i, life = n.life] { tick(i, life); });
}

void Simulation::tick(int i, uint64_t life) {
  SimNode& n = nodes_[i];
  n.storage->write_back(clock_.now());
  if (n.life != life || !n.core) return;
  n.core->on_tick(node_now(i));
  after(kTick, [this, i, life] { tick(i, life); });
}

void Simulation::crash(int i, bool machine, bool wipe) {
  SimNode& n = nodes_[i];
  n.core.reset();
  n.handoff.reset();
  ++n.life;
  std::size_t lost = machine ? n.storage->lose_unsynced() : 0;
  if (wipe)
    n.storage = std::make_unique<SimStorage>(clock_, config_.sync_writes, config_.writeback);
  if (wipe || lost > 0) destructive_ = true;
  trace(fmt::format("crash {} machine={} wipe={} lost_unsynced={}", n.id, machine, wipe, lost));
}

Status Simulation::on_send(int from, const NodeId& to, node::PeerMessage message) {
  ++messages_;
  int t = index_of(to);
  trace(fmt::format("send {}->{} {} id={}", nodes_[from].id, to, body_name(message.body),
                    message.request_id),
        key_of(message.body));
  SimNode& target = nodes_[t];
  if (!target.core) {
    // As PeerLinks: a link backing off refuses at once; otherwise the frame is queued, the
    // connect is refused a moment later, and the sender hears of it.
    if (below(2) == 0) return Status::unavailable(to + " is unreachable (backing off)");
    after(Duration(1), [this, from, to, life = nodes_[from].life] {
      if (nodes_[from].life == life && nodes_[from].core) {
        nodes_[from].core->on_peer_unreachable(to, node_now(from));
      }
    });
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
  if (target.life != life || !target.core) return;  // its connection died with the old life
  if (blocked_.count({from, to})) return;           // cut while in flight
  // Through the real codec, as on the wire.
  auto decoded = node::decode_peer_message(node::encode(message));
  QKV_ASSERT(decoded.is_ok());
  trace(fmt::format("recv {}->{} {} id={}", nodes_[from].id, target.id, body_name(message.body),
                    message.request_id),
        key_of(message.body));
  batch(to);
  target.core->on_peer_message(std::move(decoded).value(), node_now(to));
}

void Simulation::batch(int i) {
  SimNode& n = nodes_[i];
  if (n.core->batch_open()) return;
  n.core->begin_batch();
  after(between(0, 2), [this, i, life = n.life] {
    SimNode& node = nodes_[i];
    if (node.life != life || !node.core) return;  // crashed with the batch open
    node.core->commit_batch();
  });
}

void Simulation::on_reply(node::ClientId client, proto::ClientResponse response) {
  auto shared = std::make_shared<proto::ClientResponse>(std::move(response));
  after(between(1, 3), [this, client, shared] {
    Client& c = clients_[client];
    if (!c.waiting || *c.waiting != shared->request_id) return;  // late: it timed out
    c.waiting.reset();
    auto on_answer = std::move(c.on_answer);
    on_answer(*shared);
  });
}

void Simulation::issue(Client& c, int node, proto::ClientOp op,
                       std::function<void(std::optional<proto::ClientResponse>)> on_answer) {
  uint64_t id = next_request_id_++;
  c.waiting = id;
  c.on_answer = std::move(on_answer);
  SimNode& n = nodes_[node];
  if (!n.core) {
    // Connection refused: the client knows at once that nothing was sent.
    c.waiting.reset();
    auto f = std::move(c.on_answer);
    proto::ClientResponse refused{id, Status::unavailable("connection refused"), {}};
    return after(Duration(1), [f = std::move(f), refused] { f(refused); });
  }
  uint32_t timeout_ms = timeout_ms_of(c);
  proto::ClientRequest request{id, timeout_ms, std::move(op)};
  after(between(1, 3), [this, node, life = n.life, request, client = c.index]() mutable {
    SimNode& target = nodes_[node];
    if (target.life != life || !target.core) return;  // crashed before it arrived
    batch(node);
    target.core->on_client_request(static_cast<node::ClientId>(client), std::move(request),
                                   node_now(node));
  });
  after(kClientTimeout + Duration(timeout_ms), [this, id, client = c.index] {
    Client& cl = clients_[client];
    if (!cl.waiting || *cl.waiting != id) return;
    cl.waiting.reset();
    auto f = std::move(cl.on_answer);
    f(std::nullopt);
  });
}

void Simulation::finish(Op& op, const std::optional<proto::ClientResponse>& response) {
  op.end = clock_.now();
  if (!response) {
    op.outcome = Op::Outcome::kUnknown;
    op.status = "no answer in time";
  } else if (response->status.is_ok()) {
    op.outcome = Op::Outcome::kOk;
  } else if (response->status.code() == StatusCode::kNotFound) {
    op.outcome = Op::Outcome::kNotFound;
  } else {
    op.outcome = response->status.code() == StatusCode::kUnavailable ||
                         response->status.code() == StatusCode::kTimeout
                     ? Op::Outcome::kUnknown  // some replicas may have applied it
                     : Op::Outcome::kFailed;
    if (response->status.message() == "connection refused") op.outcome = Op::Outcome::kFailed;
    op.status = response->status.to_string();
  }
  std::string context;
  if (response) {
    if (auto* body = std::get_if<proto::GetResponse>(&response->body)) {
      op.values = body->values;
      context = describe_context(body->context);
    }
  }
  static constexpr const char* kOutcomes[] = {"ok", "not_found", "failed", "unknown"};
  std::string values;
  for (const auto& v : op.values) values += (values.empty() ? "" : ",") + v;
  trace(fmt::format("client {} op {} {} {} -> {} [{}] {}{}", op.client, op.id,
                    op.kind == Op::Kind::kGet   ? "get"
                    : op.kind == Op::Kind::kPut ? "put"
                                                : "delete",
                    op.value, kOutcomes[static_cast<int>(op.outcome)], values, op.status, context),
        &op.key);
}

void Simulation::client_step(Client& c) {
  if (ops_started_ >= config_.ops) {
    ++clients_done_;
    return;
  }
  ++ops_started_;
  after(between(0, 20), [this, &c] { start_op(c); });
}

// Read-modify-write as a real client does it: read, then write with that read's context.
void Simulation::start_op(Client& c) {
  const std::string key = c.keys[below(c.keys.size())];
  uint32_t n = config_.n;
  uint8_t r = c.solo ? static_cast<uint8_t>(n / 2 + 1) : static_cast<uint8_t>(1 + below(n));
  uint64_t roll = c.solo ? 50 : below(100);
  Op::Kind write_kind = roll < 75 ? Op::Kind::kPut : Op::Kind::kDelete;
  if (roll >= 30 && roll < 40) {  // a blind put: no context at all
    return record_write(c, Op::Kind::kPut, key, std::nullopt);
  }
  std::size_t index = begin_op(c, Op::Kind::kGet, key, r);
  issue(c, static_cast<int>(below(nodes_.size())), proto::GetRequest{key, r},
        [this, &c, index, roll, write_kind](std::optional<proto::ClientResponse> response) {
          Op& op = history_[index];
          std::string context;
          if (response) {
            if (auto* body = std::get_if<proto::GetResponse>(&response->body))
              context = body->context;
          }
          finish(op, response);
          bool read_ok = op.outcome == Op::Outcome::kOk || op.outcome == Op::Outcome::kNotFound;
          if (roll < 30 || !read_ok) return client_step(c);  // a plain get, or nothing to build on
          pending_context_ = context;
          record_write(c, write_kind, op.key, op.values);  // copies: history_ grows
        });
}

std::size_t Simulation::begin_op(const Client& c, Op::Kind kind, const std::string& key,
                                 uint8_t quorum) {
  std::size_t index = history_.size();
  Op op;
  op.id = index;
  op.client = c.index;
  op.solo = c.solo;
  op.kind = kind;
  op.key = key;
  op.quorum = quorum;
  op.start = clock_.now();
  history_.push_back(std::move(op));
  return index;
}

void Simulation::record_write(Client& c, Op::Kind kind, std::string key,
                              std::optional<std::vector<std::string>> seen) {
  uint32_t n = config_.n;
  uint8_t w = c.solo ? static_cast<uint8_t>(n / 2 + 1) : static_cast<uint8_t>(1 + below(n));
  std::size_t index = begin_op(c, kind, key, w);
  Op& op = history_[index];
  std::string context;
  if (seen) {
    op.seen = std::move(*seen);
    op.has_context = true;
    context = std::move(pending_context_);
  }
  trace(fmt::format("client {} op {} issues {} with{}", c.index, index,
                    kind == Op::Kind::kPut ? "put" : "delete", describe_context(context)),
        &key);
  proto::ClientOp request;
  // The solo client wants read-your-writes: that holds for R+W>N on primaries, so its
  // writes say sloppy=false (acks from fallbacks are not seen by a primary read quorum).
  bool primaries_only = c.solo;
  if (kind == Op::Kind::kPut) {
    op.value = fmt::format("c{}-{}", c.index, index);
    request = proto::PutRequest{key, op.value, context, w, primaries_only};
  } else {
    request = proto::DeleteRequest{key, context, w, primaries_only};
  }
  issue(c, static_cast<int>(below(nodes_.size())), std::move(request),
        [this, &c, index](std::optional<proto::ClientResponse> response) {
          finish(history_[index], response);
          client_step(c);
        });
}

void Simulation::schedule_faults() {
  after(between(50, 400), [this] {
    if (!faults_on_) return;
    inject_fault();
    schedule_faults();
  });
}

void Simulation::inject_fault() {
  const Faults& f = config_.faults;
  std::vector<int> kinds;
  if (f.partitions) kinds.push_back(0);
  if (f.crashes) kinds.push_back(1);
  if (f.wipes) kinds.push_back(2);
  if (kinds.empty()) return;
  int kind = kinds[below(kinds.size())];
  int k = static_cast<int>(nodes_.size());
  if (kind == 0) {
    std::set<std::pair<int, int>> cut;
    uint64_t shape = below(3);
    if (shape == 0) {  // a random split into two sides
      std::vector<bool> side(k);
      for (int i = 0; i < k; ++i) side[i] = below(2) == 1;
      for (int a = 0; a < k; ++a) {
        for (int b = 0; b < k; ++b) {
          if (side[a] != side[b]) cut.insert({a, b});
        }
      }
    } else if (shape == 1) {  // one node isolated
      int x = static_cast<int>(below(k));
      for (int o = 0; o < k; ++o) {
        if (o != x) cut.insert({x, o}), cut.insert({o, x});
      }
    } else {  // asymmetric: x cannot reach y, y still reaches x
      int x = static_cast<int>(below(k)), y = static_cast<int>(below(k));
      if (x != y) cut.insert({x, y});
    }
    trace(fmt::format("partition shape={} cuts={}", shape, cut.size()));
    for (const auto& c : cut) blocked_.insert(c);
    after(between(100, 3000), [this, cut] {
      for (const auto& c : cut) blocked_.erase(c);
      trace("partition healed");
    });
    return;
  }
  // Crashes and wipes: one node down at a time. Destructive events (a wipe, a machine crash
  // with sync_writes off) at most once per run: two of them can legitimately lose a W=2
  // write (both copies gone), which no design prevents without anti-entropy.
  if (down_ > 0) return;
  int x = static_cast<int>(below(k));
  bool wipe = kind == 2 && !destructive_;
  bool machine = wipe || below(2) == 1;
  if (machine && !config_.sync_writes && !wipe && destructive_) machine = false;
  crash(x, machine, wipe);
  ++down_;
  after(between(50, 2000), [this, x] {
    --down_;
    start_node(x);
  });
}

void Simulation::heal() {
  faults_on_ = false;
  blocked_.clear();
  trace("heal: partitions removed, faults off");
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (!nodes_[i].core) start_node(i);
  }
}

void Simulation::final_repair() {
  // Every key read at R=N, so read repair brings every replica to the merged state.
  Client& c = clients_[0];
  std::vector<std::string> all = keys_;
  for (const auto& cl : clients_) {
    if (cl.solo) all.insert(all.end(), cl.keys.begin(), cl.keys.end());
  }
  for (const auto& key : all) {
    run_until(clock_.now() + Duration(50));
    issue(c, static_cast<int>(below(nodes_.size())),
          proto::GetRequest{key, static_cast<uint8_t>(config_.n)},
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
  std::vector<std::string> all = keys_;
  for (const auto& cl : clients_) {
    if (cl.solo) all.insert(all.end(), cl.keys.begin(), cl.keys.end());
  }
  for (const auto& key : all) {
    KeyState& ks = state.keys[key];
    ks.primaries = ring_->preference_list(ring::token_of(key), config_.n).primaries;
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
  return state;
}

SimResult Simulation::run() {
  std::vector<NodeId> ids;
  for (int i = 0; i < config_.nodes; ++i) ids.push_back(fmt::format("n{}", i + 1));
  QKV_ASSERT(config_.nodes >= 1 && config_.nodes <= 9);  // one-digit ids: index_of
  auto ring = ring::Ring::claim(ids, config_.partitions, config_.n);
  QKV_ASSERT(ring.is_ok());
  ring_ = std::make_shared<const ring::Ring>(std::move(ring).value());
  nodes_.resize(ids.size());
  for (int i = 0; i < config_.nodes; ++i) {
    SimNode& n = nodes_[i];
    n.id = ids[i];
    n.storage = std::make_unique<SimStorage>(clock_, config_.sync_writes, config_.writeback);
    n.transport = std::make_unique<SimTransport>(*this, i);
    if (config_.faults.skew) n.skew = between(-2000, 2000);
  }
  for (int i = 0; i < config_.keys; ++i) keys_.push_back(fmt::format("k{}", i));
  clients_.resize(config_.clients + 1);
  for (int i = 0; i <= config_.clients; ++i) {
    clients_[i].index = i;
    clients_[i].solo = i == config_.clients;
    if (clients_[i].solo) {
      clients_[i].keys = {"solo0", "solo1"};
    } else {
      clients_[i].keys = keys_;
    }
  }
  for (int i = 0; i < config_.nodes; ++i) start_node(i);
  faults_on_ = config_.faults.any();
  if (faults_on_) schedule_faults();
  for (auto& c : clients_) client_step(c);

  // Workload phase, bounded in simulated time as well as in operations.
  const TimePoint limit = clock_.now() + Duration(600'000);
  while (clients_done_ < static_cast<int>(clients_.size()) && clock_.now() < limit &&
         !queue_.empty()) {
    run_until(clock_.now() + Duration(100));
  }
  heal();
  run_until(clock_.now() + kDrain);
  if (config_.repair == SimConfig::Repair::kAntiEntropy) {
    // No reads: only exchanges (every partition every 0.5 s, jittered) repair. Trees are
    // rebuilt after restarts one partition per tick; 20 s is many rounds of exchanges.
    run_until(clock_.now() + Duration(20'000));
  } else {
    final_repair();
    final_repair();  // the second pass finds nothing to repair once the first converged
  }

  SimResult result;
  result.destructive_event = destructive_;
  result.violations = check(config_, history_, final_state(), destructive_, key_trace_);
  if (clock_.now() >= limit)
    result.violations.push_back("the workload did not finish in 600 s of simulated time");
  result.ok = result.violations.empty();
  for (const auto& v : result.violations) hash(v);
  result.trace_hash = trace_hash_;
  result.events = events_;
  result.messages = messages_;
  result.ops = history_.size();
  for (const auto& op : history_) {
    bool answered = op.outcome == Op::Outcome::kOk || op.outcome == Op::Outcome::kNotFound;
    result.ops_acknowledged += answered;
    result.ops_unsuccessful += !answered;
  }
  for (const auto& n : nodes_) {
    if (!n.handoff) continue;
    result.hints_stored += n.handoff->stats().stored;
    result.hints_delivered += n.handoff->stats().delivered;
  }
  result.trace = std::move(full_trace_);
  return result;
}

}  // namespace

SimResult run_simulation(const SimConfig& config) {
  return Simulation(config).run();
}

}  // namespace qkv::sim
