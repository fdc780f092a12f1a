#include "node/entry_version.h"

#include <cstdint>

namespace qkv::node {
namespace {

// Fixed little-endian whatever the host: versions are compared with peers.
void append_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void append_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// Length-prefixed, so no two different actors encode to the same bytes.
void append_actor(std::string& out, const causal::Actor& actor) {
  append_u32(out, static_cast<uint32_t>(actor.node.size()));
  out.append(actor.node);
  append_u64(out, actor.incarnation);
}

void append_version(std::string& out, const causal::SiblingSet& state) {
  // u32 entries | entries x (actor | u64 counter) | u32 siblings
  //   | siblings x (actor | u64 counter | u8 tombstone), actor = u32 len | node | u64 inc.
  // Both lists are sorted (VersionVector by actor, SiblingSet by dot), so equal states
  // encode equal. Values are left out: a dot identifies its value.
  const auto& entries = state.version_vector().entries();
  const auto& siblings = state.siblings();
  out.reserve(out.size() + 8 + (entries.size() + siblings.size()) * 32);
  append_u32(out, static_cast<uint32_t>(entries.size()));
  for (const causal::VersionVector::Entry& e : entries) {
    append_actor(out, e.actor);
    append_u64(out, e.counter);
  }
  append_u32(out, static_cast<uint32_t>(siblings.size()));
  for (const causal::Sibling& s : siblings) {
    append_actor(out, s.dot.actor);
    append_u64(out, s.dot.counter);
    out.push_back(s.tombstone ? 1 : 0);
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
