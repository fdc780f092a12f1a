// The node core against an in-memory cluster: quorums, siblings, forwarding, failures.
#include "node/node.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/wire/replica_codec.h"
#include "ring/claim.h"
#include "tests/node/test_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const proto::GetResponse& body(const proto::ClientResponse& r) {
  return std::get<proto::GetResponse>(r.body);
}

TEST(NodeTest, PutThroughOneNodeIsReadThroughAnother) {
  TestCluster cluster;
  ASSERT_TRUE(cluster.put("n1", "apple", "red", "", 2).status.is_ok());
  auto got = cluster.get("n3", "apple", 2);
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  EXPECT_THAT(body(got).values, UnorderedElementsAre("red"));
  EXPECT_FALSE(body(got).context.empty());
}

TEST(NodeTest, EveryPrimaryStoresTheWriteOnceDelivered) {
  TestCluster cluster;
  ASSERT_TRUE(cluster.put("n2", "k", "v").status.is_ok());
  for (const auto& id : cluster.primaries("k")) {
    auto stored = cluster.storage(id).get(ring::token_of("k"), "k");
    ASSERT_TRUE(stored.is_ok());
    ASSERT_TRUE(stored.value().has_value()) << id << " lacks the write";
    EXPECT_THAT(node::decode_sibling_set(*stored.value())->values(), UnorderedElementsAre("v"));
  }
}

TEST(NodeTest, TwoPutsWithOneStaleContextBecomeSiblingsAndAMergedContextCollapsesThem) {
  TestCluster cluster;
  ASSERT_TRUE(cluster.put("n1", "cart", "milk").status.is_ok());
  std::string stale = body(cluster.get("n1", "cart")).context;
  ASSERT_TRUE(cluster.put("n1", "cart", "milk,eggs", stale).status.is_ok());
  ASSERT_TRUE(cluster.put("n2", "cart", "milk,bread", stale).status.is_ok());

  auto both = cluster.get("n3", "cart", 3);
  ASSERT_TRUE(both.status.is_ok());
  EXPECT_THAT(body(both).values, UnorderedElementsAre("milk,eggs", "milk,bread"));

  ASSERT_TRUE(cluster.put("n3", "cart", "milk,eggs,bread", body(both).context).status.is_ok());
  auto one = cluster.get("n1", "cart", 3);
  EXPECT_THAT(body(one).values, UnorderedElementsAre("milk,eggs,bread"));
}

TEST(NodeTest, SiblingLimitsWarnThenRefuseBlindWritesAndAResolvedWriteGoesThrough) {
  // Riak's warn_siblings / max_siblings: writers that ignore the context pile up siblings.
  TestCluster::Options options;
  options.limits.siblings_warn = 2;
  options.limits.siblings_max = 3;
  TestCluster cluster(options);
  for (const char* value : {"a", "b", "c"}) {
    ASSERT_TRUE(cluster.put("n1", "k", value).status.is_ok()) << value;  // blind: a sibling each
  }
  EXPECT_EQ(cluster.node("n1").counters().siblings_warned, 1u) << "the third is past warn=2";
  auto events = cluster.node("n1").take_log_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].level(), LogLevel::kWarn);
  EXPECT_THAT(events[0].to_string(),
              HasSubstr("event=siblings_warn key=k siblings=3 siblings_warn=2"));

  auto refused = cluster.put("n1", "k", "d");
  EXPECT_EQ(refused.status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status.message(), HasSubstr("would hold 4 siblings; siblings_max is 3"));
  EXPECT_EQ(cluster.node("n1").counters().siblings_refused, 1u);
  auto three = cluster.get("n2", "k", 3);
  EXPECT_THAT(body(three).values, UnorderedElementsAre("a", "b", "c")) << "nothing was stored";

  // The remedy the error names: a write with the read's context replaces what it covers.
  ASSERT_TRUE(cluster.put("n1", "k", "abc", body(three).context).status.is_ok());
  EXPECT_THAT(body(cluster.get("n3", "k", 3)).values, UnorderedElementsAre("abc"));
}

