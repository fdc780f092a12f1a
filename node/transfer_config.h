// Settings of ownership transfer (node/transfer.h; qkvd's [transfer] section).
#pragma once

#include <cstdint>

#include "common/clock.h"
#include "common/status.h"

namespace qkv::node {

// A batch never asks for more than this, whatever the receiver's setting: replies stay
// far below the frame limit (32 MiB by default).
inline constexpr uint32_t kTransferBatchBytesCap = 8u << 20;

struct TransferConfig {
  uint32_t concurrent_max = 2;  // ranges this node pulls at once; >= 1
  // Key and value bytes it pulls per second (version vectors and framing not counted); >= 1.
  uint64_t bytes_per_second_max = uint64_t{32} << 20;
  uint32_t batch_bytes_max = 1u << 20;  // one batch's states stop past it; >= 1
  Duration request_timeout{10'000};     // a silent source is given up; > 0
  Duration retry_interval{1000};        // before asking a failed range again

  // Ok, or invalid_argument naming the bad setting.
  Status validate() const;
};

}  // namespace qkv::node
