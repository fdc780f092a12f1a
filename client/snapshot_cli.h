// qkvctl's backup command, registered by qkvctl.cc:
//
//   snapshot --node ADDR [--dir PATH]
//       asks the node at ADDR (host:port, its client address; default the first of
//       --cluster) to take a snapshot of its storage into PATH on its own host (absolute,
//       new, inside its [storage] snapshot_dir; without --dir the node names one there) and
//       prints the path, the bytes and the files. The snapshot is a RocksDB checkpoint (hard
//       links, no copy) marked so that a node started from it takes a new incarnation;
//       restore with `qkvd --restore-from PATH` (docs/operations.md, Backup and restore).
//
// Output for people by default; with --json {"node":..,"path":..,"bytes":..,"files":..}.
// Exit codes (client/cli_conventions.h): 0 taken; 1 refused or failed (the node's message
// names the path); 2 usage; 3 the node did not answer.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "client/client.h"

namespace qkv::client {

class SnapshotCli {
 public:
  // Adds `snapshot` to `app`, which must outlive this; CLI11 writes into this object.
  explicit SnapshotCli(CLI::App& app);
  SnapshotCli(const SnapshotCli&) = delete;
  SnapshotCli& operator=(const SnapshotCli&) = delete;

  bool chosen() const { return command_->parsed(); }
  bool names_node() const { return !node_.empty(); }
  // Runs it; `options.nodes` is the --cluster. REQUIRES: chosen().
  int run(Options options, bool json) const;

 private:
  CLI::App* command_ = nullptr;
  std::string node_;
  std::string dir_;
};

}  // namespace qkv::client
