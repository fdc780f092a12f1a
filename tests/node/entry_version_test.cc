// version_of and entry_hash of a sibling set: what anti-entropy compares between replicas.
// Equal sibling sets give equal versions whatever the order of their entries; values do
// not matter (a dot identifies its value); dots, incarnations, siblings, tombstones and
// vectors all do; the encoding is unambiguous across field boundaries.
#include "node/entry_version.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace qkv::node {
namespace {

using causal::Actor;
using causal::Dot;
using causal::SiblingSet;
using causal::VersionVector;

Actor actor(int i, uint64_t incarnation = 1) {
  std::string node = "n";
  node += std::to_string(i);
  return Actor{node, incarnation};
}

SiblingSet two_siblings(const std::string& value_a = "x", const std::string& value_b = "y") {
  VersionVector vv({{actor(0), 3}, {actor(1), 2}});
  return SiblingSet(vv, {{Dot{actor(1), 2}, false, value_b}, {Dot{actor(0), 3}, false, value_a}});
}

TEST(VersionOfTest, EqualSiblingSetsGiveEqualVersions) {
  VersionVector vv({{actor(1), 2}, {actor(0), 3}});  // entries in another order
  SiblingSet same(vv, {{Dot{actor(0), 3}, false, "x"}, {Dot{actor(1), 2}, false, "y"}});
  EXPECT_EQ(version_of(two_siblings()), version_of(same));
  EXPECT_EQ(entry_hash("k", two_siblings()), entry_hash("k", same));
  EXPECT_EQ(version_of(SiblingSet()), version_of(SiblingSet()));
}

TEST(VersionOfTest, ValuesDoNotMatterSameDotsGiveSameVersion) {
  // A dot identifies its value (incarnations keep dots unique), so the version leaves
  // values out: hashing them would cost a read of every value per exchange for nothing.
  EXPECT_EQ(version_of(two_siblings("x", "y")), version_of(two_siblings("other", "values")));
}

TEST(VersionOfTest, DotsTombstonesSiblingsAndVectorsChangeTheVersion) {
  const std::string base = version_of(two_siblings());
  const VersionVector vv({{actor(0), 3}, {actor(1), 2}});
  // A different dot (counter).
  EXPECT_NE(base, version_of(SiblingSet(
                      vv, {{Dot{actor(0), 2}, false, "x"}, {Dot{actor(1), 2}, false, "y"}})));
  // A different incarnation of the same node.
  const VersionVector vv_inc({{actor(0, 2), 3}, {actor(1), 2}});
  EXPECT_NE(base, version_of(SiblingSet(vv_inc, {{Dot{actor(0, 2), 3}, false, "x"},
                                                 {Dot{actor(1), 2}, false, "y"}})));
  // An extra sibling.
  EXPECT_NE(base, version_of(SiblingSet(vv, {{Dot{actor(0), 3}, false, "x"},
                                             {Dot{actor(1), 1}, false, "z"},
                                             {Dot{actor(1), 2}, false, "y"}})));
  // A missing sibling.
  EXPECT_NE(base, version_of(SiblingSet(vv, {{Dot{actor(0), 3}, false, "x"}})));
  // The tombstone flag.
  EXPECT_NE(base, version_of(SiblingSet(
                      vv, {{Dot{actor(0), 3}, true, ""}, {Dot{actor(1), 2}, false, "y"}})));
  // A different version vector, same siblings.
  EXPECT_NE(base, version_of(SiblingSet(
                      VersionVector({{actor(0), 3}, {actor(1), 5}}),
                      {{Dot{actor(0), 3}, false, "x"}, {Dot{actor(1), 2}, false, "y"}})));
  EXPECT_NE(base, version_of(SiblingSet(
                      VersionVector({{actor(0), 3}, {actor(1), 2}, {actor(2), 1}}),
                      {{Dot{actor(0), 3}, false, "x"}, {Dot{actor(1), 2}, false, "y"}})));
  EXPECT_NE(version_of(SiblingSet()), base);
}

TEST(VersionOfTest, EncodingIsUnambiguousAcrossFieldBoundaries) {
  // Two vectors whose fields concatenate to the same bytes, "ab"|i1|c1|"c"|i2|c2 ==
  // "a"|j1|d1|"bc"|j2|d2 (u64s little-endian): only the node ids' length prefixes tell
  // them apart.
  auto le = [](uint64_t v) {
    std::string out;
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>(v >> (8 * b)));
    return out;
  };
  auto get = [](const std::string& bytes, std::size_t at) {
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v |= uint64_t{static_cast<unsigned char>(bytes[at + b])} << (8 * b);
    return v;
  };
  const uint64_t i1 = 0x0102030405060708, c1 = 0x6200000000000009, i2 = 7, c2 = 5;
  // Appended piece by piece: GCC 12 warns falsely on "ab" + std::string (-Wrestrict).
  auto concat = [](std::initializer_list<std::string> parts) {
    std::string out;
    for (const std::string& part : parts) out += part;
    return out;
  };
  const std::string joined = concat({"ab", le(i1), le(c1), "c", le(i2), le(c2)});
  ASSERT_EQ(joined.substr(17, 2), "bc");
  const std::string split = concat({"a", le(get(joined, 1)), le(get(joined, 9)), "bc",
                                    le(get(joined, 19)), le(get(joined, 27))});
  ASSERT_EQ(joined, split);
  SiblingSet one(VersionVector({{Actor{"ab", i1}, c1}, {Actor{"c", i2}, c2}}), {});
  SiblingSet other(VersionVector({{Actor{"a", get(joined, 1)}, get(joined, 9)},
                                  {Actor{"bc", get(joined, 19)}, get(joined, 27)}}),
                   {});
  EXPECT_NE(version_of(one), version_of(other));
  // A key/version split at another point.
  EXPECT_NE(antientropy::entry_hash("ab", std::string_view("c")),
            antientropy::entry_hash("a", std::string_view("bc")));
  EXPECT_NE(entry_hash("k1", two_siblings()), entry_hash("k2", two_siblings()));
}

