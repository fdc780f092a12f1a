#include "client/cli_conventions.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "client/json_output.h"

namespace qkv::client {

std::string exit_codes_help() {
  return fmt::format(
      "Environment:\n"
      "  QKV_CLUSTER   the default of --cluster (host:port,host:port,...)\n"
      "  QKV_CA, QKV_CERT, QKV_KEY   the defaults of --ca, --cert, --key (TLS)\n"
      "  QKV_USER      the default of --user\n"
      "  QKV_SECRET    --user's secret (unless --secret-file)\n"
      "\n"
      "Exit codes:\n"
      "  {}  ok\n"
      "  {}  the operation failed: a node answered with an error, a node of `status` is\n"
      "     down, verify found a bad key, `node leave`/`remove` refused without --force\n"
      "  {}  usage error: unknown command or option, bad value, bad --cluster address\n"
      "  {}  cluster unreachable: no node of --cluster answered\n"
      "  {}  timed out waiting (--timeout-s of `ring status --wait` and `repair`)\n"
      "With --json, a failure prints {{\"error\":{{\"code\":...,\"message\":...}}}} on\n"
      "stdout (code \"usage\" for exit {}).\n",
      kExitOk, kExitFailed, kExitUsage, kExitUnreachable, kExitTimedOut, kExitUsage);
}

int failure_exit_code(const Status& status, bool answered) {
  const bool connection_failure =
      status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kTimeout;
  return !answered && connection_failure ? kExitUnreachable : kExitFailed;
}

int print_request_failure(bool as_json, const Status& status, bool answered) {
  return print_failure(as_json, status, failure_exit_code(status, answered));
}

int print_usage_error(bool as_json, std::string_view message, std::string_view hint) {
  if (as_json) {
    print_json({{"error", {{"code", "usage"}, {"message", std::string(message)}}}});
  } else {
    std::cerr << "error: " << message << "\n";
    if (!hint.empty()) std::cerr << hint << "\n";
  }
  return kExitUsage;
}

bool json_requested(const std::vector<std::string>& args) {
  for (const auto& arg : args) {
    if (arg == "--") return false;
    if (arg == "--json") return true;
  }
  return false;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // d[i][j]: the distance between a's first i characters and b's first j.
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
  if (word.empty() || std::find(candidates.begin(), candidates.end(), word) != candidates.end()) {
    return std::nullopt;
  }
  const std::size_t within = word.size() <= 4 ? 1 : word.size() <= 8 ? 2 : 3;
  const std::string* best = nullptr;
  std::size_t best_distance = within + 1;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  if (best != nullptr) return *best;
  if (word.size() < 3) return std::nullopt;
  const std::string* prefixed = nullptr;
  for (const auto& candidate : candidates) {
    if (!candidate.starts_with(word)) continue;
    if (prefixed != nullptr) return std::nullopt;  // ambiguous
    prefixed = &candidate;
  }
  if (prefixed == nullptr) return std::nullopt;
  return *prefixed;
}

std::string unknown_command_message(std::string_view context, std::string_view word,
                                    const std::vector<std::string>& candidates) {
  std::string message = fmt::format("unknown {}command '{}'", context, word);
  if (auto match = closest_match(word, candidates)) {
    return message + fmt::format("; did you mean '{}'?", *match);
  }
  return message + fmt::format("; commands are {}", fmt::join(candidates, ", "));
}

}  // namespace qkv::client