TEST(NodeTest, PutWithTheLatestContextReplacesTheValue) {
  TestCluster cluster;
  ASSERT_TRUE(cluster.put("n1", "k", "v1").status.is_ok());
  for (int i = 2; i <= 5; ++i) {
    std::string ctx = body(cluster.get("n2", "k")).context;
    ASSERT_TRUE(cluster.put("n3", "k", fmt::format("v{}", i), ctx).status.is_ok());
  }
  EXPECT_THAT(body(cluster.get("n1", "k", 3)).values, UnorderedElementsAre("v5"));
}

TEST(NodeTest, APutAnswersWithTheContextOfWhatItWrote) {
  TestCluster cluster;
  std::string ctx;
  for (int i = 1; i <= 5; ++i) {
    auto put = cluster.put(fmt::format("n{}", 1 + i % 3), "k", fmt::format("v{}", i), ctx);
    ASSERT_TRUE(put.status.is_ok());
    auto* answer = std::get_if<proto::PutResponse>(&put.body);
    ASSERT_NE(answer, nullptr) << "a put answers with its context, forwarded or not";
    ASSERT_FALSE(answer->context.empty());
    ctx = answer->context;  // the next write needs no read
  }
  EXPECT_THAT(body(cluster.get("n1", "k", 3)).values, UnorderedElementsAre("v5"));
  auto del = cluster.del("n2", "k", ctx);
  ASSERT_TRUE(del.status.is_ok());
  ASSERT_TRUE(std::holds_alternative<proto::PutResponse>(del.body));
  EXPECT_EQ(cluster.get("n3", "k").status.code(), StatusCode::kNotFound);
}

TEST(NodeTest, DeleteThenGetIsNotFoundButKeepsAContext) {
  TestCluster cluster;
  ASSERT_TRUE(cluster.put("n1", "k", "v").status.is_ok());
  std::string ctx = body(cluster.get("n1", "k")).context;
  ASSERT_TRUE(cluster.del("n2", "k", ctx).status.is_ok());
  auto got = cluster.get("n3", "k");
  EXPECT_EQ(got.status.code(), StatusCode::kNotFound);
  EXPECT_TRUE(body(got).values.empty());
  EXPECT_FALSE(body(got).context.empty())
      << "the tombstone's context lets a later put supersede it";
  ASSERT_TRUE(cluster.put("n1", "k", "again", body(got).context).status.is_ok());
  EXPECT_THAT(body(cluster.get("n2", "k", 3)).values, UnorderedElementsAre("again"));
}

TEST(NodeTest, GetOfAKeyNeverWrittenIsNotFound) {
  TestCluster cluster;
  auto got = cluster.get("n1", "nothing");
  EXPECT_EQ(got.status.code(), StatusCode::kNotFound);
}

