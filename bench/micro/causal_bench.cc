// Micro-benchmarks of the key state (causal/): SiblingSet::join, which every replica
// write, read merge, read repair and handoff runs, and SiblingSet::update, the coordinator's
// put. Argument: siblings per state (1: the usual case; 3: one concurrent write per primary).
#include <benchmark/benchmark.h>

#include <optional>
#include <string>

#include "bench/micro/fixtures.h"
#include "causal/sibling_set.h"
#include "causal/state_summary.h"

namespace qkv::bench::micro {
namespace {

// join(a, b): b is a's state after one more write by n1 that superseded n1's sibling only
// (a replica write or read repair bringing a newer state). The result holds b's siblings.
// Bytes: the values the result holds (each is copied once).
void BM_SiblingSetJoin(benchmark::State& state) {
  const int siblings = static_cast<int>(state.range(0));
  const causal::SiblingSet a = three_actor_state(siblings);
  const causal::SiblingSet b = three_actor_state(siblings, kCounter + 1);
  int64_t bytes = 0;
  for (auto _ : state) {
    causal::SiblingSet joined = causal::SiblingSet::join(a, b);
    bytes = value_bytes(joined);
    benchmark::DoNotOptimize(joined);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_SiblingSetJoin)->ArgName("siblings")->Arg(1)->Arg(3);

// join(a, a): replicas in sync (a quorum read merging equal replies).
void BM_SiblingSetJoinEqual(benchmark::State& state) {
  const causal::SiblingSet a = three_actor_state(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    causal::SiblingSet joined = causal::SiblingSet::join(a, a);
    benchmark::DoNotOptimize(joined);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * value_bytes(a));
}
BENCHMARK(BM_SiblingSetJoinEqual)->ArgName("siblings")->Arg(1)->Arg(3);

// A digest read (node/coordinator/get_round.h): the replica's digest from its cached
// summary (StateSummary::digest), and the coordinator's of a state it received (summary,
// value hashes included, then digest).
void BM_StateDigestOfSummary(benchmark::State& state) {
  const causal::StateSummary summary =
      causal::StateSummary::of(three_actor_state(static_cast<int>(state.range(0))));
  for (auto _ : state) benchmark::DoNotOptimize(summary.digest());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StateDigestOfSummary)->ArgName("siblings")->Arg(1)->Arg(3);

void BM_StateDigestOfState(benchmark::State& state) {
  const causal::SiblingSet s = three_actor_state(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(causal::StateSummary::of(s).digest());
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * value_bytes(s));
}
BENCHMARK(BM_StateDigestOfState)->ArgName("siblings")->Arg(1)->Arg(3);

// The coordinator's put: a new kValueBytes value from n1 with a context covering every
// current sibling (the client read before writing), so the result holds one sibling.
// Includes copying the value into the call, as the coordinator hands over the request's.
// Bytes: the value written.
void BM_SiblingSetUpdate(benchmark::State& state) {
  const causal::SiblingSet current = three_actor_state(static_cast<int>(state.range(0)));
  const causal::VersionVector context = current.version_vector();
  const causal::Actor coordinator = actor(0);
  const std::string value = value_of('z');
  for (auto _ : state) {
    causal::SiblingSet next =
        current.update(context, coordinator, std::optional<std::string>(value));
    benchmark::DoNotOptimize(next);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(value.size()));
}
BENCHMARK(BM_SiblingSetUpdate)->ArgName("siblings")->Arg(1)->Arg(3);

// VersionVector::merge of two 3-actor vectors (every join does one).
void BM_VersionVectorMerge(benchmark::State& state) {
  const causal::VersionVector a = three_actor_state(1).version_vector();
  const causal::VersionVector b = three_actor_state(1, kCounter + 1).version_vector();
  for (auto _ : state) {
    causal::VersionVector merged = causal::VersionVector::merge(a, b);
    benchmark::DoNotOptimize(merged);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VersionVectorMerge);

}  // namespace
}  // namespace qkv::bench::micro
