// AntiEntropyConfig::validate, apart from the anti-entropy driver so that the config parser
// (node/daemon_config.cc) links without it (tests/fuzz builds the parser alone).
#include "node/anti_entropy_config.h"

#include <fmt/format.h>

#include "antientropy/merkle_tree.h"

namespace qkv::node {

using antientropy::MerkleTree;

Status AntiEntropyConfig::validate() const {
  if (segments == 0 || segments > MerkleTree::kSegmentsMax || (segments & (segments - 1)) != 0) {
    return Status::invalid_argument(
        fmt::format("anti_entropy.segments is {}; it must be a power of two in [1, {}]", segments,
                    MerkleTree::kSegmentsMax));
  }
  if (exchange_interval.count() <= 0) {
    return Status::invalid_argument("anti_entropy.exchange_interval_ms must be > 0");
  }
  if (rebuild_interval.count() <= 0) {
    return Status::invalid_argument("anti_entropy.rebuild_interval_ms must be > 0");
  }
  if (concurrent_exchanges_max == 0) {
    return Status::invalid_argument("anti_entropy.concurrent_exchanges_max must be >= 1");
  }
  if (bytes_per_second_max < 4096) {
    return Status::invalid_argument(fmt::format(
        "anti_entropy.bytes_per_second_max is {}; it must be >= 4096", bytes_per_second_max));
  }
  if (exchange_timeout.count() <= 0) {
    return Status::invalid_argument("anti_entropy.exchange_timeout_ms must be > 0");
  }
  if (segments_per_request == 0 || keys_per_request == 0 || reply_bytes_max == 0) {
    return Status::invalid_argument(
        "anti_entropy.segments_per_request, keys_per_request and reply_bytes_max must be > 0");
  }
  return Status::ok();
}

}  // namespace qkv::node
