// A fresh initial member's first ring (node/first_ring.h) and its cluster's identity, through
// the host qkvd and qkv-sim build (boot, NodeHost, Membership) on in-memory storage, gossip
// delivered by hand. Issue 15: a node given `members` that differ from the running cluster's
// built its own version-1 ring beside the cluster's, silently.
#include "node/first_ring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "gossip/ring_identity.h"
#include "node/host.h"
#include "node/storage/memory_storage.h"

namespace qkv::node {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kQ = 16;
constexpr uint32_t kN = 2;

class NullTransport final : public Transport {
 public:
  Status send(const NodeId&, PeerMessage) override { return Status::ok(); }
  void reply(ClientId, proto::ClientResponse) override {}
};

// One qkvd-like process: boot() from its own storage (fresh unless reused), the configured
// `members` (empty: joining from seeds), gossip addresses = node ids.
struct Process {
  Process(const NodeId& id, std::vector<NodeId> members, std::vector<std::string> seeds,
          const Clock& clock) {
    gossip::RingState first;
    if (!members.empty()) first = first_ring(std::move(members), kQ, kN).value();
    auto booted = boot(
        storage, [] { return uint64_t{7}; }, 1000, first);
    EXPECT_TRUE(booted.is_ok());
    HostConfig config;
    config.node.node_id = id;
    config.node.n = kN;
    config.node.r = 1;
    config.node.w = 1;
    config.node.generation = booted->generation;
    config.gossip.seeds = std::move(seeds);
    config.self =
        initial_self(id, booted->generation, id, "client-" + id, "", booted->ring.version != 0);
    host = std::make_unique<NodeHost>(std::move(config), *booted, storage, transport, clock,
                                      [] { return int64_t{0}; });
  }
  Membership& membership() { return host->membership(); }
  const gossip::GossipCore& gossip() { return host->membership().gossip(); }
  std::vector<std::string> events() {
    for (auto& e : membership().take_log_events()) {
      events_.push_back(std::string(log_level_name(e.level())) + " " + e.to_string());
    }
    return events_;
  }

  storage::MemoryStorage storage;
  NullTransport transport;
  std::unique_ptr<NodeHost> host;
  std::vector<std::string> events_;
};

// Delivers gossip between processes (by id) until nothing more is sent.
// `from` sent `outgoing`.
void exchange(const std::vector<Process*>& processes, std::vector<gossip::Outgoing> outgoing,
              Process& from) {
  std::vector<std::pair<NodeId, gossip::Outgoing>> pending;
  for (auto& out : outgoing) pending.emplace_back(from.gossip().self().id, out);
  while (!pending.empty()) {
    auto [sender, out] = std::move(pending.back());
    pending.pop_back();
    for (Process* p : processes) {
      const NodeId id = p->gossip().self().id;
      if (id != out.address) continue;
      for (auto& reply : p->membership().on_gossip(sender, out.message)) {
        pending.emplace_back(id, reply);
      }
    }
  }
}

// A gossip round on every process (1 s apart), each round's messages delivered.
void rounds(ManualClock& clock, const std::vector<Process*>& processes, int count) {
  for (int i = 0; i < count; ++i) {
    clock.advance(Duration(1000));
    for (Process* p : processes) exchange(processes, p->membership().on_tick(), *p);
  }
}

bool any_of(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& line : lines) {
    if (line.find(part) != std::string::npos) return true;
  }
  return false;
}

gossip::NodeState known(const NodeId& id, uint64_t ring_version) {
  gossip::NodeState s;
  s.id = id;
  s.ring_version = ring_version;
  return s;
}

