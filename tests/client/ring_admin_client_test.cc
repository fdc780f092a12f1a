// Client::ring_admin: reaches the claimant through any node, resending once to the claimant a
// node names; changes are never sent twice.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "client/client.h"
#include "tests/client/fake_server.h"

namespace qkv::client {
namespace {

using namespace std::chrono_literals;
using testing::FakeServer;
using testing::refusing_address;
using testing::Reply;

Options options_for(std::vector<std::string> nodes, uint32_t timeout_ms = 3000) {
  Options options;
  options.nodes = std::move(nodes);
  options.timeout_ms = timeout_ms;
  return options;
}

proto::RingAdminRequest request(proto::RingAction action) {
  proto::RingAdminRequest r;
  r.action = action;
  return r;
}

proto::RingAdminRequest join(std::string node) {
  proto::RingAdminRequest r = request(proto::RingAction::kStage);
  r.kind = proto::RingChangeKind::kJoin;
  r.node = std::move(node);
  return r;
}

// A non-claimant: answers every request with `status` and a body naming the claimant.
FakeServer::Script names_claimant(std::string claimant, std::string address,
                                  Status status = Status::unavailable("not the claimant")) {
  return [=](const proto::ClientRequest& r) {
    proto::RingAdminResponse body;
    body.claimant = claimant;
    body.claimant_address = address;
    return Reply{{proto::ClientResponse{r.request_id, status, body}}};
  };
}

// The claimant: answers every ring admin request ok, echoing what it understood.
Reply claimant_answer(const proto::ClientRequest& r) {
  const auto* admin = std::get_if<proto::RingAdminRequest>(&r.op);
  if (admin == nullptr) {
    return Reply{{proto::ClientResponse{r.request_id, Status::invalid_argument("?"), {}}}};
  }
  proto::RingAdminResponse body;
  body.claimant = "n1";
  body.staged = {"join n4"};
  body.plan_id = admin->plan_id == 0 ? 0xabcull : admin->plan_id;
  body.ring_version = admin->action == proto::RingAction::kCommit ? 8 : 0;
  return Reply{{proto::ClientResponse{r.request_id, Status::ok(), body}}};
}

TEST(RingAdmin, TheClaimantsAnswerIsReturnedAndTheRequestArrivesAsSent) {
  FakeServer claimant(claimant_answer);
  Client client(options_for({claimant.address()}));
  auto staged = client.ring_admin(join("10.0.0.4:7001"));
  ASSERT_TRUE(staged.is_ok()) << staged.status().to_string();
  EXPECT_EQ(staged->claimant, "n1");
  EXPECT_EQ(staged->staged, std::vector<std::string>{"join n4"});
  auto seen = claimant.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(std::get<proto::RingAdminRequest>(seen[0].op), join("10.0.0.4:7001"));
}

TEST(RingAdmin, ANonClaimantsAnswerIsResentToTheClaimantItNames) {
  FakeServer claimant(claimant_answer);
  FakeServer other(names_claimant("n1", claimant.address()));
  // The claimant is not among the nodes: the client opens a connection to it anyway.
  Client client(options_for({other.address()}));
  proto::RingAdminRequest commit = request(proto::RingAction::kCommit);
  commit.plan_id = 0x1234;
  auto committed = client.ring_admin(commit);
  ASSERT_TRUE(committed.is_ok()) << committed.status().to_string();
  EXPECT_EQ(committed->ring_version, 8u);
  EXPECT_EQ(committed->plan_id, 0x1234u);
  ASSERT_EQ(claimant.requests().size(), 1u);
  EXPECT_EQ(std::get<proto::RingAdminRequest>(claimant.requests()[0].op), commit);
  EXPECT_EQ(other.requests().size(), 1u);

  // A second call reuses the connection opened to the claimant.
  ASSERT_TRUE(client.ring_admin(request(proto::RingAction::kPlan)).is_ok());
  EXPECT_EQ(claimant.connections_accepted(), 1u);
}

TEST(RingAdmin, TheResendHappensOnceAndItsErrorIsFinal) {
  FakeServer third(claimant_answer);
  FakeServer second(names_claimant("n3", third.address(), Status::unavailable("moved on")));
  FakeServer first(names_claimant("n2", second.address()));
  Client client(options_for({first.address()}));
  auto result = client.ring_admin(request(proto::RingAction::kPlan));
  EXPECT_EQ(result.status(), Status::unavailable("moved on"));
  EXPECT_EQ(second.requests().size(), 1u);
  EXPECT_EQ(third.connections_accepted(), 0u);
}

TEST(RingAdmin, ANodeThatDoesNotKnowTheClaimantsAddressYetIsAskedAgain) {
  // Just after a start, gossip has not told this node the claimant's client address: it
  // names the claimant only. Once it knows (its third answer here), the client resends.
  FakeServer claimant(claimant_answer);
  std::atomic<int> asked{0};
  FakeServer other([&](const proto::ClientRequest& r) {
    return names_claimant("n1", ++asked < 3 ? "" : claimant.address())(r);
  });
  Client client(options_for({other.address()}));
  proto::RingAdminRequest commit = request(proto::RingAction::kCommit);
  commit.plan_id = 0x77;
  auto committed = client.ring_admin(commit);
  ASSERT_TRUE(committed.is_ok()) << committed.status().to_string();
  EXPECT_EQ(committed->ring_version, 8u);
  EXPECT_EQ(asked.load(), 3);
  EXPECT_EQ(claimant.requests().size(), 1u);
}

TEST(RingAdmin, ANodeThatNeverLearnsTheClaimantsAddressGivesUpWithItsRefusal) {
  FakeServer other(names_claimant("n1", ""));
  Client client(options_for({other.address()}));
  auto staged = client.ring_admin(join("n4"));
  ASSERT_FALSE(staged.is_ok());
  EXPECT_EQ(staged.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(staged.status().message().find("not the claimant"), std::string::npos);
  EXPECT_GE(other.requests().size(), 10u) << "asked again for about 5 s";
}

TEST(RingAdmin, AnErrorNamingTheNodeAskedIsReturnedAsIs) {
  std::mutex mu;
  std::string address;  // guarded by mu: known once the server runs
  FakeServer claimant([&](const proto::ClientRequest& r) {
    std::lock_guard lock(mu);
    return names_claimant("n1", address, Status::invalid_argument("nothing staged"))(r);
  });
  {
    std::lock_guard lock(mu);
    address = claimant.address();
  }
  Client client(options_for({claimant.address()}));
  auto result = client.ring_admin(request(proto::RingAction::kPlan));
  EXPECT_EQ(result.status(), Status::invalid_argument("nothing staged"));
  EXPECT_EQ(claimant.requests().size(), 1u);

  // An error with no body (an older node) is returned as is too.
  FakeServer bare([](const proto::ClientRequest& r) {
    return Reply{{proto::ClientResponse{r.request_id, Status::unavailable("busy"), {}}}};
  });
  Client to_bare(options_for({bare.address()}));
  EXPECT_EQ(to_bare.ring_admin(request(proto::RingAction::kPlan)).status(),
            Status::unavailable("busy"));
}

TEST(RingAdmin, AnUnreachableClaimantIsUnavailableNamingBothNodes) {
  std::string gone = refusing_address();
  FakeServer other(names_claimant("n1", gone));
  Client client(options_for({other.address()}));
  auto result = client.ring_admin(join("n4"));
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  std::string message = result.status().message();
  EXPECT_NE(message.find(other.address() + " is not the claimant"), std::string::npos) << message;
  EXPECT_NE(message.find("the claimant n1 at " + gone), std::string::npos) << message;
}

TEST(RingAdmin, AChangeSentWithoutAnswerIsNotSentToAnotherNode) {
  FakeServer stuck([](const proto::ClientRequest&) { return Reply{}; });
  FakeServer claimant(claimant_answer);
  Client client(options_for({stuck.address(), claimant.address()}, 200));
  auto result = client.ring_admin(request(proto::RingAction::kCommit));
  EXPECT_EQ(result.status().code(), StatusCode::kTimeout) << result.status().to_string();
  EXPECT_NE(result.status().message().find("may have been applied"), std::string::npos)
      << result.status().message();
  EXPECT_EQ(claimant.connections_accepted(), 0u);

  // A plan changes nothing: it moves on to the next node.
  auto plan = client.ring_admin(request(proto::RingAction::kPlan));
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_EQ(plan->plan_id, 0xabcu);
}

TEST(RingAdmin, AnOkAnswerWithoutARingAdminBodyIsCorruption) {
  FakeServer server([](const proto::ClientRequest& r) {
    return Reply{{proto::ClientResponse{r.request_id, Status::ok(), {}}}};
  });
  Client client(options_for({server.address()}));
  EXPECT_EQ(client.ring_admin(request(proto::RingAction::kCancel)).status().code(),
            StatusCode::kCorruption);
}

}  // namespace
}  // namespace qkv::client
