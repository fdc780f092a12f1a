// Secrets of named users (docs/security.md, node/access_control.h), kept only as salted
// scrypt hashes (Percival 2009; RFC 7914) through OpenSSL 3, in one text form that the users
// file stores and `qkvctl user hash` prints:
//
//   scrypt:<log2 N>:<r>:<p>:<salt, base64>:<derived key, base64>
//
// The cost travels with the hash, so raising it later leaves older hashes valid. The
// default (N = 2^14, r = 8, p = 1: 16 MiB and tens of ms per check) is RFC 7914's
// interactive-login figure; qkvd caches a checked secret per user (node/access_control.h),
// so a client pays it once per node, not once per connection.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace qkv::net {

struct ScryptCost {
  uint8_t log2_n = 14;  // CPU/memory cost N = 2^log2_n; 10..20
  uint32_t r = 8;       // block size; 1..32
  uint32_t p = 1;       // parallelism; 1..16
};

// Hashes `secret` with a fresh random 16-byte salt. Errors: invalid_argument for an empty
// secret or a cost out of range; io_error if OpenSSL fails (its reason in the message).
Result<std::string> hash_secret(std::string_view secret, ScryptCost cost = {});

// Ok when `secret` is the one `hash` was made from (compared in constant time);
// unauthenticated when it is not; invalid_argument when `hash` is not in the form above
// (the message says which part). Costs one scrypt run.
Status verify_secret(std::string_view secret, std::string_view hash);

// Ok when `hash` has the form above with a cost in range (no scrypt run): what loading a
// users file checks.
Status check_secret_hash(std::string_view hash);

// The user and secret of an HTTP Basic `Authorization` header value ("Basic
// base64(user:secret)", RFC 7617). Errors: unauthenticated naming what is wrong.
Result<std::pair<std::string, std::string>> parse_basic_authorization(std::string_view header);

// SHA-256 of `hash` and `secret`: what a cache of secrets that passed verify_secret keeps
// instead of the secret (node/access_control.h).
std::string secret_digest(std::string_view secret, std::string_view hash);

}  // namespace qkv::net
