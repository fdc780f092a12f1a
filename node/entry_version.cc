#include "node/entry_version.h"

#include <algorithm>
#include <cstdint>

namespace qkv::node {
namespace {

// Fixed little-endian whatever the host: versions are compared with peers. Each writes at
// `at` and returns the end (the caller sized the buffer: no capacity check per byte).
char* put_u64(char* at, uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<char>(v >> (8 * i));
  return at + 8;
}

char* put_u32(char* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>(v >> (8 * i));
  return at + 4;
}

// Length-prefixed, so no two different actors encode to the same bytes.
char* put_actor(char* at, const causal::Actor& actor) {
  at = put_u32(at, static_cast<uint32_t>(actor.node.size()));
  at = std::copy(actor.node.begin(), actor.node.end(), at);
  return put_u64(at, actor.incarnation);
}

void append_version(std::string& out, const causal::SiblingSet& state) {
  // u32 entries | entries x (actor | u64 counter) | u32 siblings
  //   | siblings x (actor | u64 counter | u8 tombstone), actor = u32 len | node | u64 inc.
  // Both lists are sorted (VersionVector by actor, SiblingSet by dot), so equal states
  // encode equal. Values are left out: a dot identifies its value.
  const auto& entries = state.version_vector().entries();
  const auto& siblings = state.siblings();
  std::size_t bytes = 4 + 4;
  for (const causal::VersionVector::Entry& e : entries) bytes += 4 + e.actor.node.size() + 8 + 8;
  for (const causal::Sibling& s : siblings) bytes += 4 + s.dot.actor.node.size() + 8 + 8 + 1;
  const std::size_t first = out.size();
  out.resize(first + bytes);
  char* at = out.data() + first;
  at = put_u32(at, static_cast<uint32_t>(entries.size()));
  for (const causal::VersionVector::Entry& e : entries) {
    at = put_actor(at, e.actor);
    at = put_u64(at, e.counter);
  }
  at = put_u32(at, static_cast<uint32_t>(siblings.size()));
  for (const causal::Sibling& s : siblings) {
    at = put_actor(at, s.dot.actor);
    at = put_u64(at, s.dot.counter);
    *at++ = s.tombstone ? 1 : 0;
  }
}

}  // namespace

std::string version_of(const causal::SiblingSet& state) {
  std::string out;
  append_version(out, state);
  return out;
}

antientropy::Hash128 entry_hash(std::string_view key, const causal::SiblingSet& state) {
  thread_local std::string version;  // reused: its capacity stays
  version.clear();
  append_version(version, state);
  return antientropy::entry_hash(key, version);
}

}  // namespace qkv::node
