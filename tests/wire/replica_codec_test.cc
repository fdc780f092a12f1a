// Peer messages, stored sibling sets and contexts survive encoding; bad bytes are errors.
#include "node/wire/replica_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <random>

#include "proto/common.capnp.h"
#include "proto/replica.capnp.h"
#include "tests/fuzz/regression_input.h"

namespace qkv::node {
namespace {

using ::testing::HasSubstr;

causal::SiblingSet two_siblings() {
  causal::SiblingSet a = causal::SiblingSet().update({}, {"n1", 7}, std::string("x\0y", 3));
  causal::SiblingSet b = causal::SiblingSet().update({}, {"n2", 9}, std::nullopt);
  return causal::SiblingSet::join(a, b);
}

PeerMessage round_trip(const PeerMessage& m) {
  auto frame = encode(m);
  auto decoded = decode_peer_message(frame);
  EXPECT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  return std::move(decoded).value();
}

TEST(ReplicaCodecTest, EveryPeerMessageRoundTrips) {
  auto write = round_trip({"n1", 5, ReplicaWrite{"key", two_siblings(), {}}});
  EXPECT_EQ(write.from, "n1");
  EXPECT_EQ(write.request_id, 5u);
  EXPECT_EQ(std::get<ReplicaWrite>(write.body).state, two_siblings());

  auto reply = round_trip({"n2", 6, ReplicaReadReply{Status::ok(), two_siblings(), std::nullopt}});
  EXPECT_EQ(std::get<ReplicaReadReply>(reply.body).state, two_siblings());
  auto missing =
      round_trip({"n2", 6, ReplicaReadReply{Status::io_error("disk"), std::nullopt, std::nullopt}});
  EXPECT_EQ(std::get<ReplicaReadReply>(missing.body).status, Status::io_error("disk"));
  EXPECT_FALSE(std::get<ReplicaReadReply>(missing.body).state.has_value());

  auto read = round_trip({"n3", 7, ReplicaRead{"k"}});
  EXPECT_EQ(std::get<ReplicaRead>(read.body).key, "k");
  EXPECT_FALSE(std::get<ReplicaRead>(read.body).with_hints);
  auto fallback_read = round_trip({"n3", 7, ReplicaRead{"k", true}});
  EXPECT_TRUE(std::get<ReplicaRead>(fallback_read.body).with_hints);
  EXPECT_FALSE(std::get<ReplicaRead>(fallback_read.body).digest_only);
  auto digest_read = round_trip({"n3", 7, ReplicaRead{"k", false, true}});
  EXPECT_TRUE(std::get<ReplicaRead>(digest_read.body).digest_only);
  const causal::StateSummary::Digest digest{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  auto digest_reply = round_trip({"n2", 6, ReplicaReadReply{Status::ok(), std::nullopt, digest}});
  EXPECT_EQ(std::get<ReplicaReadReply>(digest_reply.body).digest, digest);
  EXPECT_FALSE(std::get<ReplicaReadReply>(digest_reply.body).state.has_value());
  EXPECT_FALSE(std::get<ReplicaReadReply>(reply.body).digest.has_value());
  auto ack = round_trip({"n3", 8, ReplicaWriteAck{Status::unavailable("x")}});
  EXPECT_EQ(std::get<ReplicaWriteAck>(ack.body).status, Status::unavailable("x"));

  proto::ClientRequest request{42, 900, proto::PutRequest{"k", "v", "ctx", 3}};
  auto fwd = round_trip({"n4", 9, Forward{request}});
  const auto& put = std::get<proto::PutRequest>(std::get<Forward>(fwd.body).request.op);
  EXPECT_EQ(put.context, "ctx");
  EXPECT_EQ(put.w, 3);
  EXPECT_EQ(std::get<Forward>(fwd.body).request.timeout_ms, 900u);
  EXPECT_EQ(fwd.deadline_unix_ms, 0u) << "none unless set";
  auto timed = round_trip({"n4", 10, Forward{request}, 1'765'000'000'123ull});
  EXPECT_EQ(timed.deadline_unix_ms, 1'765'000'000'123ull);
  auto replica_write = round_trip({"n4", 11, ReplicaWrite{"k", {}, {}}, 1'765'000'000'456ull});
  EXPECT_EQ(replica_write.deadline_unix_ms, 1'765'000'000'456ull)
      << "replica requests carry one too";
  EXPECT_TRUE(std::holds_alternative<LinkPing>(round_trip({"n4", 12, LinkPing{}}).body));
  auto pong = round_trip({"n4", 12, LinkPong{}});
  EXPECT_TRUE(std::holds_alternative<LinkPong>(pong.body));
  EXPECT_EQ(pong.request_id, 12u);

  proto::ClientResponse response{42, Status::not_found("gone"), proto::GetResponse{{}, "c"}};
  auto fr = round_trip({"n1", 9, ForwardReply{response}});
  EXPECT_EQ(std::get<ForwardReply>(fr.body).response.status.code(), StatusCode::kNotFound);
}

TEST(ReplicaCodecTest, AntiEntropyMessagesRoundTrip) {
  auto tree = round_trip({"n1", 11, TreeRequest{17, 1024, 3, {0, 5, 7}}});
  const auto& tr = std::get<TreeRequest>(tree.body);
  EXPECT_EQ(tr.partition, 17u);
  EXPECT_EQ(tr.segments, 1024u);
  EXPECT_EQ(tr.level, 3u);
  EXPECT_EQ(tr.indices, (std::vector<uint32_t>{0, 5, 7}));
  auto hashes = round_trip({"n2", 11, TreeReply{Status::ok(), {{1, 2}, {~0ull, 3}}}});
  EXPECT_EQ(std::get<TreeReply>(hashes.body).hashes,
            (std::vector<antientropy::Hash128>{{1, 2}, {~0ull, 3}}));
  auto refused = round_trip({"n2", 11, TreeReply{Status::unavailable("not built"), {}}});
  EXPECT_EQ(std::get<TreeReply>(refused.body).status, Status::unavailable("not built"));

  auto seg = round_trip({"n1", 12, SegmentRequest{17, 1024, {9, 10}}});
  EXPECT_EQ(std::get<SegmentRequest>(seg.body).segment_ids, (std::vector<uint32_t>{9, 10}));
  auto entries = round_trip(
      {"n2", 12, SegmentReply{Status::ok(), 1, {{"a", {4, 5}}, {std::string("b\0c", 3), {6, 7}}}}});
  const auto& sr = std::get<SegmentReply>(entries.body);
  EXPECT_EQ(sr.segments_included, 1u);
  EXPECT_EQ(sr.entries, (std::vector<antientropy::SegmentEntry>{{"a", {4, 5}},
                                                                {std::string("b\0c", 3), {6, 7}}}));

  auto keys = round_trip({"n1", 13, KeysRequest{17, {"a", "b"}}});
  EXPECT_EQ(std::get<KeysRequest>(keys.body).keys, (std::vector<std::string>{"a", "b"}));
  auto states = round_trip(
      {"n2", 13, KeysReply{Status::ok(), 2, {{"a", two_siblings()}, {"b", std::nullopt}}}});
  const auto& kr = std::get<KeysReply>(states.body);
  EXPECT_EQ(kr.keys_included, 2u);
  ASSERT_EQ(kr.states.size(), 2u);
  EXPECT_EQ(kr.states[0].state, two_siblings());
  EXPECT_FALSE(kr.states[1].state.has_value());
}

TEST(ReplicaCodecTest, StoredSiblingSetsAndContextsRoundTrip) {
  auto state = two_siblings();
  auto decoded = decode_sibling_set(encode_sibling_set(state));
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(*decoded, state);
  auto ctx = decode_context(encode_context(state.version_vector()));
  ASSERT_TRUE(ctx.is_ok());
  EXPECT_EQ(*ctx, state.version_vector());
  EXPECT_TRUE(decode_context("")->empty());
}

// The segment count of a flat message: its first u32 is the count minus one.
uint32_t segments_of(const char* flat) {
  uint32_t count_minus_one = 0;
  std::memcpy(&count_minus_one, flat, sizeof count_minus_one);
  return count_minus_one + 1;
}

// The frequent encodings are sized so the message fits its first segment: it then leaves
// in the buffer it was built in (proto/flat_builder.h), where one that spills is copied.
TEST(ReplicaCodecTest, TheFrequentMessagesAreBuiltInOneSegment) {
  for (std::size_t value_bytes : {0, 100, 1000, 10000, 100000}) {
    for (std::size_t key_bytes : {1, 200, 4000}) {
      causal::SiblingSet state;
      for (const char* actor : {"node-with-a-long-name-0", "n1", "node-2.qkv.svc.cluster.local"}) {
        state = causal::SiblingSet::join(
            state,
            causal::SiblingSet().update({}, {actor, 123456789}, std::string(value_bytes, 'v')));
      }
      const std::string key(key_bytes, 'k');
      const std::string from(40, 'f');
      SCOPED_TRACE(fmt::format("{}-byte values, {}-byte key", value_bytes, key_bytes));
      EXPECT_EQ(segments_of(
                    encode(PeerMessage{from, 1, ReplicaWrite{key, state, from}}).asChars().begin()),
                1u);
      EXPECT_EQ(segments_of(encode(PeerMessage{from, 1, ReplicaReadReply{Status::ok(), state, {}}})
                                .asChars()
                                .begin()),
                1u);
      EXPECT_EQ(segments_of(
                    encode(PeerMessage{from, 1, ReplicaRead{key, false, true}}).asChars().begin()),
                1u);
      EXPECT_EQ(segments_of(encode_sibling_set(state).data()), 1u);
      EXPECT_EQ(segments_of(encode_context(state.version_vector()).data()), 1u);
    }
  }
  EXPECT_EQ(
      segments_of(
          encode(PeerMessage{"n1", 1, ReplicaWriteAck{Status::unavailable(std::string(3000, 'e'))}})
              .asChars()
              .begin()),
      1u);
}

TEST(ReplicaCodecTest, ATimeToLiveTravelsWithItsValueAndATombstoneHasNone) {
  causal::SiblingSet state = causal::SiblingSet().update({}, {"n1", 7}, "v", 1'700'000'000'123);
  state = causal::SiblingSet::join(
      state, causal::SiblingSet().update({}, {"n2", 7}, std::nullopt, 1'700'000'000'123));
  auto decoded = decode_sibling_set(encode_sibling_set(state));
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(*decoded, state);
  ASSERT_EQ(decoded->siblings().size(), 2u);
  EXPECT_EQ(decoded->siblings()[0].expires_ms, 1'700'000'000'123);
  EXPECT_EQ(decoded->siblings()[1].expires_ms, 0) << "a tombstone never expires";
}

TEST(ReplicaCodecTest, AReadReplyWithBothAStateAndADigestIsRefused) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::PeerMessage>();
  root.setFrom("n2");
  auto reply = root.initReplicaReadReply();
  reply.initStatus();
  reply.setFound(true);
  reply.initState().initVersionVector().initEntries(0);
  reply.setHasDigest(true);
  auto words = capnp::messageToFlatArray(builder);
  auto result = decode_peer_message(words.asPtr());
  EXPECT_EQ(result.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(result.status().message(), HasSubstr("both a state and a digest"));
}

TEST(ReplicaCodecTest, ASiblingOutsideItsVersionVectorIsCorruption) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::SiblingSet>();
  root.initVersionVector().initEntries(0);
  auto s = root.initSiblings(1);
  s[0].initActor().setNode("n1");
  s[0].setCounter(3);
  auto words = capnp::messageToFlatArray(builder);
  auto result = decode_sibling_set(std::string(words.asChars().begin(), words.asChars().size()));
  EXPECT_EQ(result.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(result.status().message(), HasSubstr("not covered"));
}

// A stored state whose siblings carry the given dots of actor n1, whose vector covers.
std::string stored_with_dots(std::initializer_list<uint64_t> counters) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::SiblingSet>();
  auto entry = root.initVersionVector().initEntries(1)[0];
  entry.initActor().setNode("n1");
  entry.setCounter(9);
  auto s = root.initSiblings(static_cast<unsigned>(counters.size()));
  unsigned i = 0;
  for (uint64_t counter : counters) {
    s[i].initActor().setNode("n1");
    s[i].setCounter(counter);
    s[i].setValue(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>("v"), 1));
    ++i;
  }
  auto words = capnp::messageToFlatArray(builder);
  return std::string(words.asChars().begin(), words.asChars().size());
}

TEST(ReplicaCodecTest, TwoSiblingsWithOneDotAreCorruptionInAnyOrder) {
  for (auto counters : {std::initializer_list<uint64_t>{3, 3}, {2, 3, 3}, {3, 1, 3}}) {
    auto result = decode_sibling_set(stored_with_dots(counters));
    EXPECT_EQ(result.status().code(), StatusCode::kCorruption);
    EXPECT_THAT(result.status().message(), HasSubstr("share one dot"));
  }
  // Distinct dots out of order (no encoder of ours writes them so) decode sorted.
  auto unsorted = decode_sibling_set(stored_with_dots({5, 2, 7}));
  ASSERT_TRUE(unsorted.is_ok()) << unsorted.status().to_string();
  ASSERT_EQ(unsorted->siblings().size(), 3u);
  EXPECT_EQ(unsorted->siblings()[0].dot.counter, 2u);
  EXPECT_EQ(unsorted->siblings()[2].dot.counter, 7u);
}

TEST(ReplicaCodecTest, RandomBytesNeverCrashTheDecoders) {
  std::mt19937_64 rng(20261121);
  auto good = encode(PeerMessage{"n1", 1, ReplicaWrite{"key", two_siblings(), {}}});
  for (int i = 0; i < 3000; ++i) {
    // Mutate a valid frame (more interesting than pure noise) and decode it.
    kj::Array<capnp::word> copy = kj::heapArray<capnp::word>(good.asPtr());
    auto bytes = copy.asBytes();
    for (int k = 0; k < 4; ++k) bytes[rng() % bytes.size()] = static_cast<kj::byte>(rng());
    // Either an error or a message that encodes again: never a crash or an assertion.
    auto decoded = decode_peer_message(copy);
    if (decoded) {
      EXPECT_GT(encode(*decoded).size(), 0u);
    }
    std::string noise(rng() % 200, '\0');
    for (auto& c : noise) c = static_cast<char>(rng());
    (void)decode_sibling_set(noise);
    (void)decode_context(noise);
  }
}

TEST(ReplicaCodecTest, AMalformedContextIsTheClientsError) {
  auto result = decode_context("12345678");
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decode_context("odd").status().code(), StatusCode::kInvalidArgument);
}