TEST(NodeTest, QuorumIsMetWithOneReplicaDownAndMissedWithW3) {
  TestCluster cluster;
  std::string key = "k";
  NodeId coordinator = cluster.primaries(key)[0];
  NodeId dead = cluster.primaries(key)[2];
  cluster.set_down(dead, true);
  EXPECT_TRUE(cluster.put(coordinator, key, "v", "", 2).status.is_ok());
  auto got = cluster.get(coordinator, key, 2);
  EXPECT_TRUE(got.status.is_ok());

  auto w3 = cluster.put(coordinator, key, "v2", "", 3);
  EXPECT_EQ(w3.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(w3.status.message(), HasSubstr("2 of 3 replicas acknowledged"));
  EXPECT_THAT(w3.status.message(), HasSubstr("W=3"));

  auto r3 = cluster.get(coordinator, key, 3);
  EXPECT_EQ(r3.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(r3.status.message(), HasSubstr("2 of 3 replicas answered"));
}

TEST(NodeTest, AnUnansweredWriteFailsAtItsDeadlineWithCounts) {
  TestCluster cluster;
  std::string key = "k";
  NodeId coordinator = cluster.primaries(key)[0];
  cluster.set_blackholed(cluster.primaries(key)[1], true);
  cluster.set_blackholed(cluster.primaries(key)[2], true);
  TimePoint start = cluster.now();
  auto put = cluster.request(coordinator, proto::PutRequest{key, "v", "", 2}, 300);
  EXPECT_EQ(put.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(put.status.message(), HasSubstr("1 of 3 replicas acknowledged"));
  EXPECT_THAT(put.status.message(), HasSubstr("timed out"));
  EXPECT_GE(cluster.now() - start, Duration(300));
  EXPECT_LT(cluster.now() - start, Duration(400));
  EXPECT_EQ(cluster.node(coordinator).in_flight(), 0u);
}

TEST(NodeTest, ASilentReplicaGetsAStandInAfterTwiceItsRecentLatencyNotHalfTheDeadline) {
  // Dynamo's "always writeable" within a latency SLA: during a partition a silent primary
  // gets its stand-in after twice the replicas' recent p99 (here 0 ms, so the 50 ms
  // floor), where half the deadline (500 ms) was the rule before.
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  const std::string key = "k";
  const NodeId coordinator = cluster.primaries(key)[0];
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(cluster.request(coordinator, proto::PutRequest{key, "warm", "", 3}).status.is_ok());
  }
  cluster.set_blackholed(cluster.primaries(key)[2], true);
  const TimePoint start = cluster.now();
  auto put = cluster.request(coordinator, proto::PutRequest{key, "v", "", 3});
  ASSERT_TRUE(put.status.is_ok()) << put.status.to_string();
  EXPECT_GE(cluster.now() - start, Duration(50)) << "stand_in_alarm_min";
  EXPECT_LT(cluster.now() - start, Duration(100));
  EXPECT_EQ(cluster.node(coordinator).counters().hinted_writes, 1u);
}

TEST(NodeTest, ANonReplicaForwardsToAPrimary) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  std::string key = cluster.key_not_replicated_by("n4");
  ASSERT_TRUE(cluster.put("n4", key, "v").status.is_ok());
  EXPECT_EQ(cluster.node("n4").counters().forwarded, 1u);
  EXPECT_EQ(cluster.node("n4").counters().coordinated_puts, 0u);
  EXPECT_EQ(cluster.node(cluster.primaries(key)[0]).counters().coordinated_puts, 1u);
  EXPECT_TRUE(cluster.storage("n4").get(ring::token_of(key), key).value() == std::nullopt)
      << "a non-replica must not store the key";
  auto got = cluster.get("n4", key);
  ASSERT_TRUE(got.status.is_ok());
  EXPECT_THAT(body(got).values, UnorderedElementsAre("v"));
}

TEST(NodeTest, AForwardFailsOverToTheNextPrimaryWhenTheFirstIsUnreachable) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  std::string key = cluster.key_not_replicated_by("n4");
  cluster.set_down(cluster.primaries(key)[0], true);
  auto put = cluster.put("n4", key, "v");
  ASSERT_TRUE(put.status.is_ok()) << put.status.to_string();
  EXPECT_EQ(cluster.node("n4").counters().forward_failovers, 1u);
  EXPECT_EQ(cluster.node(cluster.primaries(key)[1]).counters().coordinated_puts, 1u);
}

TEST(NodeTest, AForwardFailsOverWhenTheFirstPrimaryIsSilent) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  std::string key = cluster.key_not_replicated_by("n4");
  cluster.set_blackholed(cluster.primaries(key)[0], true);
  auto got = cluster.request("n4", proto::GetRequest{key, 2}, 1000);
  EXPECT_EQ(got.status.code(), StatusCode::kNotFound) << got.status.to_string();
  EXPECT_EQ(cluster.node("n4").counters().forward_failovers, 1u);
}

TEST(NodeTest, AForwardedWriteIsNotCoordinatedTwiceWhenItsPrimaryIsSilent) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  std::string key = cluster.key_not_replicated_by("n4");
  cluster.set_blackholed(cluster.primaries(key)[0], true);
  auto put = cluster.request("n4", proto::PutRequest{key, "v", "", 2}, 1000);
  EXPECT_EQ(put.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(put.status.message(), HasSubstr("may have been applied"));
  EXPECT_EQ(cluster.node("n4").counters().forward_failovers, 0u);
  EXPECT_EQ(cluster.node(cluster.primaries(key)[1]).counters().coordinated_puts, 0u)
      << "a second coordinator would write the value again under another dot";
}

