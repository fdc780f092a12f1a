// Sloppy reads with real qkvd processes, read through qkvctl as an operator would: with two
// of a key's three primaries killed, an R=2 get is answered by the last primary and a
// fallback, `get --json` says which (with every primary asked first or a quorum of them),
// and `get --pr 2` refuses naming PR.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ring/ring.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;

TEST(FallbackReadProcessTest, TwoPrimariesKilledAnRTwoGetIsServedThroughAFallback) {
  ProcessCluster cluster(4);  // N=3: every key has one fallback
  cluster.start_all();
  const std::string key = "fallback-read";
  // The cluster's ring: n1..n4 claim Q=64 deterministically (ring/ring.h).
  auto ring = ring::Ring::claim({"n1", "n2", "n3", "n4"}, 64, 3);
  ASSERT_TRUE(ring.is_ok());
  const ring::PreferenceList list = ring->preference_list(ring::token_of(key), 3);
  auto index = [](const NodeId& id) { return std::stoi(id.substr(1)) - 1; };
  const int alive = index(list.primaries[0]);
  cluster.kill9(index(list.primaries[1]));
  cluster.kill9(index(list.primaries[2]));

  // W=2: the live primary and the fallback standing in for a killed one.
  ASSERT_TRUE(cluster.client_of(alive).put(key, "v", "", {2, 0}).is_ok());

  auto qkvctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--cluster", cluster.client_address(alive)});
    return run_program(QKVCTL_PATH, args);
  };
  RunResult got = qkvctl({"--json", "get", key, "--r", "2"});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  auto json = nlohmann::json::parse(got.output);
  EXPECT_EQ(json["siblings"], nlohmann::json::parse(R"([{"value":"v"}])"));
  EXPECT_EQ(json["replicas"],
            nlohmann::json::parse(fmt::format(
                R"([{{"node":"{}","role":"primary"}},{{"node":"{}","role":"fallback"}}])",
                list.primaries[0], list.fallbacks[0])));

  // A quorum's fanout asks the live primary and one other; that one and the spare primary
  // both fail, and the fallback answers as before.
  RunResult quorum = qkvctl({"--json", "get", key, "--r", "2", "--fanout", "quorum"});
  ASSERT_EQ(quorum.exit_code, 0) << quorum.output;
  EXPECT_EQ(nlohmann::json::parse(quorum.output)["replicas"], json["replicas"]);
  RunResult unknown = qkvctl({"get", key, "--fanout", "some"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.output, HasSubstr("--fanout"));

  RunResult strict = qkvctl({"get", key, "--r", "2", "--pr", "2"});
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
  EXPECT_THAT(strict.output, HasSubstr("1 of 3 primaries answered, PR=2 required"));
  RunResult too_many = qkvctl({"get", key, "--pr", "4"});
  EXPECT_EQ(too_many.exit_code, 1);
  EXPECT_THAT(too_many.output, HasSubstr("pr=4 exceeds n=3"));
}

}  // namespace
}  // namespace qkv::testing
