// What the node core needs to know (qkvd's full config is node/daemon_config.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/limits.h"
#include "common/node_id.h"
#include "common/status.h"
#include "common/version.h"
#include "node/anti_entropy_config.h"
#include "node/coordinator/quorum.h"
#include "node/transfer_config.h"

namespace qkv::node {

// Tombstone reaping (node/reaper.h; [tombstones] in qkvd.toml).
struct TombstoneConfig {
  bool reap = true;  // false: tombstones are kept forever (as before reaping existed)
  // How long a key must have held only tombstones on its first primary before it is
  // reaped. Must exceed every way an older state can still arrive: a hint's life
  // (handoff.hint_age_max_ms) plus a request's (timeouts.request_timeout_max_ms) plus the
  // clock skew (checked in node/config_checks.h). Cassandra's gc_grace_seconds.
  Duration grace{24 * 3600 * 1000};
  uint32_t checks_per_second_max = 1000;  // reap checks started per second
  uint32_t checks_in_flight_max = 64;     // reap checks waiting for the other primaries
  Duration check_timeout{5000};           // a check unanswered this long is deferred
  Duration retry_interval{60 * 1000};     // a deferred tombstone is checked again after this
  // Tombstones queued for their grace (about 200 bytes plus twice the key each); past it,
  // new ones wait for the sweep.
  std::size_t pending_max = 500'000;
  // The sweep: every sweep_interval, one partition this node is the first primary of is
  // scanned for tombstones not queued (after a restart, or past pending_max). 0: no sweep.
  Duration sweep_interval{60 * 1000};

  // Ok, or invalid_argument naming the bad setting. `in_flight_max`: the longest a request
  // can live (request_timeout_max + clock_skew_max); the grace must exceed it. The hint
  // lifetime is checked where it is known (node/config_checks.h).
  Status validate(Duration in_flight_max) const;
};

struct NodeConfig {
  NodeId node_id;
  uint32_t n = 3;  // replicas per key (the preference list's primaries)
  uint32_t r = 2;  // default read quorum; per request 1..n
  uint32_t w = 2;  // default write quorum; per request 1..n
  // Whom a get asks first unless the request says (node/coordinator/get_round.h): every
  // primary (kAll, Dynamo's and Riak's reads, the default) or max(r, pr) of them (kQuorum,
  // Cassandra's: a request and an answer less per primary not asked; read repair then
  // covers only the primaries asked). [cluster] read_fanout = "all" | "quorum".
  coordinator::Fanout read_fanout = coordinator::Fanout::kAll;
  Duration request_timeout{2000};       // default deadline of a client request
  Duration request_timeout_max{60000};  // the largest deadline a client may ask for
  // How far apart the nodes' wall clocks may be (NTP keeps them within milliseconds). A
  // forwarded request that arrives more than this past its sender's deadline is dropped.
  Duration clock_skew_max{1000};
  // The put coordinator's stand-in alarm (node/coordinator/put_coordinator.h) is twice the
  // slowest replica's recent p99, but never earlier than this (nor later than half the
  // request's deadline).
  Duration stand_in_alarm_min{50};
  Limits limits;
  // The version cache's budget (node/version_cache.h), bytes; 0 turns it off. About 340
  // bytes a key with one actor: 32 MiB keeps the last ~100,000 keys written.
  std::size_t version_cache_bytes = std::size_t{32} << 20;
  std::string version{kVersion};  // the release (common/version.h), in status answers
  // [storage] snapshot_dir: the only directory qkvctl snapshot may write under (absolute);
  // empty: snapshots are refused (qkvd sets it, default <data_dir>/../snapshots).
  std::string snapshot_dir;
  // Grows at every start (node/incarnation.h next_generation): request ids start from it,
  // so ids of a restarted node never repeat those of its previous run.
  uint64_t generation = 0;
  AntiEntropyConfig anti_entropy;
  TransferConfig transfer;
  TombstoneConfig tombstones;

  // Ok, or invalid_argument naming the bad setting.
  Status validate() const;
};

}  // namespace qkv::node
