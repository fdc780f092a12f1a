// qkvctl's conventions, shared by its command files (qkvctl.cc, data_cli.cc,
// ring_admin_cli.cc): one exit-code table, usage errors (as JSON too), and the "did you
// mean" suggestion for a mistyped command. Kept apart from CLI11 (client/cli_parse.h maps
// CLI11's parse errors onto these) so they are unit-tested.
//
// Thread-safety: pure functions, except the printing ones (stdout/stderr).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qkv::client {

// qkvctl's exit codes, the same for every command and every parser path (CLI11's own
// numbers never leak). Scripts depend on them: do not renumber. `qkvctl --help` prints
// them (exit_codes_help) and docs/operations.md lists them.
inline constexpr int kExitOk = 0;
// The operation failed: a node answered with an error (quorum not met, a limit, a refused
// ring change), a node of `status` is down, verify found a bad key, a repair partition
// failed, `node leave` refused without --force.
inline constexpr int kExitFailed = 1;
// The command line is wrong: an unknown command or option, a bad or missing value, a bad
// --cluster address. Nothing was sent.
inline constexpr int kExitUsage = 2;
// No node of --cluster answered (refused, unresolvable, or silent past --timeout-ms).
inline constexpr int kExitUnreachable = 3;
// Gave up waiting: --timeout-s passed before the work finished (ring status --wait,
// repair); the work itself goes on in the cluster.
inline constexpr int kExitTimedOut = 4;

// The table above as the footer of `qkvctl --help`, with QKV_CLUSTER.
std::string exit_codes_help();

// The exit code of a command whose request failed with `status` (not ok):
// kExitUnreachable when no node answered (`answered` false, e.g. Client::any_answered())
// and the failure is a connection's (unavailable or timeout); kExitFailed otherwise (a
// node's answer, or a check made before sending, such as a key over its limit).
int failure_exit_code(const Status& status, bool answered);

// Prints `status` as a command's failure (json_output.h print_failure) and returns
// failure_exit_code(status, answered).
int print_request_failure(bool as_json, const Status& status, bool answered);

// Prints a usage error and returns kExitUsage: with --json, {"error":{"code":"usage",
// "message":...}} on stdout (the shape of every --json failure); else "error: <message>" and
// then `hint` (when not empty) on stderr.
int print_usage_error(bool as_json, std::string_view message, std::string_view hint = {});

// Whether "--json" is among `args` before any "--": for errors found while parsing, when
// the parsed flag cannot be trusted yet.
bool json_requested(const std::vector<std::string>& args);

// The optimal string alignment distance: insertions, deletions, substitutions and swaps of
// two adjacent characters each cost 1 ("stauts" -> "status" is 1, "gte" -> "get" is 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate `word` is most likely a typo of: the closest by edit_distance when within
// 1 (words of up to 4 characters), 2 (up to 8) or 3 (longer), else the only candidate that
// starts with a `word` of 3 characters or more ("del" -> "delete"); the first of equals in
// `candidates` order. nullopt when none fits, or `word` is itself a candidate.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

// "unknown command 'stauts'; did you mean 'status'?" (`context` "" for qkvctl's own
// commands, else e.g. "ring " for `qkvctl ring stauts`), or "unknown command 'x'; commands
// are get, put, ..." when nothing is close.
std::string unknown_command_message(std::string_view context, std::string_view word,
                                    const std::vector<std::string>& candidates);

}  // namespace qkv::client
