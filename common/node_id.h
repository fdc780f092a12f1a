// NodeId: the stable name of a node ("n1", "qkv-0"), from its config.
// Rules: 1..64 bytes of [A-Za-z0-9._-]. It names the node in the ring, in messages
// and (with an incarnation) in every dot the node coordinates.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace qkv {

using NodeId = std::string;

inline constexpr std::size_t kNodeIdBytesMax = 64;

// Ok, or invalid_argument naming the rule that `id` breaks.
Status validate_node_id(std::string_view id);

}  // namespace qkv
