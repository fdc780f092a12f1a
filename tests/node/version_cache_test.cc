// The version cache (node/version_cache.h): writes applied without reading the stored
// state when the cached summary is enough, read when it is not, and a cache that never
// says more than the store holds.
#include "node/version_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <utility>

#include "node/node.h"
#include "node/wire/replica_codec.h"
#include "tests/node/replica_testing.h"

namespace qkv::testing {
namespace {

using ::testing::UnorderedElementsAre;

const causal::Actor kN2{"n2", 9};
const causal::Actor kN3{"n3", 4};

// One node, n1, of a 3-node ring with N=3: a primary of every key. No batches: each event
// commits its own writes.
class VersionCacheTest : public ::testing::Test {
 protected:
  VersionCacheTest() : node_(config(), ring_, storage_, transport_, causal::Actor{"n1", 7}, now_) {}

  static node::NodeConfig config() {
    node::NodeConfig c;
    c.node_id = "n1";
    c.n = 3;
    c.w = 1;
    return c;
  }

  // A client put coordinated here (W=1: answered at once); returns the context it answers.
  std::string client_put(const std::string& key, const std::string& value,
                         const std::string& context) {
    node_.on_client_request(
        1, proto::ClientRequest{++request_id_, 0, proto::PutRequest{key, value, context, 1, false}},
        now_);
    EXPECT_FALSE(transport_.replies.empty());
    const proto::ClientResponse& reply = transport_.replies.back();
    EXPECT_TRUE(reply.status.is_ok()) << reply.status.message();
    const auto* put = std::get_if<proto::PutResponse>(&reply.body);
    return put ? put->context : std::string();
  }
  void replica_write(const std::string& key, const causal::SiblingSet& state) {
    node_.on_peer_message(
        node::PeerMessage{"n2", ++request_id_, node::ReplicaWrite{key, state, {}}}, now_);
    auto acks = transport_.sent_of<node::ReplicaWriteAck>();
    ASSERT_FALSE(acks.empty());
    EXPECT_TRUE(acks.back().second.status.is_ok());
  }
  std::optional<causal::SiblingSet> stored(const std::string& key) {
    auto bytes = storage_.inner.get(ring::token_of(key), key);
    if (!bytes.is_ok() || !bytes.value()) return std::nullopt;
    return node::decode_sibling_set(*bytes.value()).value();
  }
  // A coordinator's read of this replica: its digest (digest_only) or its state.
  node::ReplicaReadReply replica_read(const std::string& key, bool digest_only) {
    node_.on_peer_message(
        node::PeerMessage{"n2", ++request_id_, node::ReplicaRead{key, false, digest_only}}, now_);
    auto replies = transport_.sent_of<node::ReplicaReadReply>();
    EXPECT_FALSE(replies.empty());
    if (replies.empty()) return {};
    EXPECT_TRUE(replies.back().second.status.is_ok());
    return replies.back().second;
  }
  std::optional<causal::StateSummary::Digest> digest_read(const std::string& key) {
    node::ReplicaReadReply reply = replica_read(key, true);
    EXPECT_FALSE(reply.state.has_value()) << "a digest answer carries no values";
    return reply.digest;
  }
  // Stores a state as a previous run of the node left it: in storage, not in the cache.
  void stored_before_restart(const std::string& key, const causal::SiblingSet& state) {
    const std::string bytes = node::encode_sibling_set(state);
    const storage::WriteOp op{ring::token_of(key), key, bytes};
    ASSERT_TRUE(storage_.inner.write({&op, 1}).is_ok());
  }
  const node::NodeCounters& counters() const { return node_.counters(); }

