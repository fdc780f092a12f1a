// Helpers shared by the causal tests: short actor names and the structural invariant
// every VersionVector and SiblingSet must keep.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "causal/sibling_set.h"
#include "causal/version_vector.h"

namespace qkv::causal::testing {

inline Actor actor(const std::string& node, uint64_t incarnation = 0) {
  return Actor{node, incarnation};
}

inline Dot dot(const std::string& node, uint64_t counter, uint64_t incarnation = 0) {
  return Dot{actor(node, incarnation), counter};
}

// Entries strictly sorted by actor with counters > 0 (so equal vectors compare equal).
inline ::testing::AssertionResult vv_well_formed(const VersionVector& vv) {
  const auto& e = vv.entries();
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (e[i].counter == 0) return ::testing::AssertionFailure() << "zero counter at " << i;
    if (i > 0 && !(e[i - 1].actor < e[i].actor)) {
      return ::testing::AssertionFailure() << "actors not strictly sorted at " << i;
    }
  }
  return ::testing::AssertionSuccess();
}

// Every sibling's dot covered by the vector; dots distinct and sorted.
inline ::testing::AssertionResult well_formed(const SiblingSet& s) {
  if (auto vv = vv_well_formed(s.version_vector()); !vv) return vv;
  const auto& sib = s.siblings();
  for (std::size_t i = 0; i < sib.size(); ++i) {
    if (!s.version_vector().covers(sib[i].dot)) {
      return ::testing::AssertionFailure() << "sibling " << i << " not covered by the vector";
    }
    if (i > 0 && !(sib[i - 1].dot < sib[i].dot)) {
      return ::testing::AssertionFailure() << "sibling dots not strictly sorted at " << i;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace qkv::causal::testing

namespace qkv::causal {

// Readable gtest failure messages: "{n1/0:2, n2/0:1}", "[n1/0:1=a, n2/0:1=<tombstone>]".
inline void PrintTo(const Actor& a, std::ostream* os) {
  *os << a.node << "/" << a.incarnation;
}
inline void PrintTo(const Dot& d, std::ostream* os) {
  PrintTo(d.actor, os);
  *os << ":" << d.counter;
}
inline void PrintTo(const VersionVector& vv, std::ostream* os) {
  *os << "{";
  for (std::size_t i = 0; i < vv.entries().size(); ++i) {
    *os << (i ? ", " : "");
    PrintTo(Dot{vv.entries()[i].actor, vv.entries()[i].counter}, os);
  }
  *os << "}";
}
inline void PrintTo(const Sibling& s, std::ostream* os) {
  PrintTo(s.dot, os);
  *os << "=" << (s.tombstone ? "<tombstone>" : s.value);
}
inline void PrintTo(const SiblingSet& s, std::ostream* os) {
  PrintTo(s.version_vector(), os);
  *os << " [";
  for (std::size_t i = 0; i < s.siblings().size(); ++i) {
    *os << (i ? ", " : "");
    PrintTo(s.siblings()[i], os);
  }
  *os << "]";
}

}  // namespace qkv::causal
