// Membership, failure detection, sloppy quorum, hinted handoff and read repair with real
// qkvd processes on loopback. Every wait polls a condition against a deadline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "ring/ring.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using std::chrono::seconds;

// The answer of node i to "members": id -> (listed, up).
std::map<std::string, bool> members_seen_by(const ProcessCluster& cluster, int i) {
  std::map<std::string, bool> seen;
  auto members = cluster.client_of(i, 1000).members();
  if (!members.is_ok()) return seen;
  for (const auto& m : members->members) seen[m.id] = m.up;
  return seen;
}

uint64_t hints_pending_for(const ProcessCluster& cluster, int i, const std::string& target) {
  auto members = cluster.client_of(i, 1000).members();
  EXPECT_TRUE(members.is_ok()) << members.status().to_string();
  if (!members.is_ok()) return 0;
  for (const auto& m : members->members) {
    if (m.id == target) return m.hints_pending;
  }
  return 0;
}

// The membership and handoff lines of every node's log, for failure messages.
std::string membership_log_lines(const ProcessCluster& cluster) {
  std::string out;
  for (int i = 0; i < 4; ++i) {
    std::istringstream log(cluster.log_of(i));
    for (std::string line; std::getline(log, line);) {
      if (line.find("node_") != std::string::npos || line.find("hint") != std::string::npos ||
          line.find("member") != std::string::npos) {
        out += line + "\n";
      }
    }
  }
  return out;
}

TEST(MembershipTest, AFourthNodeJoinsFromOneSeedAndAKilledNodeIsMarkedDownWithin10s) {
  ProcessCluster cluster(4, {}, /*initial=*/3);
  cluster.start_all();  // n4 starts with only n1 as its seed
  bool everyone_knows_n4 = wait_for(
      [&] {
        for (int i = 0; i < 4; ++i) {
          auto seen = members_seen_by(cluster, i);
          if (seen.size() != 4 || !seen.count("n4") || !seen["n4"]) return false;
        }
        return true;
      },
      seconds(10));
  EXPECT_TRUE(everyone_knows_n4) << cluster.log_of(3);
  // The joiner learned the ring by gossip and serves requests.
  EXPECT_TRUE(
      wait_for([&] { return cluster.client_of(3).put("via-n4", "v").is_ok(); }, seconds(10)));

  cluster.kill9(1);  // n2
  bool marked_down = wait_for(
      [&] {
        for (int i : {0, 2, 3}) {
          auto seen = members_seen_by(cluster, i);
          if (!seen.count("n2") || seen["n2"]) return false;
        }
        return true;
      },
      seconds(10));
  EXPECT_TRUE(marked_down) << cluster.log_of(0);
}

TEST(HandoffTest, WritesWithAReplicaDownAreHintedAndHandedOffWhenItReturns) {
  ProcessCluster cluster(4);
  cluster.start_all();
  auto all_see = [&](const std::string& id, bool up) {
    for (int i = 0; i < 3; ++i) {
      auto seen = members_seen_by(cluster, i);
      if (seen.size() != 4 || !seen.count(id) || seen[id] != up) return false;
    }
    return true;
  };
  ASSERT_TRUE(wait_for([&] { return all_see("n4", true); }, seconds(10))) << "gossip converged";
  cluster.kill9(3);  // n4
  ASSERT_TRUE(wait_for([&] { return all_see("n4", false); }, seconds(10)))
      << membership_log_lines(cluster);

  auto client = cluster.client_of(0);
  for (int i = 0; i < 1000; ++i) {
    Status s =
        client.put("key-" + std::to_string(i), "value-" + std::to_string(i), "", {2, 0}).status();
    ASSERT_TRUE(s.is_ok()) << "put " << i << ": " << s.to_string();
  }
  uint64_t hints = 0;
  for (int i = 0; i < 3; ++i) hints += hints_pending_for(cluster, i, "n4");
  EXPECT_GT(hints, 0u) << "the fallbacks hold hints for n4";

  auto ring_owners = client.ring();
  ASSERT_TRUE(ring_owners.is_ok());
  ring::Ring ring(ring_owners->owners);
  std::vector<std::string> replicated_by_n4;
  for (int i = 0; i < 1000; ++i) {
    std::string key = "key-" + std::to_string(i);
    if (ring.preference_list(ring::token_of(key), 3).is_primary("n4"))
      replicated_by_n4.push_back(key);
  }
  ASSERT_FALSE(replicated_by_n4.empty());

  cluster.start(3);
  auto n4 = cluster.client_of(3);
  std::size_t missing = replicated_by_n4.size();
  bool handed_off = wait_for(
      [&] {
        missing = 0;
        for (const auto& key : replicated_by_n4) {
          auto got = n4.get(key, {0, 0, /*local=*/true});
          if (!got.is_ok() || !got->found()) ++missing;
        }
        return missing == 0;
      },
      seconds(30));
  if (!handed_off) {
    for (const auto& key : replicated_by_n4) {
      auto got = n4.get(key, {0, 0, true});
      if (got.is_ok() && got->found()) continue;
      std::cerr << "first missing key " << key << "; primaries:";
      for (const auto& p : ring.preference_list(ring::token_of(key), 3).primaries)
        std::cerr << " " << p;
      std::cerr << "\n";
      for (int i = 0; i < 4; ++i) {
        auto c = cluster.client_of(i).get(key, {0, 0, true});
        std::cerr << "  n" << i + 1 << " local: "
                  << (c.is_ok() ? (c->found() ? c->values[0] : "not found")
                                : c.status().to_string())
                  << "\n";
      }
      break;
    }
    auto st = n4.node_status(0);
    for (const auto& [k, v] : st->counters) std::cerr << "  n4 " << k << "=" << v << "\n";
  }
  EXPECT_TRUE(handed_off) << missing << " of " << replicated_by_n4.size()
                          << " keys still missing on n4\n"
                          << membership_log_lines(cluster);
  EXPECT_TRUE(wait_for(
      [&] {
        uint64_t left = 0;
        for (int i = 0; i < 3; ++i) left += hints_pending_for(cluster, i, "n4");
        return left == 0;
      },
      seconds(10)))
      << "delivered hints are deleted";
}

TEST(ReadRepairTest, ASingleGetRepairsAStaleReplica) {
  // Without hinted handoff, so that only read repair can bring n3 the write it missed.
  ProcessCluster cluster(3, {"--no-hinted-handoff"});
  cluster.start_all();
  cluster.kill9(2);  // n3 misses the write
  ASSERT_TRUE(cluster.client_of(0).put("stale", "fresh", "", {2, 0}).is_ok());
  cluster.start(2);
  auto n3 = cluster.client_of(2);
  EXPECT_FALSE(n3.get("stale", {0, 0, /*local=*/true})->found()) << "n3 is stale";
  // Once n1 sees n3 up again, one get (answered at R=2) repairs n3 in the background.
  ASSERT_TRUE(wait_for([&] { return members_seen_by(cluster, 0)["n3"]; }, seconds(10)));
  auto got = cluster.client_of(0).get("stale", {2, 0});
  ASSERT_TRUE(got.is_ok());
  EXPECT_THAT(got->values, ::testing::ElementsAre("fresh"));
  EXPECT_TRUE(wait_for(
      [&] {
        return n3.get("stale", {0, 0, true})->found();
      },
      seconds(5)))
      << "read repair did not reach n3";
}

}  // namespace
}  // namespace qkv::testing