  TimePoint now_{Duration(1'000'000)};
  std::shared_ptr<const ring::Ring> ring_ =
      std::make_shared<const ring::Ring>(ring::Ring::claim({"n1", "n2", "n3"}, 64, 3).value());
  CountingStorage storage_;
  RecordingTransport transport_;
  node::Node node_;
  uint64_t request_id_ = 0;
};

TEST_F(VersionCacheTest, AReadModifyWriteIsCoordinatedWithoutReadingTheStoredState) {
  std::string context = client_put("cart", "milk", "");
  const uint64_t reads = storage_.get_calls;
  context = client_put("cart", "milk,eggs", context);
  context = client_put("cart", "milk,eggs,tea", context);
  EXPECT_EQ(storage_.get_calls, reads) << "the context covered the stored sibling";
  EXPECT_EQ(counters().version_cache_hits, 2u);
  EXPECT_THAT(stored("cart")->values(), UnorderedElementsAre("milk,eggs,tea"));
}

TEST_F(VersionCacheTest, ABlindWriteReadsTheStoredStateAndKeepsBothSiblings) {
  client_put("cart", "milk", "");
  const uint64_t reads = storage_.get_calls;
  client_put("cart", "eggs", "");  // no context: "milk" survives, and only storage has it
  EXPECT_EQ(storage_.get_calls, reads + 1);
  EXPECT_THAT(stored("cart")->values(), UnorderedElementsAre("milk", "eggs"));
}

TEST_F(VersionCacheTest,
       AReplicaWriteThatHasSeenTheStoredStateIsJoinedWithoutAReadAndAgainIsANoOp) {
  causal::SiblingSet v1 = causal::SiblingSet().update({}, kN2, std::string("1"));
  causal::SiblingSet v2 = v1.update(v1.version_vector(), kN2, std::string("2"));
  replica_write("k", v1);
  const uint64_t reads = storage_.get_calls;
  const uint64_t writes = storage_.ops_written;
  replica_write("k", v2);
  EXPECT_EQ(storage_.get_calls, reads);
  EXPECT_EQ(*stored("k"), v2);
  replica_write("k", v2);  // a repeated delivery
  replica_write("k", v1);  // and an older state
  EXPECT_EQ(storage_.get_calls, reads);
  EXPECT_EQ(storage_.ops_written, writes + 1) << "nothing new: nothing written";
  EXPECT_EQ(*stored("k"), v2);
}

TEST_F(VersionCacheTest, AConcurrentReplicaWriteReadsTheStoredStateAndKeepsBothSiblings) {
  replica_write("k", causal::SiblingSet().update({}, kN2, std::string("from n2")));
  const uint64_t reads = storage_.get_calls;
  replica_write("k", causal::SiblingSet().update({}, kN3, std::string("from n3")));
  EXPECT_EQ(storage_.get_calls, reads + 1);
  EXPECT_THAT(stored("k")->values(), UnorderedElementsAre("from n2", "from n3"));
}

// Digest reads (node/coordinator/get_round.h): a replica answers one for a key written
// recently from the cache, and the digest is the stored state's.
TEST_F(VersionCacheTest, ADigestReadOfARecentlyWrittenKeyReadsNoStorage) {
  causal::SiblingSet v1 = causal::SiblingSet().update({}, kN2, std::string("1"));
  replica_write("k", v1);
  const uint64_t reads = storage_.get_calls;
  EXPECT_EQ(digest_read("k"), causal::StateSummary::of(*stored("k")).digest());
  EXPECT_EQ(storage_.get_calls, reads);
  EXPECT_EQ(counters().digest_reads, 1u);
  EXPECT_EQ(digest_read("never written"), causal::StateSummary().digest());
  EXPECT_EQ(storage_.get_calls, reads + 1) << "a key not cached is read";
}

// After a restart the cache is empty, and a key only ever read would never enter it: a
// read that finds the key in storage puts it in, so its next digest reads and writes read
// no storage (Cassandra's key cache fills on reads). A key held nowhere is not cached.
TEST_F(VersionCacheTest, AKeyReadFromStorageIsCachedForItsNextDigestReadsAndWrites) {
  causal::SiblingSet v1 = causal::SiblingSet().update({}, kN2, std::string("1"));
  stored_before_restart("k", v1);
  stored_before_restart("j", v1);
  uint64_t reads = storage_.get_calls;

  EXPECT_EQ(digest_read("k"), causal::StateSummary::of(v1).digest());
  EXPECT_EQ(storage_.get_calls, ++reads) << "not cached yet: read";
  EXPECT_EQ(digest_read("k"), causal::StateSummary::of(v1).digest());
  EXPECT_EQ(storage_.get_calls, reads) << "cached by the first read";

  EXPECT_EQ(replica_read("j", false).state, v1);
  EXPECT_EQ(storage_.get_calls, ++reads);
  EXPECT_EQ(digest_read("j"), causal::StateSummary::of(v1).digest());
  EXPECT_EQ(storage_.get_calls, reads) << "a state read caches the key too";
  EXPECT_EQ(counters().version_cache_fills, 2u);

  // The cached entry is the stored state exactly: a write that has seen it needs no read,
  // and one that has not keeps both siblings.
  causal::SiblingSet v2 = v1.update(v1.version_vector(), kN2, std::string("2"));
  replica_write("k", v2);
  EXPECT_EQ(storage_.get_calls, reads);
  EXPECT_EQ(*stored("k"), v2);
  replica_write("j", causal::SiblingSet().update({}, kN3, std::string("from n3")));
  EXPECT_EQ(storage_.get_calls, ++reads) << "a stored value survives: read it";
  EXPECT_THAT(stored("j")->values(), UnorderedElementsAre("1", "from n3"));

  EXPECT_EQ(digest_read("never written"), causal::StateSummary().digest());
  EXPECT_EQ(digest_read("never written"), causal::StateSummary().digest());
  EXPECT_EQ(storage_.get_calls, reads + 2) << "absence is not cached";
  EXPECT_EQ(counters().version_cache_fills, 2u);
}

TEST_F(VersionCacheTest, WithTheCacheOffReadsFillNothing) {
  node::NodeConfig off_config = config();
  off_config.version_cache_bytes = 0;
  node::Node off(off_config, ring_, storage_, transport_, causal::Actor{"n1", 7}, now_);
  stored_before_restart("k", causal::SiblingSet().update({}, kN2, std::string("1")));
  for (bool digest_only : {true, false, true}) {
    off.on_peer_message(
        node::PeerMessage{"n2", ++request_id_, node::ReplicaRead{"k", false, digest_only}}, now_);
  }
  EXPECT_EQ(off.counters().replica_reads, 3u);
  EXPECT_EQ(off.counters().version_cache_fills, 0u);
}

TEST_F(VersionCacheTest, AFailedCommitLeavesTheCacheAsTheStore) {
  causal::SiblingSet v1 = causal::SiblingSet().update({}, kN2, std::string("1"));
  causal::SiblingSet v2 = v1.update(v1.version_vector(), kN2, std::string("2"));
  replica_write("k", v1);
  storage_.fail_writes = true;  // a full disk
  node_.on_peer_message(node::PeerMessage{"n2", ++request_id_, node::ReplicaWrite{"k", v2, {}}},
                        now_);
  storage_.fail_writes = false;
  replica_write("k", v2);  // the retry must be written, not taken as already held
  EXPECT_EQ(*stored("k"), v2);
}

TEST_F(VersionCacheTest, DroppedRangesAreForgotten) {
  causal::SiblingSet v1 = causal::SiblingSet().update({}, kN2, std::string("1"));
  replica_write("k", v1);
  // A ring without n1 takes every range away; once applied by all, they are deleted.
  node_.set_ring(
      std::make_shared<const ring::Ring>(ring::Ring::claim({"n2", "n3", "n4"}, 64, 3).value()),
      nullptr, 2, {});
  node_.set_ring_applied(2, now_);
  ASSERT_FALSE(stored("k").has_value());
  // n1 replicates the key again and is sent the same state: it must store it.
  node_.set_ring(ring_, nullptr, 3, {});
  replica_write("k", v1);
  EXPECT_EQ(stored("k"), v1);
}

TEST(VersionCacheBoundTest, KeysFoundSinceTheHandPassedStayAndTheBudgetHolds) {
  causal::SiblingSet state = causal::SiblingSet().update({}, kN2, std::string("v"));
  node::VersionCache::Entry entry{causal::StateSummary::of(state), std::nullopt};
  node::VersionCache one(1);
  one.put("a", entry);
  EXPECT_EQ(one.size(), 0u) << "an entry larger than the budget is not kept";

  node::VersionCache cache(4096);
  for (int i = 0; i < 1000; ++i) {
    cache.put("key" + std::to_string(i), entry);
    ASSERT_LE(cache.bytes(), 4096u);
    if (i % 2 == 0) {
      ASSERT_NE(cache.find("key0"), nullptr);  // keep key0 recently used
    }
  }
  EXPECT_GT(cache.size(), 5u);
  EXPECT_NE(cache.find("key0"), nullptr);
  EXPECT_NE(cache.find("key999"), nullptr);
  EXPECT_EQ(cache.find("key1"), nullptr);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);

