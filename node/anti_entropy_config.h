// Settings of active anti-entropy (node/anti_entropy.h; qkvd's [anti_entropy] section).
#pragma once

#include <cstdint>

#include "common/clock.h"
#include "common/status.h"

namespace qkv::node {

struct AntiEntropyConfig {
  // Off (Riak's `anti_entropy = off`): no trees are kept, no exchanges run, repair
  // requests are refused and exchanges from peers are answered unavailable.
  bool enabled = true;
  uint32_t segments = 1024;                            // leaves per tree, a power of two
  Duration exchange_interval{4 * 60 * 1000};           // per partition (jittered +-25 %)
  Duration rebuild_interval{7 * 24 * 3600'000};        // weekly, as Riak
  uint32_t concurrent_exchanges_max = 2;               // exchanges this node started, at once
  uint64_t bytes_per_second_max = uint64_t{10} << 20;  // what it sends for them
  Duration exchange_timeout{30'000};                   // per step
  uint32_t segments_per_request = 64;                  // segments asked for at once
  uint32_t keys_per_request = 256;                     // keys fetched at once
  uint64_t reply_bytes_max = uint64_t{4} << 20;        // a reply stops adding entries past it

  // Ok, or invalid_argument naming the bad setting.
  Status validate() const;
};

}  // namespace qkv::node
