// qkvctl's data commands, registered by qkvctl.cc:
//
//   get KEY [--r R] [--pr PR] [--fanout all|quorum] [--local]  siblings, context, who answered
//   put KEY [VALUE | --value-file F] [--context BASE64] [--w W] [--sloppy B] [--ttl S]
//       [--if-absent | --if-unchanged]                  prints the written context
//   delete KEY [--context BASE64] [--w W] [--sloppy B] [--if-unchanged]  a tombstone
//   load   (--lines F | --stanzas F) [--concurrency N]  write the dev dataset (client/bulk.h)
//   verify (--lines F | --stanzas F) [--concurrency N]  read it back and compare
//
// Output is for people by default and JSON with --json (shapes: client/json_output.h).
// Exit codes (client/cli_conventions.h): 0 success; 1 a request failed, or verify found a
// bad key; 2 a usage error found after parsing (put without a value, no dataset).
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>

#include "client/client.h"

namespace qkv::client {

class DataCli {
 public:
  // The parsed arguments (CLI11 writes them).
  struct KeyArgs {
    std::string key, value, value_file, context_base64;
    int quorum = 0;      // r or w
    int pr = 0;          // get: primaries required
    std::string fanout;  // get: "all", "quorum" or empty (the node's default)
    bool local = false;
    bool sloppy = true;
    uint32_t ttl_seconds = 0;   // put: time to live
    bool if_absent = false;     // put: WriteCondition::kIfAbsent
    bool if_unchanged = false;  // put, delete: WriteCondition::kIfUnchanged
  };
  struct DatasetArgs {
    std::string lines, stanzas;
    std::size_t concurrency = 8;
  };

  // Adds the commands above to `app`, which must outlive this; CLI11 writes the parsed
  // arguments into this object, so it does not move.
  explicit DataCli(CLI::App& app);
  DataCli(const DataCli&) = delete;
  DataCli& operator=(const DataCli&) = delete;

  // After parsing: whether the command line chose one of these commands.
  bool chosen() const;

  // Runs the chosen command against `options.nodes` (the --cluster); returns the exit code.
  // REQUIRES: chosen().
  int run(const Options& options, bool json) const;

 private:
  CLI::App* get_ = nullptr;
  CLI::App* put_ = nullptr;
  CLI::App* del_ = nullptr;
  CLI::App* load_ = nullptr;
  CLI::App* verify_ = nullptr;
  KeyArgs key_;
  DatasetArgs dataset_;
};

}  // namespace qkv::client
