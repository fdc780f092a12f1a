#include "client/snapshot_cli.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>

#include "client/cli_conventions.h"
#include "client/json_output.h"
#include "common/host_port.h"

namespace qkv::client {

SnapshotCli::SnapshotCli(CLI::App& app) {
  command_ = app.add_subcommand("snapshot",
                                "take a snapshot (backup) of one node's storage into a directory "
                                "on that node's host")
                 ->fallthrough();
  command_->add_option("--node", node_,
                       "the node's client address host:port (default: the first of --cluster)");
  command_->add_option("--dir", dir_,
                       "absolute, new directory on the node's host, inside its [storage] "
                       "snapshot_dir (default: the node names one there)");
}

int SnapshotCli::run(Options options, bool json) const {
  if (!node_.empty()) {
    auto parsed = parse_host_port(node_, "--node");
    if (!parsed) return print_usage_error(json, parsed.status().message());
    options.nodes = {node_};
  }
  if (options.nodes.empty()) return print_usage_error(json, "snapshot needs --node or --cluster");
  const std::string node = options.nodes.front();
  Client client(options);
  auto taken = client.snapshot(0, dir_);
  if (!taken.is_ok()) return print_request_failure(json, taken.status(), client.any_answered());
  if (json) {
    print_json(nlohmann::json{
        {"node", node}, {"path", taken->path}, {"bytes", taken->bytes}, {"files", taken->files}});
  } else {
    std::cout << fmt::format("snapshot of {} in {}: {} bytes in {} files\n", node, taken->path,
                             taken->bytes, taken->files);
  }
  return kExitOk;
}

}  // namespace qkv::client
