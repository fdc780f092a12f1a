// Micro-benchmarks of the anti-entropy Merkle tree (antientropy/): the leaf update every
// write pays (replace), the entry hash it needs (version_of + entry_hash of the new
// state), and a rebuild by one scan (after a restart without a saved tree).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "antientropy/merkle_tree.h"
#include "bench/micro/fixtures.h"
#include "node/entry_version.h"
#include "ring/token.h"

namespace qkv::bench::micro {
namespace {

constexpr ring::Token kTokenMax = std::numeric_limits<ring::Token>::max();
constexpr uint32_t kSegments = 1024;       // the default per-partition tree
constexpr std::size_t kEntries = 1 << 16;  // a power of two: the loop cycles with a mask

struct Entries {
  std::vector<ring::Token> tokens;
  std::vector<antientropy::Hash128> hashes;
};

// n random tokens over the whole ring with random entry hashes (seeded: same every run).
Entries random_entries(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Entries e;
  for (std::size_t i = 0; i < n; ++i) {
    e.tokens.push_back(rng());
    e.hashes.push_back({rng(), rng()});
  }
  return e;
}

// replace(token, old, new) on a 1,024-segment tree holding kEntries entries: one leaf
// update and the 10 inner hashes up to the root. Each iteration swaps one entry between
// two versions, so the tree stays consistent.
void BM_MerkleReplace(benchmark::State& state) {
  const Entries a = random_entries(kEntries, 1);
  const Entries b = random_entries(kEntries, 2);
  antientropy::MerkleTree tree(0, kTokenMax, kSegments);
  for (std::size_t i = 0; i < kEntries; ++i) tree.insert(a.tokens[i], a.hashes[i]);
  std::vector<bool> flipped(kEntries, false);
  std::size_t i = 0;
  for (auto _ : state) {
    const antientropy::Hash128& from = flipped[i] ? b.hashes[i] : a.hashes[i];
    const antientropy::Hash128& to = flipped[i] ? a.hashes[i] : b.hashes[i];
    tree.replace(a.tokens[i], from, to);
    flipped[i] = !flipped[i];
    i = (i + 1) & (kEntries - 1);
  }
  benchmark::DoNotOptimize(tree.root());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MerkleReplace);

// replace() as a node pays it: 256 partitions' trees (a node's default, ~9 MB of tree),
// each write in another tree, so the tree is not in the CPU cache (writes to a node spread
// over its partitions). `state.range(0)`: a root read every that many writes (an exchange
// reads a tree every few seconds; 1 is the worst case for trees that settle lazily).
void BM_MerkleReplace256Trees(benchmark::State& state) {
  constexpr std::size_t kTrees = 256;
  const Entries a = random_entries(kEntries, 1);
  const Entries b = random_entries(kEntries, 2);
  std::vector<antientropy::MerkleTree> trees(kTrees,
                                             antientropy::MerkleTree(0, kTokenMax, kSegments));
  for (std::size_t i = 0; i < kEntries; ++i) trees[i % kTrees].insert(a.tokens[i], a.hashes[i]);
  std::vector<bool> flipped(kEntries, false);
  const auto root_every = static_cast<std::size_t>(state.range(0));
  std::size_t i = 0, n = 0;
  for (auto _ : state) {
    const antientropy::Hash128& from = flipped[i] ? b.hashes[i] : a.hashes[i];
    const antientropy::Hash128& to = flipped[i] ? a.hashes[i] : b.hashes[i];
    antientropy::MerkleTree& tree = trees[i % kTrees];
    tree.replace(a.tokens[i], from, to);
    if (++n % root_every == 0) benchmark::DoNotOptimize(tree.root());
    flipped[i] = !flipped[i];
    i = (i + 7919) & (kEntries - 1);  // a stride that visits every entry, trees in turn
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MerkleReplace256Trees)->ArgName("root_every")->Arg(1)->Arg(100000);

// The entry of a key after a write: version_of (3-actor vector, one sibling with a
// kValueBytes value, which is not hashed) and XXH3-128 of key and version.
void BM_EntryHash(benchmark::State& state) {
  const causal::SiblingSet s = three_actor_state(1);
  const std::string key = key_name(4'242);
  for (auto _ : state) {
    antientropy::Hash128 h = node::entry_hash(key, s);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EntryHash);

// A rebuild: 100,000 inserts into an empty 1,024-segment tree (each updates its path).
void BM_MerkleBuild100k(benchmark::State& state) {
  constexpr std::size_t kBuildEntries = 100'000;
  const Entries e = random_entries(kBuildEntries, 3);
  for (auto _ : state) {
    antientropy::MerkleTree tree(0, kTokenMax, kSegments);
    for (std::size_t i = 0; i < kBuildEntries; ++i) tree.insert(e.tokens[i], e.hashes[i]);
    benchmark::DoNotOptimize(tree.root());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBuildEntries));
}
BENCHMARK(BM_MerkleBuild100k)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace qkv::bench::micro
