#include "node/config_checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>
#include <utility>

namespace qkv::node {

std::vector<std::string> config_warnings(const DaemonConfig& config) {
  std::vector<std::string> warnings;
  const NodeConfig& node = config.node;
  if (node.r + node.w <= node.n) {
    warnings.push_back(fmt::format(
        "r={} + w={} <= n={}: a read may miss the latest acknowledged write even with no "
        "failure (read-your-writes needs r + w > n)",
        node.r, node.w, node.n));
  }
  // A node joining by seeds lists no members: its ring comes from the cluster.
  if (!config.members.empty() && config.members.size() < node.n) {
    warnings.push_back(fmt::format(
        "{} cluster member{} configured, fewer than n={}: keys get only {} replica{} until "
        "more nodes join the ring",
        config.members.size(), config.members.size() == 1 ? "" : "s", node.n, config.members.size(),
        config.members.size() == 1 ? "" : "s"));
  }
  // [tls] insecure: say so every start while it matters.
  std::vector<std::pair<std::string, HostPort>> ports = {{"client_listen", config.client_listen},
                                                         {"peer_listen", config.peer_listen}};
  if (config.http_listen) ports.emplace_back("http_listen", *config.http_listen);
  std::vector<std::string> open;
  for (const auto& [key, address] : ports) {
    if (!config.tls.enabled() && !is_loopback_host(address.host)) open.push_back(key);
  }
  if (config.tls.insecure && !open.empty()) {
    warnings.push_back(fmt::format(
        "tls.insecure: {} reachable beyond this machine without TLS; anyone who reaches them "
        "can read, write and change the cluster (docs/security.md){}",
        fmt::join(open, ", "),
        config.auth.enabled() ? ", and users' secrets cross the network in plaintext" : ""));
  }
  return warnings;
}

}  // namespace qkv::node
