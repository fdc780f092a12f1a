// Merkle trees for anti-entropy: what the exchange relies on.
//  - A tree kept current by replace() on every write equals a tree rebuilt by one scan
//    (otherwise every exchange after a restart-with-rebuild would repair everything),
//    whatever nodes were read in between (reads settle the hashes writes left stale).
//  - The descent finds exactly the leaves that differ, at O(k log segments) hashes.
//  - Persisted trees round-trip; bad bytes give an error, never a crash or a wrong tree.
#include "antientropy/merkle_tree.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/entry_version.h"
#include "ring/ring.h"
#include "ring/token.h"

namespace qkv::antientropy {
namespace {

using antientropy::entry_hash;
using causal::Actor;
using causal::Dot;
using causal::Sibling;
using causal::SiblingSet;
using causal::VersionVector;
using node::entry_hash;  // of a sibling set: the states these tests hash
using node::version_of;
using ring::Token;

constexpr Token kTokenMax = std::numeric_limits<Token>::max();

// "k17". (Appended, not "k" + std::to_string(n): GCC 12 warns falsely on that.)
std::string numbered(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

Actor actor(int i, uint64_t incarnation = 1) {
  return Actor{numbered("n", static_cast<uint64_t>(i)), incarnation};
}

// Partition 5 of a 64-partition ring, as the ring defines it.
std::pair<Token, Token> partition_range(uint32_t p, uint32_t partitions) {
  ring::Ring ring(std::vector<NodeId>(partitions, "n1"));
  return {ring.first_token(p), ring.last_token(p)};
}

// Every level of both trees, node by node: operator== compares leaves only, so this is
// what checks the cached inner nodes.
::testing::AssertionResult same_nodes(const MerkleTree& a, const MerkleTree& b) {
  if (a.depth() != b.depth()) return ::testing::AssertionFailure() << "depths differ";
  for (uint32_t level = 0; level <= a.depth(); ++level) {
    for (uint32_t i = 0; i < (uint32_t{1} << level); ++i) {
      if (a.node(level, i) != b.node(level, i)) {
        return ::testing::AssertionFailure() << "node " << i << " of level " << level;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// Runs a descent of `local` against `remote` (the peer answers with its node hashes).
Descent descend(const MerkleTree& local, const MerkleTree& remote) {
  Descent descent(local);
  for (uint32_t step = 0; !descent.done(); ++step) {
    EXPECT_LE(step, local.depth()) << "descent does not end";
    if (step > local.depth()) break;
    std::vector<Hash128> hashes;
    for (uint32_t i : descent.request().indices) {
      hashes.push_back(remote.node(descent.request().level, i));
    }
    EXPECT_TRUE(descent.on_reply(hashes).is_ok());
  }
  return descent;
}

// ---------------------------------------------------------------------------------------
// Incremental maintenance equals a rebuild (property test over random histories).

struct HistoryCase {
  const char* name;
  Token first;
  Token last;
  uint32_t segments;
};

class IncrementalEqualsRebuildTest : public ::testing::TestWithParam<HistoryCase> {};

constexpr int kSeeds = 20;
constexpr int kOpsPerSeed = 2'000;
constexpr std::size_t kKeysPerRange = 300;  // few enough that keys are overwritten often

// Keys whose tokens fall in [first, last].
std::vector<std::string> keys_in(Token first, Token last, std::size_t count) {
  std::vector<std::string> keys;
  for (uint64_t i = 0; keys.size() < count; ++i) {
    std::string key = numbered("key", i);
    Token t = ring::token_of(key);
    if (first <= t && t <= last) keys.push_back(std::move(key));
  }
  return keys;
}

TEST_P(IncrementalEqualsRebuildTest,
       PutsOverwritesDeletesInAnyOrderGiveTheRebuiltTreeWhateverWasReadBetween) {
  const HistoryCase& c = GetParam();
  const std::vector<std::string> keys = keys_in(c.first, c.last, kKeysPerRange);
  for (int seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    std::map<std::string, SiblingSet> states;
    MerkleTree tree(c.first, c.last, c.segments);
    for (int op = 0; op < kOpsPerSeed; ++op) {
      const std::string& key = keys[rng() % keys.size()];
      const Token token = ring::token_of(key);
      auto it = states.find(key);
      std::optional<Hash128> before;
      if (it != states.end()) before = entry_hash(key, it->second);
      const SiblingSet current = it != states.end() ? it->second : SiblingSet();
      const Actor coordinator = actor(static_cast<int>(rng() % 3));
      // Read-modify-write (context = current vector) or blind write (a sibling).
      const VersionVector context = rng() % 4 == 0 ? VersionVector() : current.version_vector();
      const uint64_t kind = rng() % 10;
      std::optional<Hash128> after;
      if (kind < 6) {  // put or overwrite
        SiblingSet next = current.update(context, coordinator, numbered("v", rng() % 1000));
        after = entry_hash(key, next);
        states[key] = std::move(next);
      } else if (kind < 9) {  // delete: a tombstone write
        SiblingSet next = current.update(context, coordinator, std::nullopt);
        after = entry_hash(key, next);
        states[key] = std::move(next);
      } else if (it != states.end()) {  // the key's state is dropped entirely (reaped)
        states.erase(it);
      }
      tree.replace(token, before, after);
      // An exchange reads nodes between writes: a settled node must go stale again when a
      // leaf under it changes.
      if (rng() % 8 == 0) {
        const auto level = static_cast<uint32_t>(rng() % (tree.depth() + 1));
        (void)tree.node(level, static_cast<uint32_t>(rng() % (uint64_t{1} << level)));
      }
    }

    std::vector<std::pair<Token, Hash128>> entries;
    for (const auto& [key, state] : states) {
      entries.emplace_back(ring::token_of(key), entry_hash(key, state));
    }
    std::shuffle(entries.begin(), entries.end(), rng);
    MerkleTree rebuilt(c.first, c.last, c.segments);
    for (const auto& [token, hash] : entries) rebuilt.insert(token, hash);

    EXPECT_TRUE(tree == rebuilt);
    EXPECT_EQ(tree.root(), rebuilt.root());
    EXPECT_TRUE(same_nodes(tree, rebuilt));
    EXPECT_EQ(tree.entries(), states.size());
    EXPECT_EQ(rebuilt.entries(), states.size());
    ASSERT_FALSE(entries.empty());
    // And the comparison can fail: one entry fewer is a different tree.
    rebuilt.remove(entries.front().first, entries.front().second);
    EXPECT_FALSE(tree == rebuilt);
    EXPECT_NE(tree.root(), rebuilt.root());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ranges, IncrementalEqualsRebuildTest,
    ::testing::Values(HistoryCase{"FullRing64Segments", 0, kTokenMax, 64},
                      HistoryCase{"FullRing1024Segments", 0, kTokenMax, 1024},
                      HistoryCase{"Partition5Of64With16Segments", partition_range(5, 64).first,
                                  partition_range(5, 64).second, 16},
                      HistoryCase{"OneSegment", 0, kTokenMax, 1}),
    [](const ::testing::TestParamInfo<HistoryCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------
// Descent and differing_keys: two replicas that differ in k keys.

constexpr uint32_t kSegments = 1024;
constexpr uint64_t kKeys = 100'000;

struct Replica {
  std::map<std::string, Hash128> entries;
  MerkleTree tree{0, kTokenMax, kSegments};

  void put(const std::string& key, const Hash128& hash) {
    auto it = entries.find(key);
    std::optional<Hash128> before;
    if (it != entries.end()) before = it->second;
    tree.replace(ring::token_of(key), before, hash);
    entries[key] = hash;
  }
  void erase(const std::string& key) {
    auto it = entries.find(key);
    ASSERT_NE(it, entries.end());
    tree.remove(ring::token_of(key), it->second);
    entries.erase(it);
  }
  // This replica's entries of `segments`, as it would send them in an exchange.
  std::vector<SegmentEntry> entries_of(const std::set<uint32_t>& segments) const {
    std::vector<SegmentEntry> out;
    for (const auto& [key, hash] : entries) {
      if (segments.count(tree.segment_of(ring::token_of(key))) != 0) out.push_back({key, hash});
    }
    return out;
  }
};

SiblingSet one_write(uint64_t i, const std::string& value) {
  return SiblingSet().update(VersionVector(), actor(static_cast<int>(i % 3)), value);
}

const Replica& base_replica() {
  static const Replica* base = [] {
    auto* r = new Replica;
    for (uint64_t i = 0; i < kKeys; ++i) {
      std::string key = numbered("user", i);
      r->put(key, entry_hash(key, one_write(i, "value")));
    }
    return r;
  }();
  return *base;
}

class DescentFindsDifferencesTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(DescentFindsDifferencesTest, FindsExactlyTheDifferingSegmentsAndKeys) {
  const uint64_t k = GetParam();
  std::mt19937_64 rng(k);
  Replica local = base_replica();
  Replica remote = base_replica();
  ASSERT_TRUE(local.tree == remote.tree);

  // Distinct base keys to change; k new keys on either side.
  std::set<uint64_t> picked;
  while (picked.size() < k) picked.insert(rng() % kKeys);
  std::set<std::string> changed;
  uint64_t n = 0;
  for (uint64_t i : picked) {
    const std::string key = numbered("user", i);
    switch (n++ % 4) {
      case 0:  // a key only the local side has
      {
        const std::string extra = numbered("new-local-", i);
        local.put(extra, entry_hash(extra, one_write(i, "v")));
        changed.insert(extra);
        break;
      }
      case 1:  // a key only the remote side has (the local replica missed it, or reaped it)
        local.erase(key);
        changed.insert(key);
        break;
      case 2: {  // both have it, in different versions (the remote missed an overwrite)
        SiblingSet old_state = one_write(i, "value");
        SiblingSet newer =
            old_state.update(old_state.version_vector(), actor(static_cast<int>(i % 3)), "v2");
        remote.put(key, entry_hash(key, newer));
        changed.insert(key);
        break;
      }
      default: {  // concurrent writes on both sides: two siblings vs. one
        SiblingSet old_state = one_write(i, "value");
        remote.put(key, entry_hash(key, old_state.update(VersionVector(), actor(7), "c")));
        changed.insert(key);
        break;
      }
    }
  }
  std::set<uint32_t> expected_segments;
  for (const std::string& key : changed) {
    expected_segments.insert(local.tree.segment_of(ring::token_of(key)));
  }

  Descent descent = descend(local.tree, remote.tree);
  ASSERT_TRUE(descent.done());
  EXPECT_EQ(descent.differing_segments(),
            std::vector<uint32_t>(expected_segments.begin(), expected_segments.end()));
  // O(k log segments): at most two children per differing node per level, plus the root.
  EXPECT_LE(descent.hashes_received(), 2 * k * (local.tree.depth() + 1));

  const std::vector<SegmentEntry> mine = local.entries_of(expected_segments);
  std::vector<SegmentEntry> theirs = remote.entries_of(expected_segments);
  std::shuffle(theirs.begin(), theirs.end(), rng);  // any order
  EXPECT_EQ(differing_keys(mine, theirs), std::vector<std::string>(changed.begin(), changed.end()));
}

INSTANTIATE_TEST_SUITE_P(KeysChanged, DescentFindsDifferencesTest, ::testing::Values(1, 5, 50));

MerkleTree small_tree(uint32_t segments, const std::vector<std::string>& keys) {
  MerkleTree tree(0, kTokenMax, segments);
  for (const std::string& key : keys) tree.insert(ring::token_of(key), entry_hash(key, "v"));
  return tree;
}

TEST(DescentTest, EqualRootsAreDoneAfterOneReplyWithNoDifferingSegment) {
  MerkleTree local = small_tree(1024, {"a", "b", "c"});
  MerkleTree remote = small_tree(1024, {"c", "a", "b"});
  Descent descent(local);
  ASSERT_FALSE(descent.done());
  EXPECT_EQ(descent.request().level, 0u);
  EXPECT_EQ(descent.request().indices, std::vector<uint32_t>{0});
  std::vector<Hash128> reply = {remote.root()};
  ASSERT_TRUE(descent.on_reply(reply).is_ok());
  EXPECT_TRUE(descent.done());
  EXPECT_TRUE(descent.differing_segments().empty());
  EXPECT_EQ(descent.hashes_received(), 1u);
  // A reply after the end is an error, not a new descent.
  EXPECT_EQ(descent.on_reply(reply).code(), StatusCode::kInvalidArgument);
}

TEST(DescentTest, EmptyTreesAreEqual) {
  MerkleTree local(0, kTokenMax, 1024);
  Descent descent = descend(local, MerkleTree(0, kTokenMax, 1024));
  EXPECT_TRUE(descent.done());
  EXPECT_TRUE(descent.differing_segments().empty());
}

TEST(DescentTest, ReplyWithTheWrongCountIsAnErrorAndTheDescentUnusable) {
  MerkleTree local = small_tree(1024, {"a"});
  Descent descent(local);
  std::vector<Hash128> two = {Hash128{1, 2}, Hash128{3, 4}};
  Status status = descent.on_reply(two);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("2 hashes"), std::string::npos) << status.to_string();
  EXPECT_FALSE(descent.done());
  std::vector<Hash128> none;
  EXPECT_EQ(descent.on_reply(none).code(), StatusCode::kInvalidArgument);
  // Even a well-formed reply is refused now.
  std::vector<Hash128> one = {Hash128{1, 2}};
  EXPECT_FALSE(descent.on_reply(one).is_ok());
  EXPECT_EQ(descent.hashes_received(), 0u);
}

TEST(DescentTest, WrongCountDeeperDownIsAnError) {
  MerkleTree local = small_tree(8, {"a"});
  Descent descent(local);
  std::vector<Hash128> root = {Hash128{}};  // the peer is empty: the root differs
  ASSERT_TRUE(descent.on_reply(root).is_ok());
  ASSERT_FALSE(descent.done());
  EXPECT_EQ(descent.request().level, 1u);
  EXPECT_EQ(descent.request().indices, (std::vector<uint32_t>{0, 1}));
  std::vector<Hash128> three(3);
  EXPECT_EQ(descent.on_reply(three).code(), StatusCode::kInvalidArgument);
}

TEST(DescentTest, OneSegmentTreeComparesTheRootAsTheLeaf) {
  MerkleTree local = small_tree(1, {"a"});
  Descent differs = descend(local, small_tree(1, {"b"}));
  EXPECT_EQ(differs.differing_segments(), std::vector<uint32_t>{0});
  Descent same = descend(local, small_tree(1, {"a"}));
  EXPECT_TRUE(same.differing_segments().empty());
}

TEST(DifferingKeysTest, KeysOnOneSideOrWithDifferentHashesInAnyOrderSorted) {
  const std::vector<SegmentEntry> local = {
      {"c", {3, 3}}, {"a", {1, 1}}, {"b", {2, 2}}, {"e", {5, 5}}};
  const std::vector<SegmentEntry> remote = {
      {"d", {4, 4}}, {"e", {5, 5}}, {"b", {2, 2}}, {"c", {3, 4}}};
  EXPECT_EQ(differing_keys(local, remote), (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_EQ(differing_keys(remote, local), (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_TRUE(differing_keys(local, local).empty());
  EXPECT_EQ(differing_keys({}, remote), (std::vector<std::string>{"b", "c", "d", "e"}));
}

// ---------------------------------------------------------------------------------------
// Test states: two siblings (version_of's own tests are in tests/node/entry_version_test.cc).

SiblingSet two_siblings() {
  VersionVector vv({{actor(0), 3}, {actor(1), 2}});
  return SiblingSet(vv, {{Dot{actor(1), 2}, false, "y"}, {Dot{actor(0), 3}, false, "x"}});
}

// ---------------------------------------------------------------------------------------
// Leaves: counts, removal.

TEST(MerkleTreeTest, EmptyLeafDiffersFromLeafWhoseEntriesSumToZeroLanes) {
  const Hash128 h = entry_hash("a", version_of(two_siblings()));
  const Hash128 negated{0 - h.lo, 0 - h.hi};  // two's complement: h + negated == {0, 0}
  const Token token = ring::token_of("a");
  MerkleTree tree(0, kTokenMax, 1024);
  tree.insert(token, h);
  tree.insert(token, negated);
  const MerkleTree empty(0, kTokenMax, 1024);
  EXPECT_EQ(tree.entries(), 2u);
  EXPECT_NE(tree.node(tree.depth(), tree.segment_of(token)), Hash128{});
  EXPECT_NE(tree.root(), empty.root());
  EXPECT_FALSE(tree == empty);
  Descent descent = descend(tree, empty);
  EXPECT_EQ(descent.differing_segments(), std::vector<uint32_t>{tree.segment_of(token)});
}

TEST(MerkleTreeTest, RemovingWhatWasInsertedGivesTheEmptyTree) {
  MerkleTree tree(0, kTokenMax, 64);
  const MerkleTree empty(0, kTokenMax, 64);
  EXPECT_EQ(empty.root(), Hash128{});
  EXPECT_EQ(empty.entries(), 0u);
  const Hash128 a = entry_hash("a", "v1");
  const Hash128 b = entry_hash("b", "v1");
  tree.insert(ring::token_of("a"), a);
  tree.insert(ring::token_of("b"), b);
  EXPECT_NE(tree.root(), Hash128{});
  // A node whose subtree is empty is {0, 0}; its sibling subtree is not.
  const uint32_t leaf_a = tree.segment_of(ring::token_of("a"));
  EXPECT_EQ(tree.node(tree.depth(), leaf_a ^ 1u) == Hash128{},
            tree.segment_of(ring::token_of("b")) != (leaf_a ^ 1u));
  tree.replace(ring::token_of("a"), a, std::nullopt);
  tree.remove(ring::token_of("b"), b);
  EXPECT_TRUE(tree == empty);
  EXPECT_EQ(tree.root(), Hash128{});
  EXPECT_TRUE(same_nodes(tree, empty));
}

TEST(MerkleTreeTest, EqualEntryHashesDoNotCancel) {
  const Hash128 h = entry_hash("a", "v");
  MerkleTree once(0, kTokenMax, 16);
  once.insert(ring::token_of("a"), h);
  MerkleTree twice = once;
  twice.insert(ring::token_of("a"), h);
  EXPECT_NE(once.root(), twice.root());
  EXPECT_NE(twice.root(), MerkleTree(0, kTokenMax, 16).root());
}

TEST(MerkleTreeTest, ClearGivesTheEmptyTree) {
  MerkleTree tree = small_tree(32, {"a", "b", "c"});
  tree.clear();
  EXPECT_TRUE(tree == MerkleTree(0, kTokenMax, 32));
  EXPECT_TRUE(same_nodes(tree, MerkleTree(0, kTokenMax, 32)));
  EXPECT_EQ(tree.entries(), 0u);
}

TEST(MerkleTreeTest, TreesOfOtherShapesAreNotEqual) {
  EXPECT_FALSE(MerkleTree(0, kTokenMax, 16) == MerkleTree(0, kTokenMax, 32));
  EXPECT_FALSE(MerkleTree(0, kTokenMax, 16) == MerkleTree(1, kTokenMax, 16));
}

// ---------------------------------------------------------------------------------------
// Persistence.

MerkleTree sample_tree() {
  const auto [first, last] = partition_range(5, 64);
  MerkleTree tree(first, last, 8);
  for (const std::string& key : keys_in(first, last, 20)) {
    tree.insert(ring::token_of(key), entry_hash(key, version_of(two_siblings())));
  }
  return tree;
}

// Rewrites the trailing checksum so that a deliberate edit reaches the later checks.
void reseal(std::string& bytes) {
  const std::size_t body = bytes.size() - 8;
  uint64_t sum = XXH3_64bits(bytes.data(), body);
  for (int i = 0; i < 8; ++i) bytes[body + i] = static_cast<char>(sum >> (8 * i));
}

void put_u32(std::string& bytes, std::size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(v >> (8 * i));
}

::testing::AssertionResult fails_naming(std::string_view bytes, std::string_view word) {
  Result<MerkleTree> r = MerkleTree::deserialize(bytes);
  if (r.is_ok()) return ::testing::AssertionFailure() << "accepted";
  if (r.status().code() != StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << r.status().to_string();
  }
  if (r.status().message().find(word) == std::string::npos) {
    return ::testing::AssertionFailure() << r.status().to_string() << " does not name " << word;
  }
  return ::testing::AssertionSuccess();
}

TEST(SerializeTest, RoundTripGivesTheSameTree) {
  for (const MerkleTree& tree :
       {sample_tree(), MerkleTree(0, kTokenMax, 1024), small_tree(1, {"a"}),
        small_tree(1024, {"a", "b", "c", "d"}), MerkleTree(10, 17, 8)}) {
    const std::string bytes = tree.serialize();
    Result<MerkleTree> back = MerkleTree::deserialize(bytes);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_TRUE(*back == tree);
    EXPECT_EQ(back->root(), tree.root());
    EXPECT_TRUE(same_nodes(*back, tree));
    EXPECT_EQ(back->entries(), tree.entries());
    EXPECT_EQ(back->first(), tree.first());
    EXPECT_EQ(back->last(), tree.last());
    EXPECT_EQ(back->serialize(), bytes);
  }
}

TEST(SerializeTest, TruncatedOrExtendedBytesAreAnErrorNamingTheSize) {
  const std::string bytes = sample_tree().serialize();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_TRUE(fails_naming(bytes.substr(0, n), "size")) << "length " << n;
  }
  EXPECT_TRUE(fails_naming(bytes + '\0', "size"));
}

TEST(SerializeTest, AnyCorruptedByteIsAnError) {
  const std::string bytes = sample_tree().serialize();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      EXPECT_FALSE(MerkleTree::deserialize(bad).is_ok()) << "byte " << i;
    }
  }
}

TEST(SerializeTest, ErrorsNameTheProblem) {
  const std::string bytes = sample_tree().serialize();
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_TRUE(fails_naming(bad, "magic"));
  bad = bytes;
  bad[4] = 2;
  EXPECT_TRUE(fails_naming(bad, "format version"));
  bad = bytes;
  put_u32(bad, 21, 6);
  EXPECT_TRUE(fails_naming(bad, "power of two"));
  bad = bytes;
  put_u32(bad, 21, 0);
  EXPECT_TRUE(fails_naming(bad, "power of two"));
  bad = bytes;
  put_u32(bad, 21, MerkleTree::kSegmentsMax * 2);
  EXPECT_TRUE(fails_naming(bad, "power of two"));
  bad = bytes;
  put_u32(bad, 21, 16);  // a valid count that the leaves do not match
  EXPECT_TRUE(fails_naming(bad, "size"));
  // first > last: swap the two range fields.
  bad = bytes;
  std::swap_ranges(bad.begin() + 5, bad.begin() + 13, bad.begin() + 13);
  EXPECT_TRUE(fails_naming(bad, "range"));
  // A range with fewer tokens than segments: [10, 12] with 8 segments.
  bad = MerkleTree(10, 17, 8).serialize();
  bad[13] = 12;
  EXPECT_TRUE(fails_naming(bad, "range"));
  bad = bytes;
  bad[40] = static_cast<char>(bad[40] ^ 1);
  EXPECT_TRUE(fails_naming(bad, "checksum"));
  // An empty leaf with a nonzero sum (no sequence of inserts and removes makes one).
  bad = MerkleTree(0, kTokenMax, 2).serialize();
  bad[25] = 1;  // leaf 0's sum.lo
  reseal(bad);
  EXPECT_TRUE(fails_naming(bad, "nonzero sum"));
  // Resealed but otherwise intact bytes still decode (the checks above are not spurious).
  bad = bytes;
  reseal(bad);
  EXPECT_TRUE(MerkleTree::deserialize(bad).is_ok());
}

}  // namespace
}  // namespace qkv::antientropy
