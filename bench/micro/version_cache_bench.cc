// node::VersionCache (node/version_cache.h) as a loaded node uses it: 100,000 keys named as
// qkv-bench names them (key_name), so the table is larger than the CPU cache and each operation
// pays its memory misses. Find: a key held, in random order (a replica write's or digest read's
// lookup). Update: a put of a key held (every commit). Evicting put: a new key into a full
// budget, so each put also evicts one entry.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/key_chooser.h"
#include "bench/micro/fixtures.h"
#include "causal/state_summary.h"
#include "node/version_cache.h"

namespace qkv::bench::micro {
namespace {

constexpr int kKeys = 100'000;

std::vector<std::string> keys(int count, int first = 0) {
  std::vector<std::string> out;
  out.reserve(count);
  for (int i = first; i < first + count; ++i) out.push_back(key_name(i));
  return out;
}

node::VersionCache::Entry entry() {
  return {causal::StateSummary::of(three_actor_state(1)), std::nullopt};
}

// A cache holding kKeys keys, and their names in a random order.
struct Loaded {
  node::VersionCache cache{std::size_t{1} << 30};
  std::vector<std::string> order = keys(kKeys);
  Loaded() {
    for (const std::string& k : order) cache.put(k, entry());
    std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
  }
};

void BM_VersionCacheFind(benchmark::State& state) {
  Loaded loaded;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(loaded.cache.find(loaded.order[i]));
    if (++i == loaded.order.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  // What the budget charges a key of the benchmark (one sibling, three actors).
  state.counters["bytes_per_key"] =
      static_cast<double>(loaded.cache.bytes()) / static_cast<double>(loaded.cache.size());
}
BENCHMARK(BM_VersionCacheFind);

void BM_VersionCacheUpdate(benchmark::State& state) {
  Loaded loaded;
  const node::VersionCache::Entry e = entry();
  std::size_t i = 0;
  for (auto _ : state) {
    loaded.cache.put(loaded.order[i], e);
    if (++i == loaded.order.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VersionCacheUpdate);

// A budget that holds about `count` entries.
std::size_t budget_for(int count) {
  node::VersionCache probe(std::size_t{1} << 30);
  for (const std::string& k : keys(1000)) probe.put(k, entry());
  return probe.bytes() / 1000 * count;
}

void BM_VersionCacheEvictingPut(benchmark::State& state) {
  // The load fills the budget, then every put evicts.
  node::VersionCache cache(budget_for(kKeys));
  for (const std::string& k : keys(kKeys)) cache.put(k, entry());
  const std::vector<std::string> fresh = keys(kKeys, kKeys);
  const node::VersionCache::Entry e = entry();
  std::size_t i = 0;
  for (auto _ : state) {
    cache.put(fresh[i], e);
    if (++i == fresh.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VersionCacheEvictingPut);

}  // namespace
}  // namespace qkv::bench::micro
