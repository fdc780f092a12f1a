// CPU time and resident memory of processes from /proc, for CPU per operation and memory
// per node in the benchmarks (issue 17). Linux only. Thread-safety: pure functions of /proc.
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

// The resident set size of each of `pids` (VmRSS of /proc/PID/status), in bytes, in the
// order given; 0 for one that cannot be read (it exited).
inline std::vector<uint64_t> resident_bytes(const std::vector<int>& pids) {
  std::vector<uint64_t> out;
  for (int pid : pids) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    uint64_t kib = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("VmRSS:", 0) == 0) {
        kib = std::stoull(line.substr(6));  // "VmRSS:     1234 kB"
        break;
      }
    }
    out.push_back(kib * 1024);
  }
  return out;
}

// Bytes in whole MiB, for printing.
inline std::vector<uint64_t> mebibytes(const std::vector<uint64_t>& bytes) {
  std::vector<uint64_t> out;
  for (uint64_t b : bytes) out.push_back((b + (1 << 19)) >> 20);
  return out;
}

}  // namespace qkv::bench
