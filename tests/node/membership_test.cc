// node::Membership: gossip's rings reach the node core and its disk, convictions reach the
// members view, and ring requests to a non-claimant name the claimant's address.
#include "node/membership.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "node/storage/memory_storage.h"
#include "ring/ring.h"

namespace qkv::node {
namespace {

constexpr uint32_t kQ = 16;
constexpr uint32_t kN = 2;

class NullTransport final : public Transport {
 public:
  Status send(const NodeId&, PeerMessage) override { return Status::ok(); }
  void reply(ClientId, proto::ClientResponse) override {}
};

gossip::RingState first_ring(const std::vector<NodeId>& members) {
  auto claimed = ring::Ring::claim(members, kQ, kN);
  EXPECT_TRUE(claimed.is_ok());
  return gossip::RingState{1, kN, claimed->owners(), {}, "n1"};
}

// One process: storage, node core and its Membership; gossip addresses are node ids.
struct Process {
  Process(const NodeId& id, gossip::RingState ring, std::vector<std::string> seeds,
          const Clock& clock) {
    start(id, std::move(ring), std::move(seeds), clock, 1);
  }
  // Stops this process and starts it again on the same storage, as qkvd does: from the
  // saved ring, with a higher generation.
  void restart(std::vector<std::string> seeds, const Clock& clock) {
    const NodeId id = membership->gossip().self().id;
    const uint64_t generation = membership->gossip().self().generation + 1;
    membership.reset();
    core.reset();
    auto ring = load_saved_ring(storage);
    ASSERT_TRUE(ring.is_ok());
    start(id, std::move(ring).value(), std::move(seeds), clock, generation);
  }
  void start(const NodeId& id, gossip::RingState ring, std::vector<std::string> seeds,
             const Clock& clock, uint64_t generation) {
    NodeConfig config;
    config.node_id = id;
    config.n = kN;
    config.r = 1;
    config.w = 1;
    core = std::make_unique<Node>(config, nullptr, storage, transport, causal::Actor{id, 7},
                                  clock.now(), nullptr, [] { return int64_t{0}; });
    gossip::GossipConfig gossip_config;
    gossip_config.seeds = std::move(seeds);
    gossip::NodeState self;
    self.id = id;
    self.generation = generation;
    self.version = 1;
    self.peer_address = id;
    self.client_address = "client-" + id;
    self.status = ring.version != 0 ? gossip::Status::kNormal : gossip::Status::kJoining;
    membership = std::make_unique<Membership>(gossip_config, self, std::move(ring), 1, *core,
                                              storage, nullptr, clock);
  }

