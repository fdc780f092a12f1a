// TransferConfig::validate, apart from the transfer driver so that the config parser
// (node/daemon_config.cc) links without it (tests/fuzz builds the parser alone).
#include "node/transfer_config.h"

#include <fmt/format.h>

namespace qkv::node {

Status TransferConfig::validate() const {
  if (concurrent_max == 0) return Status::invalid_argument("transfer.concurrent_max must be >= 1");
  if (bytes_per_second_max == 0) {
    return Status::invalid_argument("transfer.bytes_per_second_max must be >= 1");
  }
  if (batch_bytes_max == 0 || batch_bytes_max > kTransferBatchBytesCap) {
    return Status::invalid_argument(
        fmt::format("transfer.batch_bytes_max is {}; it must be in [1, {}]", batch_bytes_max,
                    kTransferBatchBytesCap));
  }
  if (request_timeout.count() <= 0) {
    return Status::invalid_argument("transfer.request_timeout_ms must be > 0");
  }
  if (retry_interval.count() <= 0) {
    return Status::invalid_argument("transfer.retry_interval_ms must be > 0");
  }
  return Status::ok();
}

}  // namespace qkv::node