  node::VersionCache off(0);
  off.put("a", entry);
  EXPECT_EQ(off.find("a"), nullptr);
}

// Erasing from the open-addressing index moves later cells of a probe run back into the
// hole: every key left must still be found, and no erased one, through growth and reuse.
TEST(VersionCacheBoundTest, ErasedKeysAreGoneAndEveryOtherIsStillFound) {
  causal::SiblingSet state = causal::SiblingSet().update({}, kN2, std::string("v"));
  node::VersionCache::Entry entry{causal::StateSummary::of(state), std::nullopt};
  node::VersionCache cache(std::size_t{1} << 30);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5000; ++i) cache.put("key" + std::to_string(i), entry);
    ASSERT_EQ(cache.size(), 5000u);
    for (int i = round % 3; i < 5000; i += 3) cache.erase("key" + std::to_string(i));
    for (int i = 0; i < 5000; ++i) {
      const bool erased = i % 3 == round % 3;
      ASSERT_EQ(cache.find("key" + std::to_string(i)) == nullptr, erased) << "key" << i;
    }
  }
  const std::size_t bytes = cache.bytes();
  cache.put("key1", entry);  // an update of a held key: same size, same bytes
  EXPECT_EQ(cache.bytes(), bytes);
}

// A state of 1-3 siblings (one per actor), each at `counter`.
causal::SiblingSet siblings_at(uint64_t counter, uint64_t count) {
  causal::SiblingSet state;
  for (const causal::Actor& a : {kN2, kN3, causal::Actor{"n4", 1}}) {
    if (count-- == 0) break;
    causal::VersionVector context;
    context.raise(a, counter);
    state = causal::SiblingSet::join(
        state, causal::SiblingSet().update(context, a, "v" + std::to_string(counter)));
  }
  return state;
}