TEST(FirstRingStepTest, MadeOnceEveryOtherMemberIsKnownWithoutARing) {
  const gossip::RingState first = first_ring({"n1", "n2", "n3"}, kQ, kN).value();
  std::map<NodeId, gossip::NodeState> members = {{"n1", known("n1", 0)}};
  const Duration max{10'000};
  FirstRingStep step = first_ring_step(first, "n1", members, Duration(0), max);
  EXPECT_FALSE(step.create);
  EXPECT_EQ(step.waiting_for, (std::vector<NodeId>{"n2", "n3"}));
  members["n2"] = known("n2", 0);
  members["n3"] = known("n3", 0);
  step = first_ring_step(first, "n1", members, Duration(0), max);
  EXPECT_TRUE(step.create);
  EXPECT_FALSE(step.waited_out);

  members["n3"] = known("n3", 4);  // holds this cluster's ring: gossip brings it, never made
  step = first_ring_step(first, "n1", members, Duration(60'000), max);
  EXPECT_FALSE(step.create);
  EXPECT_EQ(step.waiting_for, (std::vector<NodeId>{"n3"}));

  members.erase("n3");  // never heard of, past the wait: made anyway
  step = first_ring_step(first, "n1", members, max, max);
  EXPECT_TRUE(step.create);
  EXPECT_TRUE(step.waited_out);
  EXPECT_EQ(ring_members_text(first), "n1,n2,n3");
}

TEST(FirstRingTest, InitialMembersMakeOneRingOnceTheyHaveHeardOfEachOther) {
  ManualClock clock;
  Process n1("n1", {"n1", "n2", "n3"}, {"n2", "n3"}, clock);
  Process n2("n2", {"n1", "n2", "n3"}, {"n1", "n3"}, clock);
  Process n3("n3", {"n1", "n2", "n3"}, {"n1", "n2"}, clock);
  EXPECT_EQ(n1.gossip().ring().version, 0u) << "not at start: first it hears the others";
  EXPECT_EQ(n1.gossip().self().status, gossip::Status::kJoining);
  EXPECT_EQ(n1.gossip().cluster_id(), gossip::first_cluster_id({"n1", "n2", "n3"}, kQ, kN));
  rounds(clock, {&n1, &n2, &n3}, 3);
  for (Process* p : {&n1, &n2, &n3}) {
    EXPECT_EQ(p->gossip().ring(), first_ring({"n1", "n2", "n3"}, kQ, kN).value());
    EXPECT_EQ(p->gossip().self().status, gossip::Status::kNormal);
    EXPECT_FALSE(p->membership().fatal());
    EXPECT_EQ(p->gossip().stats().foreign_cluster_messages, 0u);
  }
  EXPECT_TRUE(any_of(n1.events(), "event=first_ring_waiting waiting_for=n2,n3"));
  EXPECT_TRUE(any_of(n1.events(), "event=first_ring_created")) << n1.events().back();
  auto saved = load_saved_ring(n1.storage);
  ASSERT_TRUE(saved.is_ok());
  EXPECT_EQ(saved->cluster_id, n1.gossip().cluster_id()) << "saved with the ring";
}

// Issue 15's scale-up: a 3-node cluster runs; a 4th node is started with members listing
// four nodes (itself among them) and the cluster as seeds. It makes no ring of its own and
// stops with an error naming the cluster it met; the cluster refuses it, says so, and goes
// on with its ring.
TEST(FirstRingTest, ANodeWhoseMembersDifferFromTheRunningClusterMakesNoRingAndStops) {
  ManualClock clock;
  Process n1("n1", {"n1", "n2", "n3"}, {"n2", "n3"}, clock);
  Process n2("n2", {"n1", "n2", "n3"}, {"n1", "n3"}, clock);
  Process n3("n3", {"n1", "n2", "n3"}, {"n1", "n2"}, clock);
  rounds(clock, {&n1, &n2, &n3}, 3);
  const gossip::RingState cluster_ring = n1.gossip().ring();
  ASSERT_EQ(cluster_ring.version, 1u);

  Process n4("n4", {"n1", "n2", "n3", "n4"}, {"n1", "n2", "n3"}, clock);
  const std::vector<Process*> all = {&n1, &n2, &n3, &n4};
  exchange(all, n4.membership().on_tick(), n4);
  ASSERT_TRUE(n4.membership().fatal().has_value()) << "it met the cluster at its first round";
  const std::string error = n4.membership().fatal()->message();
  EXPECT_THAT(error, HasSubstr("configured members (n1,n2,n3,n4)"));
  EXPECT_THAT(error, HasSubstr("whose ring (version 1) has the members n1,n2,n3"));
  EXPECT_THAT(error, HasSubstr("no members and --seeds"));
  EXPECT_EQ(n4.gossip().ring().version, 0u) << "no competing ring, ever";
  EXPECT_EQ(load_saved_ring(n4.storage)->version, 0u);
  EXPECT_TRUE(any_of(n4.events(), "critical event=first_ring_refused"));

  rounds(clock, all, 3);  // whatever n4 goes on sending until it stops
  for (Process* p : {&n1, &n2, &n3}) {
    EXPECT_EQ(p->gossip().ring(), cluster_ring);
    EXPECT_FALSE(p->gossip().members().contains("n4")) << "not merged into membership";
    EXPECT_FALSE(p->membership().fatal()) << "a running cluster never stops for a stranger";
  }
  const uint64_t refused = n1.gossip().stats().foreign_cluster_messages +
                           n2.gossip().stats().foreign_cluster_messages +
                           n3.gossip().stats().foreign_cluster_messages;
  EXPECT_GT(refused, 0u);
  Process* told = n1.gossip().stats().foreign_cluster_messages   ? &n1
                  : n2.gossip().stats().foreign_cluster_messages ? &n2
                                                                 : &n3;
  EXPECT_TRUE(any_of(told->events(), "error event=gossip_foreign_cluster peer=n4"));
  bool counted = false;
  for (const auto& [name, value] : told->membership().counters()) {
    counted = counted || (name == "gossip_foreign_cluster" && value > 0);
  }
  EXPECT_TRUE(counted) << "shown in status";
}

TEST(FirstRingTest, AWipedInitialMemberLearnsItsClustersRingInsteadOfMakingOne) {
  ManualClock clock;
  Process n1("n1", {"n1", "n2", "n3"}, {"n2", "n3"}, clock);
  Process n2("n2", {"n1", "n2", "n3"}, {"n1", "n3"}, clock);
  rounds(clock, {&n1, &n2}, 12);  // n3 never came: made after the wait
  ASSERT_EQ(n1.gossip().ring().version, 1u);
  EXPECT_TRUE(any_of(n1.events(), "waited_out=true"));

  Process n3("n3", {"n1", "n2", "n3"}, {"n1", "n2"}, clock);  // an empty data directory
  rounds(clock, {&n1, &n2, &n3}, 2);
  EXPECT_EQ(n3.gossip().ring(), n1.gossip().ring());
  EXPECT_FALSE(any_of(n3.events(), "first_ring_created")) << "learned, not made";
  EXPECT_FALSE(n3.membership().fatal());
}

// Nodes joining from seeds belong to no cluster until they learn a ring; then they refuse
// others too.
TEST(FirstRingTest, AJoiningNodeTakesItsClusterFromTheRingItLearns) {
  ManualClock clock;
  Process n1("n1", {"n1"}, {}, clock);
  ASSERT_EQ(n1.gossip().ring().version, 0u);
  clock.advance(Duration(1000));
  (void)n1.membership().on_tick();
  ASSERT_EQ(n1.gossip().ring().version, 1u) << "a lone initial member makes it at once";
  Process j("j", {}, {"n1"}, clock);
  EXPECT_EQ(j.gossip().cluster_id(), 0u);
  rounds(clock, {&n1, &j}, 2);
  EXPECT_EQ(j.gossip().ring().version, 1u);
  EXPECT_EQ(j.gossip().cluster_id(), n1.gossip().cluster_id());
  EXPECT_TRUE(n1.gossip().members().contains("j"));
}

}  // namespace
}  // namespace qkv::node
