// qkv-bench against three real qkvd processes for a few seconds: the load generator runs
// end to end without errors (no timing is asserted; figures belong in docs/performance.md).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

// Runs `command`, returning its exit status and standard output.
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, out};
  std::array<char, 4096> buffer;
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe))
    out.append(buffer.data(), n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(BenchSmokeTest, QkvBenchLoadsAndRunsEveryWorkloadWithoutErrors) {
  ProcessCluster cluster(3);
  cluster.start_all();
  std::string nodes =
      cluster.client_address(0) + "," + cluster.client_address(1) + "," + cluster.client_address(2);
  for (const char* workload : {"A", "W", "RMW"}) {
    auto [status, out] =
        run(std::string(QKV_BENCH_PATH) + " --nodes " + nodes + " --workload " + workload +
            " --keys 2000 --value-bytes 1000 --connections 8 --in-flight 4 --duration 1.5" +
            (std::string(workload) == "A" ? " --load" : "") + " --json --quiet");
    ASSERT_EQ(status, 0) << workload << ":\n" << out;
    auto report = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(report.is_discarded()) << out;
    for (const auto& phase : report["phases"]) {
      EXPECT_EQ(phase["errors"], 0) << phase.dump();
      EXPECT_GT(phase["count"].get<uint64_t>(), 0u) << phase.dump();
    }
  }
}

}  // namespace
}  // namespace qkv::testing
