// An in-memory cluster of node cores for tests: each node has a MemoryStorage and a
// transport that queues messages; deliver() runs the queue to quiescence. Nodes can be
// made unreachable (messages to and from them are dropped) or black-holed (dropped with
// no unreachable notice, so only deadlines notice). Deterministic: no threads, no clock.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "node/node.h"
#include "node/storage/memory_storage.h"
#include "ring/ring.h"

namespace qkv::testing {

class TestCluster {
 public:
  struct Options {
    std::vector<NodeId> members = {"n1", "n2", "n3"};
    // The members the first ring is claimed for (empty: all); the others own nothing yet.
    std::vector<NodeId> ring_members;
    uint32_t n = 3, r = 2, w = 2;
    coordinator::Fanout read_fanout = coordinator::Fanout::kAll;
    uint32_t partitions = 64;
    Duration request_timeout{1000};
    Duration request_timeout_max{60000};
    bool hinted_handoff = true;
    node::AntiEntropyConfig anti_entropy;
    node::TransferConfig transfer;
    node::TombstoneConfig tombstones;
    Limits limits;
    // Give the nodes a wall clock (unix ms = the cluster's clock); off, they have none.
    bool wall_clock = false;
  };

  explicit TestCluster(Options options);
  TestCluster() : TestCluster(Options{}) {}
  ~TestCluster();

  node::Node& node(const NodeId& id);
  storage::MemoryStorage& storage(const NodeId& id);
  const ring::Ring& ring() const { return *ring_; }
  TimePoint now() const { return now_; }

  // Sends a client request to `via` and runs the cluster until it is answered or the
  // time limit passes (advancing the clock in 10 ms steps when the queue is empty).
  proto::ClientResponse request(const NodeId& via, proto::ClientOp op, uint32_t timeout_ms = 0);
  // Sends a client request to `via` and delivers what it sends, without waiting for the
  // answer; returns the request id for response().
  uint64_t send(const NodeId& via, proto::ClientOp op, uint32_t timeout_ms = 0);
  // The answer to request `id`, once there is one (taken: a second call finds none).
  std::optional<proto::ClientResponse> response(uint64_t id);
  proto::ClientResponse put(const NodeId& via, const std::string& key, const std::string& value,
                            const std::string& context = "", uint8_t w = 0);
  proto::ClientResponse get(const NodeId& via, const std::string& key, uint8_t r = 0);
  proto::ClientResponse del(const NodeId& via, const std::string& key, const std::string& context,
                            uint8_t w = 0);

  // Down: sends to it fail at once (never sent). Black-holed: silently dropped.
  void set_down(const NodeId& id, bool down) { set(down_, id, down); }
  void set_blackholed(const NodeId& id, bool on) { set(blackholed_, id, on); }
  // Runs queued messages to quiescence without advancing the clock.
  void deliver();
  void advance(Duration d);

  // What gossip and the claimant do in qkvd: every node gets the ring (a transition when
  // `next` is set) of `version`, removing `removed` without a handoff; ring() becomes
  // `current`.
  void set_ring(std::shared_ptr<const ring::Ring> current, std::shared_ptr<const ring::Ring> next,
                uint64_t version, const std::vector<NodeId>& removed = {});
  // Every node hears that every member has applied ring `version`.
  void set_applied(uint64_t version);
  std::vector<NodeId> members() const { return options_.members; }

  // A key whose primaries do not include `node` (for forwarding tests).
  std::string key_not_replicated_by(const NodeId& node) const;
  // The primaries of a key.
  std::vector<NodeId> primaries(const std::string& key) const;
  // The fallbacks of a key, in preference-list order (the order stand-ins are taken in).
  std::vector<NodeId> fallbacks(const std::string& key) const;

  uint64_t messages_sent() const { return messages_sent_; }
  // The deadline (unix ms) the last Forward any node sent carried; nullopt if none was sent.
  std::optional<uint64_t> last_forward_deadline() const { return last_forward_deadline_; }
  // The same for the last ReplicaWrite (a coordinator's, or a hint delivery).
  std::optional<uint64_t> last_replica_write_deadline() const {
    return last_replica_write_deadline_;
  }
  // The same for the last ReplicaRead (a get coordinator's).
  std::optional<uint64_t> last_replica_read_deadline() const { return last_replica_read_deadline_; }

 private:
  class QueueTransport;
  struct Member;
  struct Envelope {
    NodeId to;
    node::PeerMessage message;
  };
  static void set(std::set<NodeId>& s, const NodeId& id, bool on) {
    if (on) {
      s.insert(id);
    } else {
      s.erase(id);
    }
  }

  Options options_;
  std::shared_ptr<const ring::Ring> ring_;
  std::map<NodeId, std::unique_ptr<Member>> nodes_;
  std::deque<Envelope> queue_;
  std::vector<std::pair<NodeId, NodeId>> unreachable_;   // (sender, target) to report
  std::map<uint64_t, proto::ClientResponse> responses_;  // by client request id
  std::set<NodeId> down_, blackholed_;
  TimePoint now_{Duration(1'000'000)};
  uint64_t next_request_id_ = 1;
  uint64_t messages_sent_ = 0;
  std::optional<uint64_t> last_forward_deadline_;
  std::optional<uint64_t> last_replica_write_deadline_;
  std::optional<uint64_t> last_replica_read_deadline_;
};

}  // namespace qkv::testing