  storage::MemoryStorage storage;
  NullTransport transport;
  std::unique_ptr<Node> core;
  std::unique_ptr<Membership> membership;
};

// Delivers gossip between processes (by id) until nothing more is sent.
// `from` sent `outgoing`.
void exchange(std::vector<Process*> processes, std::vector<gossip::Outgoing> outgoing,
              const Process& from) {
  std::vector<std::pair<NodeId, gossip::Outgoing>> pending;
  for (auto& out : outgoing) pending.emplace_back(from.membership->gossip().self().id, out);
  while (!pending.empty()) {
    auto [sender, out] = std::move(pending.back());
    pending.pop_back();
    for (Process* p : processes) {
      const NodeId id = p->membership->gossip().self().id;
      if (id != out.address) continue;
      for (auto& reply : p->membership->on_gossip(sender, out.message)) {
        pending.emplace_back(id, std::move(reply));
      }
    }
  }
}

TEST(MembershipTest, AJoiningNodeAppliesAndSavesTheRingGossipBrings) {
  ManualClock clock;
  Process n1("n1", first_ring({"n1", "n2"}), {}, clock);
  Process n3("n3", gossip::RingState{}, {"n1"}, clock);
  EXPECT_TRUE(n3.core->held_ranges().empty());
  exchange({&n1, &n3}, n3.membership->on_tick(), n3);

  EXPECT_EQ(n3.membership->gossip().ring().version, 1u);
  auto saved = load_saved_ring(n3.storage);
  ASSERT_TRUE(saved.is_ok());
  EXPECT_EQ(saved->version, 1u) << "a restart starts from the ring it had";
  EXPECT_EQ(n3.membership->gossip().self().status, gossip::Status::kJoining)
      << "it owns nothing in that ring";
  EXPECT_TRUE(n3.membership->gossip().members().contains("n1"));
}

// A restarted node knows no member until one gossips to it. Found by the simulation: every
// configured seed of a node had left the cluster, the two members left knew no address of
// it, and it restarted; gossip never converged. It saves its fellow members' addresses and
// starts gossip with them (Cassandra's system.peers).
TEST(MembershipTest, ARestartedNodeWhoseSeedsLeftFindsTheMembersItSaved) {
  ManualClock clock;
  const gossip::RingState ring = first_ring({"n1", "n2", "n3"});
  Process n1("n1", ring, {}, clock);
  Process n2("n2", ring, {"n1"}, clock);
  Process n3("n3", ring, {"n1"}, clock);
  exchange({&n1, &n2, &n3}, n2.membership->on_tick(), n2);
  exchange({&n1, &n2, &n3}, n3.membership->on_tick(), n3);
  EXPECT_EQ(load_saved_peers(n3.storage),
            (std::map<NodeId, std::string>{{"n1", "n1"}, {"n2", "n2"}}));

  n3.restart({"gone"}, clock);  // its one seed has left the cluster since
  std::set<std::string> targets;
  for (int round = 0; round < 8; ++round) {
    for (const auto& out : n3.membership->on_tick()) targets.insert(out.address);
    clock.advance(gossip::GossipConfig().interval);
  }
  EXPECT_TRUE(targets.contains("n2")) << "n2 was never a seed of n3";

  ASSERT_TRUE(n3.storage.put_meta("peers", "n1 n1\nnot a line").is_ok());
  EXPECT_TRUE(load_saved_peers(n3.storage).empty()) << "an unreadable value is ignored";
}

// Issue 16: a node that owns nothing in the ring cannot hand the cluster a ring, whatever
// version it claims; a member can.
TEST(MembershipTest, ANewerRingIsTakenOnlyFromAMemberOfTheRing) {
  ManualClock clock;
  Process n1("n1", first_ring({"n1", "n2"}), {}, clock);
  gossip::RingState forged = n1.membership->gossip().ring();
  forged.version = 99;
  forged.claimant = "n9";
  std::fill(forged.owners.begin(), forged.owners.end(), "n9");
  gossip::Ack2 from_outsider;
  from_outsider.ring = forged;
  EXPECT_TRUE(n1.membership->on_gossip("n9", from_outsider).empty());
  EXPECT_EQ(n1.membership->gossip().ring().version, 1u) << "the forged ring was dropped";
  auto counter = [&](const std::string& name) {
    for (const auto& [key, value] : n1.membership->counters()) {
      if (key == name) return value;
    }
    return uint64_t{0};
  };
  EXPECT_EQ(counter("rings_refused"), 1u);
  gossip::Ack via_ack;
  via_ack.sender.id = "n9";
  via_ack.sender.peer_address = "n9";
  via_ack.ring = forged;
  (void)n1.membership->on_gossip("n9", via_ack);
  EXPECT_EQ(n1.membership->gossip().ring().version, 1u);
  EXPECT_EQ(counter("rings_refused"), 2u);

  // The same ring from n2, an owner of n1's ring, is a ring change like any other.
  gossip::RingState next = n1.membership->gossip().ring();
  next.version = 2;
  gossip::Ack2 from_member;
  from_member.ring = next;
  (void)n1.membership->on_gossip("n2", from_member);
  EXPECT_EQ(n1.membership->gossip().ring().version, 2u);
}

TEST(MembershipTest, AConvictedPeerIsDownInTheMembersView) {
  ManualClock clock;
  Process n1("n1", first_ring({"n1", "n2"}), {"n2"}, clock);
  Process n2("n2", first_ring({"n1", "n2"}), {"n1"}, clock);
  exchange({&n1, &n2}, n1.membership->on_tick(), n1);
  auto up_of = [&](const NodeId& id) {
    for (const auto& m : n1.membership->members_response().members) {
      if (m.id == id) return m.up;
    }
    ADD_FAILURE() << id << " is not a member";
    return false;
  };
  EXPECT_TRUE(up_of("n2"));
  n1.membership->convict("n2");
  EXPECT_FALSE(up_of("n2"));
  auto events = n1.membership->take_log_events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().level(), LogLevel::kWarn);
  EXPECT_EQ(events.back().event(), "node_down");
  EXPECT_EQ(events.back().field("peer"), "n2") << "not node=: that is the node writing the line";
}

TEST(MembershipTest, ANonClaimantNamesTheClaimantsConfiguredAddressBeforeGossipHasIt) {
  ManualClock clock;
  Process n2("n2", first_ring({"n1", "n2"}), {"n1"}, clock);
  proto::RingAdminRequest commit;
  commit.action = proto::RingAction::kCommit;
  commit.plan_id = 42;

  auto refused = n2.membership->ring_admin(1, commit);
  EXPECT_EQ(refused.status.code(), StatusCode::kUnavailable);
  const auto& body = std::get<proto::RingAdminResponse>(refused.body);
  EXPECT_EQ(body.claimant, "n1");
  EXPECT_EQ(body.claimant_address, "") << "gossip has not heard of n1, nothing configured";

  n2.membership->set_configured_client_addresses({{"n1", "127.0.0.1:7001"}});
  refused = n2.membership->ring_admin(2, commit);
  EXPECT_EQ(refused.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(std::get<proto::RingAdminResponse>(refused.body).claimant_address, "127.0.0.1:7001");
}

AutoJoinConfig auto_join_on() {
  AutoJoinConfig c;
  c.enabled = true;
  c.quiet = Duration(5000);
  return c;
}

// Hands `from`'s pending join requests to `to` and the answers back; returns how many.
int carry_join_requests(Process& from, Process& to) {
  int carried = 0;
  for (auto& [target, message] : from.membership->take_peer_messages()) {
    EXPECT_EQ(target, to.membership->gossip().self().id);
    const auto& forward = std::get<Forward>(message.body);
    auto answer =
        to.membership->peer_ring_admin(message.from, forward.request.request_id,
                                       std::get<proto::RingAdminRequest>(forward.request.op));
    EXPECT_TRUE(answer.status.is_ok()) << answer.status.to_string();
    EXPECT_TRUE(from.membership->on_peer_ring_admin_reply(message.request_id, answer));
    ++carried;
  }
  return carried;
}

bool logged(Process& p, std::string_view event) {
  for (const auto& e : p.membership->take_log_events()) {
    if (e.event() == event) return true;
  }
  return false;
}

TEST(MembershipTest, AnAutoJoinNodeStagesItsJoinAndTheClaimantCommitsItOnceQuiet) {
  ManualClock clock;
  Process n1("n1", first_ring({"n1", "n2"}), {}, clock);
  Process n3("n3", gossip::RingState{}, {"n1"}, clock);
  n1.membership->set_auto_join(auto_join_on());  // the claimant's quiet period
  n3.membership->set_auto_join(auto_join_on());
  exchange({&n1, &n3}, n3.membership->on_tick(), n3);  // n3 learns the ring
  (void)n3.membership->on_tick();
  ASSERT_EQ(carry_join_requests(n3, n1), 1);
  EXPECT_TRUE(logged(n3, "auto_join_requested"));
  EXPECT_TRUE(logged(n1, "ring_change_staged"));

  clock.advance(Duration(4'900));
  (void)n1.membership->on_tick();
  EXPECT_EQ(n1.membership->gossip().ring().version, 1u) << "quiet period not over";
  clock.advance(Duration(100));
  (void)n1.membership->on_tick();
  const gossip::RingState& ring = n1.membership->gossip().ring();
  ASSERT_EQ(ring.version, 2u);
  EXPECT_GT(std::count(ring.next_owners.begin(), ring.next_owners.end(), "n3"), 0);
  EXPECT_TRUE(logged(n1, "ring_auto_committed"));

  // In the ring now (a receiver of the transition): it asks no more.
  clock.advance(Duration(1'000));  // n1's next gossip round carries the ring
  exchange({&n1, &n3}, n1.membership->on_tick(), n1);
  EXPECT_EQ(n3.membership->gossip().ring().version, 2u);
  clock.advance(Duration(10'000));
  (void)n3.membership->on_tick();
  EXPECT_TRUE(n3.membership->take_peer_messages().empty());
}

TEST(MembershipTest, ANodeThatLeftOrHasAutoJoinOffNeverAsks) {
  ManualClock clock;
  Process n1("n1", first_ring({"n1", "n2"}), {}, clock);
  Process left("n3", gossip::RingState{}, {"n1"}, clock);
  Process off("n4", gossip::RingState{}, {"n1"}, clock);
  ASSERT_TRUE(left.storage.put_meta("ring_member", "").is_ok());  // left in an earlier life
  left.membership->set_auto_join(auto_join_on());
  for (Process* p : {&left, &off}) {
    exchange({&n1, p}, p->membership->on_tick(), *p);
    clock.advance(Duration(3'000));
    (void)p->membership->on_tick();
    EXPECT_TRUE(p->membership->take_peer_messages().empty());
  }
}

TEST(MembershipTest, AClaimantWithoutAutoJoinRefusesAutomaticJoins) {
  ManualClock clock;
  Process n1("n1", first_ring({"n1", "n2"}), {}, clock);  // auto_join off
  Process n3("n3", gossip::RingState{}, {"n1"}, clock);
  n3.membership->set_auto_join(auto_join_on());
  exchange({&n1, &n3}, n3.membership->on_tick(), n3);
  (void)n3.membership->on_tick();
  auto requests = n3.membership->take_peer_messages();
  ASSERT_EQ(requests.size(), 1u);
  const auto& message = requests[0].second;
  const auto& forward = std::get<Forward>(message.body);
  auto refused = n1.membership->peer_ring_admin(
      "n3", forward.request.request_id, std::get<proto::RingAdminRequest>(forward.request.op));
  EXPECT_EQ(refused.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status.message().find("auto_join is off at the claimant n1"), std::string::npos)
      << refused.status.to_string();
  EXPECT_TRUE(n3.membership->on_peer_ring_admin_reply(message.request_id, refused));
  EXPECT_TRUE(logged(n3, "auto_join_refused"));
  EXPECT_TRUE(n1.membership->gossip().ring().next_owners.empty());
}

TEST(MembershipTest, PeersMayOnlyStageTheirOwnJoin) {
  ManualClock clock;
  Process n1("n1", first_ring({"n1", "n2"}), {}, clock);
  n1.membership->set_auto_join(auto_join_on());
  proto::RingAdminRequest leave;
  leave.action = proto::RingAction::kStage;
  leave.kind = proto::RingChangeKind::kLeave;
  leave.node = "n2";
  auto refused = n1.membership->peer_ring_admin("n3", 7, leave);
  EXPECT_EQ(refused.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.request_id, 7u);
  proto::RingAdminRequest join = leave;
  join.kind = proto::RingChangeKind::kJoin;
  join.node = "n4";
  EXPECT_EQ(n1.membership->peer_ring_admin("n3", 8, join).status.code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(n1.membership->on_peer_ring_admin_reply(1, {})) << "a forward of the node core";
}

TEST(MembershipTest, RemoveIsRefusedForAMemberThatIsUpAndTakenForOneThatIsDown) {
  ManualClock clock;
  Process n1("n1", first_ring({"n1", "n2", "n3"}), {"n2"}, clock);
  Process n2("n2", first_ring({"n1", "n2", "n3"}), {"n1"}, clock);
  exchange({&n1, &n2}, n1.membership->on_tick(), n1);
  proto::RingAdminRequest remove;
  remove.action = proto::RingAction::kStage;
  remove.kind = proto::RingChangeKind::kRemove;
  remove.node = "n2";
  auto refused = n1.membership->ring_admin(1, remove);
  EXPECT_EQ(refused.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status.message().find("n2 is up"), std::string::npos);

  n1.membership->convict("n2");  // killed: its connection broke
  ASSERT_TRUE(n1.membership->ring_admin(2, remove).status.is_ok());
  proto::RingAdminRequest commit;
  commit.action = proto::RingAction::kCommit;
  proto::RingAdminRequest plan;
  plan.action = proto::RingAction::kPlan;
  commit.plan_id =
      std::get<proto::RingAdminResponse>(n1.membership->ring_admin(3, plan).body).plan_id;
  ASSERT_TRUE(n1.membership->ring_admin(4, commit).status.is_ok());
  const gossip::RingState& ring = n1.membership->gossip().ring();
  EXPECT_EQ(ring.removed, std::vector<NodeId>{"n2"});
  EXPECT_EQ(std::count(ring.next_owners.begin(), ring.next_owners.end(), "n2"), 0);
}

}  // namespace
}  // namespace qkv::node
