// Inputs shared by the micro-benchmarks (bench/README.md): realistic key, value and
// key-state shapes, built once outside the timed loops.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/key_chooser.h"  // key_name(i): qkv-bench's 14-byte keys
#include "causal/sibling_set.h"

namespace qkv::bench::micro {

inline constexpr std::size_t kValueBytes = 1000;  // qkv-bench's default value size
inline constexpr uint64_t kCounter = 1000;        // a key written about a thousand times

inline std::string value_of(char fill) {
  return std::string(kValueBytes, fill);
}

// Node i's id, from 0: "n1", "n2", ...
inline NodeId node_name(int64_t i) {
  NodeId name = "n";  // appended, not "n" + ...: GCC 12 warns falsely on that (PR 105329)
  name += std::to_string(i + 1);
  return name;
}

// The three primaries of a key (N=3), each in its first incarnation.
inline causal::Actor actor(int i) {
  return causal::Actor{node_name(i), 1};
}

// A key written through all three primaries: the version vector has all three actors at
// kCounter (n1 at `n1_counter`), and the first `siblings` actors (1..3) each hold one
// concurrent sibling of kValueBytes, dotted at their counter.
inline causal::SiblingSet three_actor_state(int siblings, uint64_t n1_counter = kCounter) {
  std::vector<causal::VersionVector::Entry> entries;
  std::vector<causal::Sibling> values;
  for (int i = 0; i < 3; ++i) {
    uint64_t counter = i == 0 ? n1_counter : kCounter;
    entries.push_back({actor(i), counter});
    if (i < siblings) {
      values.push_back(
          {causal::Dot{actor(i), counter}, false, value_of(static_cast<char>('a' + i))});
    }
  }
  return causal::SiblingSet(causal::VersionVector(std::move(entries)), std::move(values));
}

// Bytes of the live values of `state`.
inline int64_t value_bytes(const causal::SiblingSet& state) {
  int64_t bytes = 0;
  for (const auto& sibling : state.siblings()) bytes += static_cast<int64_t>(sibling.value.size());
  return bytes;
}

}  // namespace qkv::bench::micro
