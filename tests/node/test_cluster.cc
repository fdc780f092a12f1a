#include "tests/node/test_cluster.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace qkv::testing {

class TestCluster::QueueTransport final : public node::Transport {
 public:
  QueueTransport(TestCluster& cluster, NodeId self) : cluster_(cluster), self_(std::move(self)) {}
  Status send(const NodeId& to, node::PeerMessage message) override {
    ++cluster_.messages_sent_;
    if (std::holds_alternative<node::Forward>(message.body)) {
      cluster_.last_forward_deadline_ = message.deadline_unix_ms;
    }
    if (std::holds_alternative<node::ReplicaWrite>(message.body)) {
      cluster_.last_replica_write_deadline_ = message.deadline_unix_ms;
    }
    if (std::holds_alternative<node::ReplicaRead>(message.body)) {
      cluster_.last_replica_read_deadline_ = message.deadline_unix_ms;
    }
    if (cluster_.down_.count(to) || cluster_.down_.count(self_)) {
      return Status::unavailable(to + " is down");  // as PeerLinks during a backoff
    }
    if (cluster_.blackholed_.count(to) || cluster_.blackholed_.count(self_)) return Status::ok();
    if (!cluster_.nodes_.count(to)) return Status::invalid_argument("unknown peer " + to);
    cluster_.queue_.push_back({to, std::move(message)});
    return Status::ok();
  }
  void reply(node::ClientId, proto::ClientResponse response) override {
    cluster_.responses_[response.request_id] = std::move(response);
  }

 private:
  TestCluster& cluster_;
  NodeId self_;
};

struct TestCluster::Member {
  storage::MemoryStorage storage;
  std::unique_ptr<handoff::HintedHandoff> handoff;
  std::unique_ptr<QueueTransport> transport;
  std::unique_ptr<node::Node> core;
};

TestCluster::~TestCluster() = default;

node::Node& TestCluster::node(const NodeId& id) {
  return *nodes_.at(id)->core;
}
storage::MemoryStorage& TestCluster::storage(const NodeId& id) {
  return nodes_.at(id)->storage;
}

TestCluster::TestCluster(Options options) : options_(std::move(options)) {
  auto ring =
      ring::Ring::claim(options_.ring_members.empty() ? options_.members : options_.ring_members,
                        options_.partitions, options_.n);
  QKV_ASSERT(ring.is_ok());
  ring_ = std::make_shared<const ring::Ring>(std::move(ring).value());
  uint64_t incarnation = 100;
  for (const auto& id : options_.members) {
    auto member = std::make_unique<Member>();
    member->transport = std::make_unique<QueueTransport>(*this, id);
    node::NodeConfig config;
    config.node_id = id;
    config.n = options_.n;
    config.r = options_.r;
    config.read_fanout = options_.read_fanout;
    config.w = options_.w;
    config.request_timeout = options_.request_timeout;
    config.request_timeout_max = options_.request_timeout_max;
    config.anti_entropy = options_.anti_entropy;
    config.transfer = options_.transfer;
    config.tombstones = options_.tombstones;
    config.limits = options_.limits;
    member->handoff =
        std::make_unique<handoff::HintedHandoff>(handoff::HandoffConfig{}, member->storage);
    QKV_ASSERT(member->handoff->open().is_ok());
    member->core = std::make_unique<node::Node>(
        config, ring_, member->storage, *member->transport, causal::Actor{id, incarnation++}, now_,
        options_.hinted_handoff ? member->handoff.get() : nullptr,
        options_.wall_clock
            ? std::function<int64_t()>([this] { return now_.time_since_epoch().count(); })
            : std::function<int64_t()>());
    nodes_.emplace(id, std::move(member));
  }
}

void TestCluster::deliver() {
  while (!queue_.empty()) {
    Envelope e = std::move(queue_.front());
    queue_.pop_front();
    nodes_.at(e.to)->core->on_peer_message(std::move(e.message), now_);
  }
}

void TestCluster::advance(Duration d) {
  now_ += d;
  for (auto& [id, member] : nodes_) member->core->on_tick(now_);
  deliver();
}

uint64_t TestCluster::send(const NodeId& via, proto::ClientOp op, uint32_t timeout_ms) {
  uint64_t id = next_request_id_++;
  nodes_.at(via)->core->on_client_request(7, proto::ClientRequest{id, timeout_ms, std::move(op)},
                                          now_);
  deliver();
  return id;
}

std::optional<proto::ClientResponse> TestCluster::response(uint64_t id) {
  auto it = responses_.find(id);
  if (it == responses_.end()) return std::nullopt;
  auto response = std::move(it->second);
  responses_.erase(it);
  return response;
}

proto::ClientResponse TestCluster::request(const NodeId& via, proto::ClientOp op,
                                           uint32_t timeout_ms) {
  uint64_t id = send(via, std::move(op), timeout_ms);
  // Bounded: no request may outlive request_timeout_max (60 s) of simulated time.
  for (int step = 0; step < 6000 && !responses_.count(id); ++step) advance(Duration(10));
  auto it = responses_.find(id);
  if (it == responses_.end()) {
    ADD_FAILURE() << "request " << id << " via " << via << " was never answered";
    return proto::ClientResponse{id, Status::timeout("never answered"), {}};
  }
  auto response = std::move(it->second);
  responses_.erase(it);
  return response;
}

proto::ClientResponse TestCluster::put(const NodeId& via, const std::string& key,
                                       const std::string& value, const std::string& context,
                                       uint8_t w) {
  return request(via, proto::PutRequest{key, value, context, w});
}

proto::ClientResponse TestCluster::get(const NodeId& via, const std::string& key, uint8_t r) {
  return request(via, proto::GetRequest{key, r});
}

proto::ClientResponse TestCluster::del(const NodeId& via, const std::string& key,
                                       const std::string& context, uint8_t w) {
  return request(via, proto::DeleteRequest{key, context, w});
}

void TestCluster::set_ring(std::shared_ptr<const ring::Ring> current,
                           std::shared_ptr<const ring::Ring> next, uint64_t version,
                           const std::vector<NodeId>& removed) {
  ring_ = current;
  for (auto& [id, member] : nodes_) member->core->set_ring(current, next, version, removed);
  deliver();
}

void TestCluster::set_applied(uint64_t version) {
  for (auto& [id, member] : nodes_) member->core->set_ring_applied(version, now_);
  deliver();
}

std::string TestCluster::key_not_replicated_by(const NodeId& node) const {
  for (int i = 0;; ++i) {
    std::string key = fmt::format("key-{}", i);
    if (!ring_->preference_list(ring::token_of(key), options_.n).is_primary(node)) return key;
  }
}

std::vector<NodeId> TestCluster::primaries(const std::string& key) const {
  return ring_->preference_list(ring::token_of(key), options_.n).primaries;
}

std::vector<NodeId> TestCluster::fallbacks(const std::string& key) const {
  return ring_->preference_list(ring::token_of(key), options_.n).fallbacks;
}

}  // namespace qkv::testing
