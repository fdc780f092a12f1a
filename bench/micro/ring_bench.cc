// Micro-benchmarks of placement (ring/): the token of a key and its preference list, which
// every client request computes (the receiving node to forward, the coordinator to pick
// replicas).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/micro/fixtures.h"
#include "ring/ring.h"
#include "ring/token.h"

namespace qkv::bench::micro {
namespace {

constexpr uint32_t kN = 3;
constexpr std::size_t kTokens = 1024;  // a power of two: the loop cycles with a mask

// token_of for a 14-byte key (XXH3_64bits). Bytes: the key.
void BM_TokenOf(benchmark::State& state) {
  const std::string key = key_name(4'242);
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.data());
    ring::Token token = ring::token_of(key);
    benchmark::DoNotOptimize(token);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(key.size()));
}
BENCHMARK(BM_TokenOf);

// preference_list(token, 3) on a ring of Q=256 partitions claimed by `nodes` members, for
// the tokens of kTokens distinct keys in turn (so every partition is a starting point).
// The list includes the fallbacks, so the walk goes on until every member is met.
void BM_PreferenceList(benchmark::State& state) {
  std::vector<NodeId> members;
  for (int64_t i = 0; i < state.range(0); ++i) members.push_back(node_name(i));
  Result<ring::Ring> ring = ring::Ring::claim(members, ring::kPartitionCountDefault, kN);
  if (!ring.is_ok()) {
    state.SkipWithError("Ring::claim failed");
    return;
  }
  std::vector<ring::Token> tokens;
  for (std::size_t i = 0; i < kTokens; ++i) tokens.push_back(ring::token_of(key_name(i)));
  std::size_t i = 0;
  for (auto _ : state) {
    ring::PreferenceList list = ring->preference_list(tokens[i++ & (kTokens - 1)], kN);
    benchmark::DoNotOptimize(list);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PreferenceList)->ArgName("nodes")->Arg(3)->Arg(16)->Arg(64);

}  // namespace
}  // namespace qkv::bench::micro
