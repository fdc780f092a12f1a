// qkvd's warnings about a valid config: settings that start a node but lose a guarantee
// (design.md §6). They are logged at start (event=config_warning) and printed by
// `qkvd --check-config`; errors stay DaemonConfig::validate()'s.
//
//   R + W <= N          reads may miss the latest acknowledged write, even with no failure
//                       (read-your-writes needs R + W > N, Dynamo §4.5);
//   members < N         the configured initial members are fewer than N: keys get fewer
//                       than N replicas until more nodes join the ring;
//   tls.insecure        a port listens beyond loopback without TLS.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "node/daemon_config.h"

namespace qkv::node {

// One line per warning (none for a config without those risks), in the order above, each
// naming the settings and what is lost.
std::vector<std::string> config_warnings(const DaemonConfig& config);

}  // namespace qkv::node
