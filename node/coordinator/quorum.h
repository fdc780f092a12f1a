// Quorum parameters of one request (Dynamo §4.5): N replicas, R replies for a read,
// W acknowledgements for a write. R + W > N on primaries gives read-your-writes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/status.h"

namespace qkv::coordinator {

enum class Outcome {
  kPending,    // waiting for more replies
  kSucceeded,  // the quorum is met: answer the client now
  kFailed,     // the quorum can no longer be met (or the deadline passed): answer with status
};

// Whom a read asks first: every primary (Dynamo, Riak), or only as many as it needs,
// max(R, PR), the others asked only if one of those fails or is slow (Cassandra's reads
// with speculative retry). node/coordinator/get_round.h has the details.
enum class Fanout { kAll, kQuorum };

// Resolves a per-request r or w (0 = the configured default) and checks 1 <= value <= n.
// Errors: invalid_argument naming the parameter ("w=4 exceeds n=3").
Result<uint32_t> resolve_quorum(const char* name, uint32_t requested, uint32_t default_value,
                                uint32_t n);

// Checks a get's pr (primaries required, Riak's PR; 0 = none) against n.
// Errors: invalid_argument naming the limit ("pr=4 exceeds n=3").
Status check_primaries_required(uint32_t pr, uint32_t n);

// Unavailable when `quorum` exceeds the `replicas` the key has (only in a cluster with
// fewer members than n: no amount of waiting meets the quorum); ok otherwise.
// `kind` is "read" or "write", `name` "R", "PR" or "W".
Status check_replica_count(const char* kind, const char* name, uint32_t quorum,
                           std::size_t replicas);

}  // namespace qkv::coordinator
