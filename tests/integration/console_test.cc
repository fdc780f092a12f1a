// The web console (GET /console) in a real browser against a real 3-node cluster:
// tests/console/console_test.mjs drives Debian's headless Chromium with npm's puppeteer-core
// (pinned in tests/console/package.json; scripts/test installs it). The page lists the three
// members and the ring, and shows a member down within 10 s of its kill -9. The screenshot
// is saved as Testing/console_test.png in the build folder, beside ctest's logs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;

TEST(ConsoleBrowserTest, ListsTheMembersAndShowsAKilledOneDownWithinTenSeconds) {
  ASSERT_TRUE(std::filesystem::exists(QKV_CONSOLE_DIR "/node_modules/puppeteer-core"))
      << "npm ci --prefix " QKV_CONSOLE_DIR " (scripts/test does it)";
  ASSERT_TRUE(std::filesystem::exists(QKV_CHROMIUM)) << "Debian package chromium";
  ProcessCluster cluster(3);
  cluster.start_all();
  RunResult run =
      run_program(QKV_NODE_PATH,
                  {QKV_CONSOLE_DIR "/console_test.mjs", "--url",
                   "http://" + cluster.http_address(0) + "/console", "--members", "3",
                   "--partitions", "64", "--kill-pid", std::to_string(cluster.pid(2)), "--victim",
                   "n3", "--screenshot", QKV_CONSOLE_SCREENSHOT, "--chromium", QKV_CHROMIUM},
                  std::chrono::seconds(90));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("n3 shown down"));
  std::cout << run.output;
}

}  // namespace
}  // namespace qkv::testing
