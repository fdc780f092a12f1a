#include "node/config_checks.h"

#include <fmt/format.h>

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
  return warnings;
}

}  // namespace qkv::node
