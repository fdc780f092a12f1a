// CPU time of processes from /proc, for CPU per operation in the benchmarks (issue 17).
// Linux only. Thread-safety: a pure function of /proc.
#pragma once

#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace qkv::bench {

// The CPU time, user + system, the processes `pids` have used so far, in seconds (fields
// 14 and 15 of /proc/PID/stat, in clock ticks: 10 ms on Linux); -1 if one cannot be read
// (it exited).
inline double cpu_seconds(const std::vector<int>& pids) {
  static const double kTicksPerSecond = static_cast<double>(sysconf(_SC_CLK_TCK));
  double ticks = 0;
  for (int pid : pids) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) return -1;
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    ticks += static_cast<double>(utime + stime);
  }
  return ticks / kTicksPerSecond;
}

}  // namespace qkv::bench
