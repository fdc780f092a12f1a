// The ring-admin messages round-trip through the client codec, an error answer keeps its body
// (where the claimant is), and impossible values are refused naming them.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "proto/client_codec.h"

namespace qkv::proto {
namespace {

using ::testing::HasSubstr;

RingAdminResponse full_plan() {
  RingAdminResponse plan;
  plan.claimant = "n1";
  plan.claimant_address = "10.0.0.1:7000";
  plan.staged = {"join n4", "replace n2 with n6"};
  plan.plan_id = 0xfeedfacecafebeefull;
  plan.from_version = 41;
  plan.transfers = {{0, "n1", "n4"}, {7, "n2", "n6"}, {UINT32_MAX, "", "n4"}};
  plan.ownership = {{"n1", 86, 64}, {"n2", 85, 0}, {"n4", 0, 64}};
  plan.moved = 128;
  plan.balance = 1.015625;
  plan.spacing_violations = 2;
  plan.zone_violations = 1;
  plan.ring_version = 42;
  plan.estimated_keys = 1'234'567;
  plan.estimated_bytes = uint64_t{5} << 40;
  return plan;
}

TEST(RingAdminCodecTest, EveryActionAndKindRoundTrips) {
  for (auto action :
       {RingAction::kStage, RingAction::kPlan, RingAction::kCommit, RingAction::kCancel}) {
    for (auto kind : {RingChangeKind::kJoin, RingChangeKind::kLeave, RingChangeKind::kReplace,
                      RingChangeKind::kRebalance, RingChangeKind::kRemove}) {
      RingAdminRequest sent{action,
                            kind,
                            "10.0.0.4:7001",
                            "n6",
                            0x8000000000000001ull,
                            kind == RingChangeKind::kRemove};
      auto got = decode_client_request(encode(ClientRequest{9, 300, sent}));
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      EXPECT_EQ(got->request_id, 9u);
      EXPECT_EQ(got->timeout_ms, 300u);
      ASSERT_TRUE(std::holds_alternative<RingAdminRequest>(got->op));
      EXPECT_EQ(std::get<RingAdminRequest>(got->op), sent);
      EXPECT_STREQ(op_name(got->op), "ring_admin");
    }
  }
  // Empty texts stay empty (not "unset" vs "" ambiguity for readers).
  auto plan = decode_client_request(encode(ClientRequest{1, 0, RingAdminRequest{}}));
  ASSERT_TRUE(plan.is_ok());
  EXPECT_EQ(std::get<RingAdminRequest>(plan->op), RingAdminRequest{});
}

TEST(RingAdminCodecTest, APlanRoundTripsFieldForField) {
  RingAdminResponse plan = full_plan();
  auto got = decode_client_response(encode(ClientResponse{3, Status::ok(), plan}));
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(std::get<RingAdminResponse>(got->body), plan);

  auto empty = decode_client_response(encode(ClientResponse{4, Status::ok(), RingAdminResponse{}}));
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(std::get<RingAdminResponse>(empty->body), RingAdminResponse{});
}

TEST(RingAdminCodecTest, AnErrorKeepsItsBodyNamingTheClaimant) {
  RingAdminResponse redirect;
  redirect.claimant = "n1";
  redirect.claimant_address = "127.0.0.1:7001";
  ClientResponse sent{5, Status::unavailable("this node (n3) is not the claimant: ... n1"),
                      redirect};
  auto got = decode_client_response(encode(sent));
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->status, sent.status);
  ASSERT_TRUE(std::holds_alternative<RingAdminResponse>(got->body));
  EXPECT_EQ(std::get<RingAdminResponse>(got->body).claimant_address, "127.0.0.1:7001");
}

TEST(RingAdminCodecTest, StatusAndMembersCarryTransitionFields) {
  StatusResponse st;
  st.node_id = "n4";
  st.ring_version = 42;
  st.transfer_started_unix_ms = 1700000000123;
  st.transfers = {{3, "n1", 1000, 1 << 20, true, false}, {9, "n2", 5, 512, false, true}};
  auto s = decode_client_response(encode(ClientResponse{1, Status::ok(), st}));
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  const auto& got = std::get<StatusResponse>(s->body);
  EXPECT_EQ(got.transfers, st.transfers);
  EXPECT_EQ(got.ring_version, 42u);
  EXPECT_EQ(got.transfer_started_unix_ms, 1700000000123u);

  MembersResponse members;
  members.ring_version = 42;
  members.cluster_id = 0xfeedface12345678;
  MemberInfo m;
  m.id = "n4";
  m.ring_version = 41;
  m.transfers_done = 40;
  m.partitions = 64;
  members.members = {m};
  auto r = decode_client_response(encode(ClientResponse{2, Status::ok(), members}));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const auto& info = std::get<MembersResponse>(r->body).members.at(0);
  EXPECT_EQ(info.ring_version, 41u);
  EXPECT_EQ(info.transfers_done, 40u);
  EXPECT_EQ(info.partitions, 64u);
  EXPECT_EQ(std::get<MembersResponse>(r->body).cluster_id, 0xfeedface12345678u);
}

TEST(RingAdminCodecTest, AnUnknownActionOrKindIsInvalidArgumentNamingIt) {
  for (auto [action, kind, want] : {std::tuple{uint16_t{4}, uint16_t{0}, "action 4"},
                                    std::tuple{uint16_t{0}, uint16_t{9}, "kind 9"}}) {
    capnp::MallocMessageBuilder message;
    auto request = message.initRoot<wire::ClientRequest>();
    request.setRequestId(1);
    auto admin = request.initRingAdmin();
    admin.setAction(static_cast<wire::RingAction>(action));
    admin.setKind(static_cast<wire::RingChangeKind>(kind));
    auto got = decode_client_request(capnp::messageToFlatArray(message));
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(), HasSubstr(want));
  }
}

TEST(RingAdminCodecTest, ABalanceThatIsNotAFiniteNumberIsCorruption) {
  for (double balance :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), -1.0}) {
    RingAdminResponse plan;
    plan.balance = balance;
    auto got = decode_client_response(encode(ClientResponse{1, Status::ok(), plan}));
    EXPECT_EQ(got.status().code(), StatusCode::kCorruption) << balance;
    EXPECT_THAT(got.status().message(), HasSubstr("balance"));
  }
}

}  // namespace
}  // namespace qkv::proto
