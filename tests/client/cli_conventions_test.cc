#include "client/cli_conventions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::client {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kCommands = {"get",  "put",    "delete", "load",    "verify", "ring",
                                            "node", "status", "repair", "members", "version"};

TEST(EditDistance, CountsEditsAndAdjacentSwapsAsOne) {
  EXPECT_EQ(edit_distance("status", "status"), 0u);
  EXPECT_EQ(edit_distance("stauts", "status"), 1u);  // a swap
  EXPECT_EQ(edit_distance("gte", "get"), 1u);
  EXPECT_EQ(edit_distance("statu", "status"), 1u);
  EXPECT_EQ(edit_distance("satus", "status"), 1u);
  EXPECT_EQ(edit_distance("stat", "status"), 2u);
  EXPECT_EQ(edit_distance("", "get"), 3u);
  EXPECT_EQ(edit_distance("get", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(ClosestMatch, SuggestsTheNearestCommandForATypo) {
  EXPECT_EQ(closest_match("stauts", kCommands), "status");
  EXPECT_EQ(closest_match("membrs", kCommands), "members");
  EXPECT_EQ(closest_match("rign", kCommands), "ring");
  EXPECT_EQ(closest_match("gte", kCommands), "get");
  EXPECT_EQ(closest_match("repiar", kCommands), "repair");
  EXPECT_EQ(closest_match("del", kCommands), "delete");  // the one command it starts
  EXPECT_EQ(closest_match("levae", std::vector<std::string>{"join", "leave", "replace"}), "leave");
}

TEST(ClosestMatch, SuggestsNothingForAFarWordAnExactOneOrAnAmbiguousPrefix) {
  EXPECT_EQ(closest_match("frobnicate", kCommands), std::nullopt);
  EXPECT_EQ(closest_match("xyz", kCommands), std::nullopt);
  EXPECT_EQ(closest_match("status", kCommands), std::nullopt);
  EXPECT_EQ(closest_match("", kCommands), std::nullopt);
  // Short words need to be close: "st" is 4 edits from "status".
  EXPECT_EQ(closest_match("st", kCommands), std::nullopt);
  EXPECT_EQ(closest_match("rep", std::vector<std::string>{"repair", "replace"}), std::nullopt);
}

TEST(UnknownCommandMessage, NamesTheWordAndSuggestsOrListsTheCommands) {
  EXPECT_EQ(unknown_command_message("", "stauts", kCommands),
            "unknown command 'stauts'; did you mean 'status'?");
  EXPECT_EQ(unknown_command_message("ring ", "stauts", {"plan", "commit", "status"}),
            "unknown ring command 'stauts'; did you mean 'status'?");
  EXPECT_EQ(unknown_command_message("", "frobnicate", {"get", "put"}),
            "unknown command 'frobnicate'; commands are get, put");
}

TEST(FailureExitCode, UnreachableOnlyWhenNoNodeAnsweredAConnectionFailure) {
  EXPECT_EQ(failure_exit_code(Status::unavailable("connect failed"), false), kExitUnreachable);
  EXPECT_EQ(failure_exit_code(Status::timeout("no answer within 5000 ms"), false),
            kExitUnreachable);
  // A node's own answer: the operation failed, the cluster is there.
  EXPECT_EQ(failure_exit_code(Status::unavailable("write quorum not met"), true), kExitFailed);
  EXPECT_EQ(failure_exit_code(Status::timeout("no answer"), true), kExitFailed);
  // Refused before sending (a key over its limit): nothing was asked of the cluster.
  EXPECT_EQ(failure_exit_code(Status::invalid_argument("key is 70000 bytes"), false), kExitFailed);
}

TEST(ExitCodes, TheTableIsDistinctAndInTheHelpFooter) {
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitFailed, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitUnreachable, 3);
  EXPECT_EQ(kExitTimedOut, 4);
  const std::string help = exit_codes_help();
  EXPECT_THAT(help, HasSubstr("QKV_CLUSTER"));
  for (const char* row : {"  0  ok", "  1  the operation failed", "  2  usage error",
                          "  3  cluster unreachable", "  4  timed out waiting"}) {
    EXPECT_THAT(help, HasSubstr(row));
  }
}

TEST(JsonRequested, FindsTheFlagBeforeAnyDoubleDash) {
  EXPECT_TRUE(json_requested({"--cluster", "h:1", "--json", "stauts"}));
  EXPECT_TRUE(json_requested({"get", "k", "--json"}));
  EXPECT_FALSE(json_requested({"get", "k"}));
  EXPECT_FALSE(json_requested({"put", "--", "--json"}));  // a value after "--"
}

}  // namespace
}  // namespace qkv::client