// The cache is exact, not a hint: whatever eviction did, a key found holds the entry last
// put for it, and an erased key is not found. Random puts (of whole entries, and of states
// summarized in the entry in place, whose sibling counts vary), finds, erases and clears
// over a budget that forces eviction and the table's rehashes (the clock hand survives
// both).
TEST(VersionCacheBoundTest, AFoundKeyHoldsItsLastPutWhateverWasEvicted) {
  std::mt19937_64 rng(7);
  node::VersionCache cache(8192);
  std::map<std::string, causal::StateSummary> last_put;  // key -> its last entry's summary
  uint64_t counter = 0;
  for (int op = 0; op < 20'000; ++op) {
    const std::string key = "key" + std::to_string(rng() % 300);
    const uint64_t kind = rng() % 100;
    if (kind < 50) {
      ++counter;
      causal::SiblingSet state = siblings_at(counter, 1 + rng() % 3);
      last_put[key] = causal::StateSummary::of(state);
      if (kind % 2 == 0) {
        cache.put(key, node::VersionCache::Entry{causal::StateSummary::of(state), std::nullopt});
      } else {
        cache.put(key, std::move(state), std::nullopt);
      }
      ASSERT_LE(cache.bytes(), 8192u);
      ASSERT_NE(cache.find(key), nullptr) << "the entry just put is kept";
    } else if (kind < 90) {
      const node::VersionCache::Entry* e = cache.find(key);
      if (e) {
        ASSERT_TRUE(last_put.count(key)) << key << " was erased or never put";
        EXPECT_EQ(e->summary, last_put[key]) << key;
      }
    } else if (kind < 99) {
      cache.erase(key);
      last_put.erase(key);
      ASSERT_EQ(cache.find(key), nullptr);
    } else {
      cache.clear();
      last_put.clear();
    }
  }
  EXPECT_GT(cache.size(), 5u);
  EXPECT_LT(cache.size(), 300u) << "the budget evicted";
}

}  // namespace
}  // namespace qkv::testing