// Hints held by `members`, per target.
std::map<NodeId, std::size_t> hints_for(TestCluster& cluster, const std::vector<NodeId>& members) {
  std::map<NodeId, std::size_t> out;
  for (const auto& m : members) {
    EXPECT_TRUE(
        cluster.storage(m)
            .scan_hints([&](const NodeId& target, ring::Token, std::string_view, std::string_view) {
              ++out[target];
              return true;
            })
            .is_ok());
  }
  return out;
}

// The one member of a 4-node cluster that is not a primary of a key (N=3).
NodeId fallback_of(const std::vector<NodeId>& primaries, const std::vector<NodeId>& members) {
  for (const auto& m : members) {
    if (std::find(primaries.begin(), primaries.end(), m) == primaries.end()) return m;
  }
  return {};
}

TEST(NodeTest, APrimaryDownGetsItsWriteAsAHintOnAFallback) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  const std::string key = "k";
  auto primaries = cluster.primaries(key);
  NodeId down = primaries[2];
  NodeId fallback = fallback_of(primaries, options.members);
  cluster.set_down(down, true);
  ASSERT_TRUE(cluster.put(primaries[0], key, "v", "", 3).status.is_ok())
      << "W=3 is met by two primaries and the fallback standing in";
  EXPECT_EQ(cluster.node(primaries[0]).counters().hinted_writes, 1u);
  EXPECT_EQ(hints_for(cluster, {fallback}), (std::map<NodeId, std::size_t>{{down, 1}}))
      << "the fallback keeps the write as a hint for " << down;
  EXPECT_EQ(cluster.storage(fallback).get(ring::token_of(key), key).value(), std::nullopt)
      << "a hint is not data: the fallback does not serve it";

  auto strict = cluster.request(primaries[0], proto::PutRequest{key, "v2", "", 3, true});
  EXPECT_EQ(strict.status.code(), StatusCode::kUnavailable) << "sloppy=false: primaries only";

  // The primary returns: the fallback hands the hint off and deletes it once acked.
  cluster.set_down(down, false);
  cluster.advance(Duration(100));
  auto stored = cluster.storage(down).get(ring::token_of(key), key);
  ASSERT_TRUE(stored.value().has_value()) << "hinted handoff delivers to the returned primary";
  EXPECT_THAT(node::decode_sibling_set(*stored.value())->values(), ::testing::Contains("v"));
  EXPECT_TRUE(hints_for(cluster, {fallback}).empty()) << "deleted once acked";
}

TEST(NodeTest, EveryPrimaryThatMissedAWriteGetsItEvenWithNoFallbackLeft) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  const std::string key = "k";
  auto primaries = cluster.primaries(key);
  cluster.set_down(primaries[1], true);
  cluster.set_down(primaries[2], true);
  ASSERT_TRUE(cluster.put(primaries[0], key, "v", "", 2).status.is_ok())
      << "W=2: the coordinator and the one fallback";
  EXPECT_EQ(cluster.node(primaries[0]).counters().hinted_writes, 1u);
  EXPECT_EQ(cluster.node(primaries[0]).counters().coordinator_hints, 1u)
      << "one fallback for two missing primaries: the coordinator keeps the other hint";
  EXPECT_EQ(hints_for(cluster, options.members),
            (std::map<NodeId, std::size_t>{{primaries[1], 1}, {primaries[2], 1}}));

  // sloppy=false (PW): no stand-in counts, but the missing primary still gets a hint.
  cluster.set_down(primaries[1], false);
  ASSERT_TRUE(
      cluster.request(primaries[0], proto::PutRequest{key, "v2", "", 2, true}).status.is_ok());
  EXPECT_EQ(cluster.node(primaries[0]).counters().coordinator_hints, 2u);

  cluster.set_down(primaries[2], false);
  cluster.advance(Duration(1000));
  for (const NodeId& p : primaries) {
    auto stored = cluster.storage(p).get(ring::token_of(key), key);
    ASSERT_TRUE(stored.value().has_value()) << p << " got its copy by hinted handoff";
    EXPECT_THAT(node::decode_sibling_set(*stored.value())->values(),
                ::testing::UnorderedElementsAre("v", "v2"));
  }
  EXPECT_TRUE(hints_for(cluster, options.members).empty()) << "delivered hints are deleted";
}

