// The cluster client's retry rules (client/cluster_client.h) against scripted nodes: what
// is safe to send to the next node is, and a write that was sent is never sent twice.
#include "client/cluster_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "tests/client/fake_server.h"

namespace qkv::client {
namespace {

using testing::FakeServer;
using testing::refusing_address;
using testing::Reply;

// Node-list routing (no ring from these nodes): the seeds in the given order for the first
// call.
ClusterOptions options_for(std::vector<std::string> nodes, uint32_t timeout_ms = 2000) {
  ClusterOptions options;
  options.nodes = std::move(nodes);
  options.token_aware = false;
  options.timeout_ms = timeout_ms;
  return options;
}

bool is_data_op(const proto::ClientRequest& request) {
  return std::holds_alternative<proto::GetRequest>(request.op) ||
         std::holds_alternative<proto::PutRequest>(request.op) ||
         std::holds_alternative<proto::DeleteRequest>(request.op);
}

std::size_t data_requests(const FakeServer& server) {
  auto requests = server.requests();
  return static_cast<std::size_t>(std::count_if(requests.begin(), requests.end(), is_data_op));
}

// Answers every get/put/delete with `status` (a put with a context), and topology requests
// with unavailable (so the client keeps the node list).
FakeServer::Script answering(Status status) {
  return [status](const proto::ClientRequest& request) {
    if (!is_data_op(request)) {
      return Reply{{{request.request_id, Status::unavailable("no ring"), std::monostate{}}}};
    }
    if (std::holds_alternative<proto::GetRequest>(request.op) && status.is_ok()) {
      return Reply{{{request.request_id, status, proto::GetResponse{{"v"}, "ctx"}}}};
    }
    return Reply{{{request.request_id, status, proto::PutResponse{"ctx-w"}}}};
  };
}

TEST(ClusterClient, AnOverloadedNodesWriteGoesToTheNextNode) {
  FakeServer busy(answering(Status::overloaded("client_requests_in_flight_max=10000")));
  FakeServer fine(answering(Status::ok()));
  ClusterClient client(options_for({busy.address(), fine.address()}));
  auto put = client.put("k", "v");
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  EXPECT_EQ(put->context, "ctx-w");
  EXPECT_EQ(data_requests(busy), 1u);
  EXPECT_EQ(data_requests(fine), 1u);
  EXPECT_EQ(client.stats().overloaded, 1u);
}

TEST(ClusterClient, AWriteThatWasSentIsNotSentToAnotherNode) {
  // The first node reads the put and closes without answering: it may have applied it.
  FakeServer silent([](const proto::ClientRequest& request) {
    if (!is_data_op(request)) {
      return Reply{{{request.request_id, Status::unavailable("no ring"), std::monostate{}}}};
    }
    return Reply{{}, /*close=*/true};
  });
  FakeServer fine(answering(Status::ok()));
  ClusterClient client(options_for({silent.address(), fine.address()}));
  auto put = client.put("k", "v");
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status().to_string();
  EXPECT_NE(put.status().message().find("not retried on another node"), std::string::npos);
  EXPECT_EQ(data_requests(fine), 0u) << "a retry could add a duplicate sibling";
}

TEST(ClusterClient, AWriteThatCouldNotConnectGoesToTheNextNode) {
  FakeServer fine(answering(Status::ok()));
  ClusterClient client(options_for({refusing_address(), fine.address()}));
  auto put = client.put("k", "v");
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  EXPECT_EQ(data_requests(fine), 1u);
}

TEST(ClusterClient, ASilentNodeLeavesAReadTimeForTheNext) {
  FakeServer silent([](const proto::ClientRequest&) { return Reply{}; });  // never answers
  FakeServer fine(answering(Status::ok()));
  ClusterClient client(options_for({silent.address(), fine.address()}, 3000));
  const auto start = std::chrono::steady_clock::now();
  auto got = client.get("k");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  // The first attempt had a third of the 3 s deadline (read_attempts_max = 3).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500));
}

TEST(ClusterClient, AnErrorAnswerIsFinalAndTheBreakerStaysClosed) {
  FakeServer refusing(answering(Status::unavailable("write quorum not met: 1 of 2")));
  FakeServer fine(answering(Status::ok()));
  ClusterOptions options = options_for({refusing.address(), fine.address()});
  options.breaker = BreakerOptions{1, 60'000};
  ClusterClient client(options);
  for (int i = 0; i < 3; ++i) {
    auto put = client.put("k", "v");
    if (i % 2 == 0) {  // the node list starts at the refusing node every other call
      EXPECT_EQ(put.status().code(), StatusCode::kUnavailable);
      EXPECT_NE(put.status().message().find("quorum not met"), std::string::npos);
    }
  }
  EXPECT_EQ(client.stats().breaker_opens, 0u) << "the node answered: it works";
}

}  // namespace
}  // namespace qkv::client
