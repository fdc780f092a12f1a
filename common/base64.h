// RFC 4648 base64 (standard alphabet), for bytes that travel as text: causal contexts in
// HTTP headers and JSON, values in qkvctl's JSON and the HTTP API's 300 answers.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace qkv {

// Standard alphabet, with '=' padding.
std::string base64_encode(std::string_view bytes);

// Decodes RFC 4648 base64 (standard alphabet). Padding is optional; whitespace is not
// allowed. Errors: invalid_argument naming the offending position when `text` is not base64.
Result<std::string> base64_decode(std::string_view text);

}  // namespace qkv
