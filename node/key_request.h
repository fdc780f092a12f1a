// KeyRequest: a client's get, put or delete, parsed and checked once: its key and token,
// the quorum resolved against the node's defaults, the decoded causal context, and, once
// located on a ring, the preference list and the deadline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "causal/version_vector.h"
#include "common/clock.h"
#include "common/status.h"
#include "node/node_config.h"
#include "proto/client_api.h"
#include "ring/preference_list.h"
#include "ring/ring.h"

namespace qkv::node {

struct KeyRequest {
  enum class Kind { kGet, kPut, kDelete };

  proto::ClientRequest request;  // as received: what a forward sends on
  Kind kind = Kind::kGet;
  ring::Token token = 0;
  uint32_t quorum = 0;  // r for a get, w for a write (1..n)
  uint32_t pr = 0;      // a get's primaries required (Riak's PR, 0..n)
  // Whom a get asks first: the request's fanout, else the node's read_fanout.
  coordinator::Fanout fanout = coordinator::Fanout::kAll;
  causal::VersionVector context;  // a write's causal context (empty: a blind write)
  bool primaries_only = false;    // a write no stand-in may count for (PW)
  int64_t ttl_ms = 0;             // a put's time to live (0: never expires)
  bool local = false;             // a get of this node's copy alone, no quorum
  // A write's condition (node/conditional_write.h); kNone for a get.
  proto::WriteCondition condition = proto::WriteCondition::kNone;
  // Set by locate():
  ring::PreferenceList list;
  TimePoint deadline{};

  bool is_write() const { return kind != Kind::kGet; }
  const std::string& key() const;
  // A put's value, moved out (the request keeps an empty one); nullopt for a delete (a
  // tombstone) and a get.
  std::optional<std::string> take_value();

  // Computes the key's preference list on `ring` and the deadline: the request's timeout
  // (0: the configured default), at most request_timeout_max.
  void locate(const ring::Ring& ring, const NodeConfig& config, TimePoint now);
};

// True if `request` is a get, put or delete.
bool is_key_request(const proto::ClientRequest& request);

// Checks a get, put or delete against the limits and the quorum range and decodes its
// context. Errors: invalid_argument naming the limit ("key of 70000 bytes exceeds
// key_bytes_max=65536"), the quorum ("w=4 exceeds n=3", "pr=4 exceeds n=3"), a malformed
// context, or a delete-if-absent ("if-absent applies to puts only").
// REQUIRES: is_key_request(request).
Result<KeyRequest> parse_key_request(proto::ClientRequest request, const NodeConfig& config);

}  // namespace qkv::node