// Inputs the fuzz harnesses found (tests/fuzz/regressions): a Text holding a NUL byte decoded,
// then re-encoded only up to the NUL, so the round trip changed the message or state.
TEST(ReplicaCodecTest, FuzzRegressionNulInPeerMessageTextIsCorruption) {
  auto decoded = decode_peer_message(fuzz::regression_frame("peer_message", "nul_in_text"));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(decoded.status().message(), HasSubstr("NUL"));
}

TEST(ReplicaCodecTest, FuzzRegressionNulInAStoredActorIsCorruption) {
  auto decoded = decode_sibling_set(fuzz::regression_input("sibling_set", "nul_in_actor"));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(decoded.status().message(), HasSubstr("NUL"));
}

TEST(ReplicaCodecTest, FuzzRegressionNulInAContextActorIsTheClientsError) {
  auto decoded = decode_context(fuzz::regression_input("causal_context", "nul_in_actor"));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("NUL"));
}

// An actor names the node that issued a dot: bytes that are no node id are refused, so a
// client's context cannot bring them into a key's version vector.
TEST(ReplicaCodecTest, AnActorThatIsNoNodeIdIsRefused) {
  for (const char* node : {"", "n 1", "n1/x"}) {
    capnp::MallocMessageBuilder builder;
    auto entry = builder.initRoot<wire::VersionVector>().initEntries(1)[0];
    entry.initActor().setNode(node);
    entry.setCounter(1);
    auto words = capnp::messageToFlatArray(builder);
    auto chars = words.asChars();
    auto decoded = decode_context(std::string(chars.begin(), chars.size()));
    ASSERT_FALSE(decoded.is_ok()) << node;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(decoded.status().message(), HasSubstr("actor")) << node;
  }
}

}  // namespace
}  // namespace qkv::node