// Four nodes; the fallback of `key` holds a hint for the primary `down`, which is back but
// silent (its acks never arrive), and the hint's delivery is in flight.
struct HintToASilentTarget {
  HintToASilentTarget() : cluster(options()) {
    auto primaries = cluster.primaries(key);
    down = primaries[2];
    fallback = fallback_of(primaries, options().members);
    cluster.set_down(down, true);
    EXPECT_TRUE(cluster.put(primaries[0], key, "v", "", 2).status.is_ok());
    cluster.set_down(down, false);
    cluster.set_blackholed(down, true);
    cluster.advance(Duration(100));
    EXPECT_EQ(cluster.node(fallback).hint_deliveries_in_flight(), 1u);
  }
  static TestCluster::Options options() {
    TestCluster::Options o;
    o.members = {"n1", "n2", "n3", "n4"};
    return o;
  }
  bool delivered() {
    return cluster.storage(down).get(ring::token_of(key), key).value().has_value();
  }

  TestCluster cluster;
  const std::string key = "k";
  NodeId down, fallback;
};

TEST(NodeTest, HintDeliveriesToASilentTargetAreForgottenAndRetried) {
  HintToASilentTarget t;
  TestCluster& cluster = t.cluster;
  const NodeId& down = t.down;
  const NodeId& fallback = t.fallback;
  cluster.advance(Duration(20'000));
  EXPECT_LE(cluster.node(fallback).hint_deliveries_in_flight(), 1u)
      << "unacked deliveries are forgotten, not piled up";
  cluster.set_blackholed(down, false);
  cluster.advance(Duration(10'000));
  EXPECT_TRUE(t.delivered()) << "the delivery was retried once the target answered";
  EXPECT_EQ(cluster.node(fallback).hint_deliveries_in_flight(), 0u);
}

TEST(NodeTest, HintDeliveriesFailAtOnceWhenTheLinkToTheirTargetBreaks) {
  // After a partition heals, deliveries stuck on the torn-down link must not hold the
  // handoff's budget until delivery_timeout (5 s): they fail with the link and are replayed
  // after retry_backoff (1 s).
  HintToASilentTarget t;
  TestCluster& cluster = t.cluster;
  const NodeId& down = t.down;
  const NodeId& fallback = t.fallback;
  cluster.node(fallback).on_peer_link_broke(down, cluster.now());
  EXPECT_EQ(cluster.node(fallback).hint_deliveries_in_flight(), 0u);
  cluster.set_blackholed(down, false);
  for (int i = 0; i < 15; ++i) cluster.advance(Duration(100));  // qkvd ticks every 5 ms
  EXPECT_TRUE(t.delivered()) << "replayed after retry_backoff, not after delivery_timeout";
}

TEST(NodeTest, HintsForANodeNoLongerInTheRingGoToTheKeysPrimariesNow) {
  // `node remove` takes a lost node out of the ring; hints kept for it would otherwise wait
  // for a node that never comes back until they expire (and hold up any node that leaves).
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4", "n5"};
  TestCluster cluster(options);
  const std::string key = "k";
  auto primaries = cluster.primaries(key);
  const NodeId lost = primaries[2];
  const NodeId fallback = fallback_of(primaries, options.members);
  cluster.set_down(lost, true);
  ASSERT_TRUE(cluster.put(primaries[0], key, "v", "", 3).status.is_ok());
  ASSERT_EQ(hints_for(cluster, {fallback}), (std::map<NodeId, std::size_t>{{lost, 1}}));
  for (int i = 0; i < 30; ++i) cluster.advance(Duration(100));  // qkvd ticks every 5 ms
  ASSERT_EQ(hints_for(cluster, {fallback}).size(), 1u) << "kept while its target is a member";

  std::vector<ring::ClaimMember> rest;
  for (const auto& id : options.members) {
    if (id != lost) rest.push_back({id, ""});
  }
  auto without = std::make_shared<const ring::Ring>(
      ring::claim(cluster.ring().owners(), rest, options.n).value());
  cluster.set_ring(without, nullptr, 3);
  for (int i = 0; i < 30; ++i) cluster.advance(Duration(100));
  EXPECT_TRUE(hints_for(cluster, {fallback}).empty()) << "re-homed and acked";
  NodeId to;
  for (const auto& p : cluster.primaries(key)) {
    if (p != fallback) {
      to = p;
      break;
    }
  }
  auto stored = cluster.storage(to).get(ring::token_of(key), key);
  ASSERT_TRUE(stored.is_ok() && stored.value().has_value()) << to;
  EXPECT_THAT(node::decode_sibling_set(*stored.value())->values(), ::testing::Contains("v"));
}

TEST(NodeTest, ADuplicatedForwardIsCoordinatedOnce) {
  TestCluster cluster;
  const std::string key = "k";
  NodeId primary = cluster.primaries(key)[0];
  node::PeerMessage forward{
      "n9", 77, node::Forward{proto::ClientRequest{5, 500, proto::PutRequest{key, "v", "", 2}}}};
  cluster.node(primary).on_peer_message(forward, cluster.now());
  cluster.node(primary).on_peer_message(forward, cluster.now());
  cluster.deliver();
  EXPECT_EQ(cluster.node(primary).counters().coordinated_puts, 1u);
  EXPECT_EQ(cluster.node(primary).counters().forward_duplicates, 1u);
  auto got = cluster.get(primary, key, 3);
  EXPECT_THAT(body(got).values, UnorderedElementsAre("v")) << "one write, one sibling";
}

TEST(NodeTest, AForwardWithEveryPrimaryGoneIsUnavailableNamingThem) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  std::string key = cluster.key_not_replicated_by("n4");
  for (const auto& p : cluster.primaries(key)) cluster.set_down(p, true);
  auto put = cluster.put("n4", key, "v");
  EXPECT_EQ(put.status.code(), StatusCode::kUnavailable);
  for (const auto& p : cluster.primaries(key)) EXPECT_THAT(put.status.message(), HasSubstr(p));
}

TEST(NodeTest, OversizedInputIsRejectedNamingTheLimitAndNothingIsStored) {
  TestCluster cluster;
  auto big_key = cluster.put("n1", std::string(64 * 1024 + 1, 'k'), "v");
  EXPECT_EQ(big_key.status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(big_key.status.message(), HasSubstr("key_bytes_max is 65536"));
  auto big_value = cluster.put("n1", "k", std::string(16 * 1024 * 1024 + 1, 'v'));
  EXPECT_EQ(big_value.status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(big_value.status.message(), HasSubstr("value_bytes_max is 16777216"));
  EXPECT_EQ(cluster.get("n1", "k").status.code(), StatusCode::kNotFound);
  EXPECT_TRUE(cluster.put("n1", "k", "fine").status.is_ok()) << "the node keeps serving";
}

TEST(NodeTest, BadQuorumsAndContextsAreInvalidArguments) {
  TestCluster cluster;
  auto w4 = cluster.put("n1", "k", "v", "", 4);
  EXPECT_EQ(w4.status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(w4.status.message(), HasSubstr("w=4 exceeds n=3"));
  auto r9 = cluster.get("n1", "k", 9);
  EXPECT_THAT(r9.status.message(), HasSubstr("r=9 exceeds n=3"));
  auto bad = cluster.put("n1", "k", "v", "not a context");
  EXPECT_EQ(bad.status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status.message(), HasSubstr("causal context"));
}

TEST(NodeTest, AReplicaRefusesAWriteForAKeyItDoesNotReplicate) {
  TestCluster::Options options;
  options.members = {"n1", "n2", "n3", "n4"};
  TestCluster cluster(options);
  std::string key = cluster.key_not_replicated_by("n4");
  causal::SiblingSet state =
      causal::SiblingSet().update({}, causal::Actor{"n1", 1}, std::string("v"));
  cluster.node("n4").on_peer_message(
      node::PeerMessage{"n1", 99, node::ReplicaWrite{key, state, {}}}, cluster.now());
  cluster.deliver();
  EXPECT_EQ(cluster.storage("n4").get(ring::token_of(key), key).value(), std::nullopt);
}

TEST(NodeTest, AClusterSmallerThanNServesWhatItCanAndSaysWhyNotTheRest) {
  TestCluster::Options options;
  options.members = {"n1", "n2"};
  TestCluster cluster(options);
  EXPECT_TRUE(cluster.put("n1", "k", "v", "", 2).status.is_ok());
  auto w3 = cluster.put("n2", "k", "v", "", 3);
  EXPECT_EQ(w3.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(w3.status.message(), HasSubstr("the cluster has 2 replicas for the key, W=3"));
  auto r3 = cluster.get("n2", "k", 3);
  EXPECT_THAT(r3.status.message(), HasSubstr("the cluster has 2 replicas for the key, R=3"));
}

TEST(NodeTest, AGetRepairsAReplicaThatMissedAWrite) {
  TestCluster cluster;
  const std::string key = "k";
  NodeId coordinator = cluster.primaries(key)[0];
  NodeId behind = cluster.primaries(key)[2];
  cluster.set_blackholed(behind, true);
  ASSERT_TRUE(cluster.put(coordinator, key, "v", "", 2).status.is_ok());
  cluster.set_blackholed(behind, false);
  EXPECT_EQ(cluster.storage(behind).get(ring::token_of(key), key).value(), std::nullopt);

  auto got = cluster.get(coordinator, key, 2);  // answered at 2; the third reply comes after
  ASSERT_TRUE(got.status.is_ok());
  cluster.deliver();
  auto repaired = cluster.storage(behind).get(ring::token_of(key), key);
  ASSERT_TRUE(repaired.value().has_value()) << "read repair must bring the replica up to date";
  EXPECT_THAT(node::decode_sibling_set(*repaired.value())->values(), UnorderedElementsAre("v"));
  EXPECT_EQ(cluster.node(coordinator).counters().read_repairs, 1u);
  cluster.advance(Duration(1100));  // the put waited for its silent replica until its deadline
  EXPECT_EQ(cluster.node(coordinator).in_flight(), 0u);

  // Up to date now: another get repairs nothing.
  ASSERT_TRUE(cluster.get(coordinator, key, 3).status.is_ok());
  EXPECT_EQ(cluster.node(coordinator).counters().read_repairs, 1u);
}

TEST(NodeTest, ReadRepairWaitsForTheDeadlineWhenAReplicaIsSilent) {
  TestCluster cluster;
  const std::string key = "k";
  NodeId coordinator = cluster.primaries(key)[0];
  ASSERT_TRUE(cluster.put(coordinator, key, "v", "", 3).status.is_ok());
  cluster.set_blackholed(cluster.primaries(key)[2], true);
  ASSERT_TRUE(cluster.get(coordinator, key, 2).status.is_ok());
  EXPECT_EQ(cluster.node(coordinator).in_flight(), 1u) << "still waiting on the silent replica";
  cluster.advance(Duration(1100));
  EXPECT_EQ(cluster.node(coordinator).in_flight(), 0u);
  EXPECT_EQ(cluster.node(coordinator).counters().read_repairs, 0u) << "the answers agreed";
}

TEST(NodeTest, RingAndStatusAreAnsweredByAnyNode) {
  TestCluster cluster;
  auto ring = cluster.request("n2", proto::RingRequest{});
  ASSERT_TRUE(ring.status.is_ok());
  const auto& rb = std::get<proto::RingResponse>(ring.body);
  EXPECT_EQ(rb.partition_count, 64u);
  EXPECT_EQ(rb.owners, cluster.ring().owners());
  auto status = cluster.request("n3", proto::StatusRequest{});
  const auto& sb = std::get<proto::StatusResponse>(status.body);
  EXPECT_EQ(sb.node_id, "n3");
  EXPECT_THAT(sb.members, UnorderedElementsAre("n1", "n2", "n3"));
}

}  // namespace
}  // namespace qkv::testing
