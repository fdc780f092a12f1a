// qkvctl's command-line parsing under its conventions (client/cli_conventions.h): CLI11's
// parse errors become usage errors (exit 2, JSON with --json), never CLI11's own exit
// numbers, and a mistyped command is named with the closest known one.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace qkv::client {

// Parses `args` (argv without the program name) into `app`. nullopt: parsed, run the
// command. Else the exit code to return, after printing: 0 for --help and --version (what
// they print), kExitUsage for any parse error, with a message that names an unknown command
// ("unknown ring command 'stauts'; did you mean 'status'?") or says which command a CLI11
// message is about ("get: KEY is required").
std::optional<int> parse_command_line(CLI::App& app, const std::vector<std::string>& args);

// Subcommands `app` chose, outermost first, space-separated ("ring status"); "" for none.
std::string command_path(const CLI::App& app);

}  // namespace qkv::client