// The bytes themselves are a format: trees are saved to disk and compared with peers that
// may run another build, so the encoding must not drift (node/entry_version.cc).
TEST(VersionOfTest, TheEncodingIsTheDocumentedLayoutByteForByte) {
  auto u32 = [](uint32_t v) {
    std::string out;
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>(v >> (8 * b)));
    return out;
  };
  auto u64 = [](uint64_t v) {
    std::string out;
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>(v >> (8 * b)));
    return out;
  };
  const SiblingSet state(
      VersionVector({{Actor{"n0", 0x0102030405060708}, 3}, {Actor{"node1", 1}, 2}}),
      {{Dot{Actor{"node1", 1}, 2}, true, ""},
       {Dot{Actor{"n0", 0x0102030405060708}, 3}, false, "x"}});
  std::string expected = u32(2);
  for (const std::string& part : {u32(2), std::string("n0"), u64(0x0102030405060708), u64(3),
                                  u32(5), std::string("node1"), u64(1), u64(2), u32(2)}) {
    expected += part;
  }
  for (const std::string& part :
       {u32(2), std::string("n0"), u64(0x0102030405060708), u64(3), std::string(1, '\0'), u32(5),
        std::string("node1"), u64(1), u64(2), std::string(1, '\1')}) {
    expected += part;
  }
  EXPECT_EQ(version_of(state), expected);
  EXPECT_EQ(version_of(SiblingSet()), u32(0) + u32(0));
}

// entry_hash(key, state) encodes the version into a reused buffer: it must hash exactly
// what the stored and exchanged trees hash, whatever the buffer held before.
TEST(VersionOfTest, EntryHashIsTheHashOfKeyAndVersionWhateverCameBefore) {
  SiblingSet many;
  for (int i = 0; i < 20; ++i) {
    many = SiblingSet::join(
        many, SiblingSet().update({}, Actor{"node-" + std::to_string(i), 7}, std::string("v")));
  }
  for (const SiblingSet& state : {many, two_siblings(), SiblingSet(), many, two_siblings()}) {
    EXPECT_EQ(entry_hash("key", state), antientropy::entry_hash("key", version_of(state)));
  }
}

}  // namespace
}  // namespace qkv::node
