// Child processes for the fault suite: bounded runs of iproute2 and nft, and qkvd started in
// the background. fork() is followed by exec at once (async-signal-safe calls only in the
// child), so both are safe to call from any thread of the harness.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace qkv::faults {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or at the deadline
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved

  bool ok() const { return exit_code == 0; }
};

// Runs argv (argv[0] an absolute path) with `input` on its stdin, and waits for it at most
// `deadline`: past it the child is SIGKILLed and timed_out is set.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds deadline,
                          const std::string& input = {});

// Starts argv (argv[0] an absolute path) with stdout and stderr appended to `log`, in a new
// process group. Returns its pid; throws std::runtime_error when fork fails.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log);

// Waits for `pid` to exit, at most `deadline`: its raw wait status, or nullopt if it still
// runs at the deadline (it is then left running).
std::optional<int> reap(pid_t pid, std::chrono::milliseconds deadline);

// The absolute path of `program` in the usual system directories, or "" when absent.
std::string find_program(const std::string& program);

}  // namespace qkv::faults
