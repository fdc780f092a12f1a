#include "client/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "tests/client/fake_server.h"

namespace qkv::client {
namespace {

using namespace std::chrono_literals;
using testing::FakeServer;
using testing::MemoryStore;
using testing::refusing_address;
using testing::Reply;

Options options_for(std::vector<std::string> nodes, uint32_t timeout_ms = 3000) {
  Options options;
  options.nodes = std::move(nodes);
  options.timeout_ms = timeout_ms;
  return options;
}

proto::ClientResponse answer(uint64_t id, Status status, proto::ClientBody body = {}) {
  return proto::ClientResponse{id, std::move(status), std::move(body)};
}

// A script that never answers.
Reply silent(const proto::ClientRequest&) {
  return {};
}

TEST(ServerTimeout, LeavesTheNodeAMarginAndNeverSendsZero) {
  EXPECT_EQ(server_timeout_ms(5000), 4900u);
  EXPECT_EQ(server_timeout_ms(200), 180u);
  EXPECT_EQ(server_timeout_ms(5), 5u);
  EXPECT_EQ(server_timeout_ms(1), 1u);
}

TEST(Client, PutGetDeleteRoundTripOverOneReusedConnection) {
  MemoryStore store;
  FakeServer server(store.script());
  Client client(options_for({server.address()}));

  ASSERT_TRUE(client.put("k", "v1").is_ok());
  auto got = client.get("k");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_TRUE(got->found());
  EXPECT_EQ(got->values, std::vector<std::string>{"v1"});
  EXPECT_EQ(got->context, "v1");

  ASSERT_TRUE(client.put("k", "v2", got->context).is_ok());
  got = client.get("k");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->values, std::vector<std::string>{"v2"});

  ASSERT_TRUE(client.del("k", got->context).is_ok());
  got = client.get("k");
  ASSERT_TRUE(got.is_ok());
  EXPECT_FALSE(got->found());
  EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST(Client, RequestFieldsArriveAsSent) {
  MemoryStore store;
  FakeServer server(store.script());
  Client client(options_for({server.address()}, 3000));

  ASSERT_TRUE(client.put("key", "value", "ctx-1", WriteOptions{2, 1000}).is_ok());
  ASSERT_TRUE(client.get("key", ReadOptions{3, 0, false, 2}).is_ok());
  ASSERT_TRUE(client.del("key", "ctx-2", WriteOptions{1, 0}).is_ok());

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  const auto& put = std::get<proto::PutRequest>(requests[0].op);
  EXPECT_EQ(put.key, "key");
  EXPECT_EQ(put.value, "value");
  EXPECT_EQ(put.context, "ctx-1");
  EXPECT_EQ(put.w, 2);
  EXPECT_EQ(requests[0].timeout_ms, server_timeout_ms(1000));
  const auto& get = std::get<proto::GetRequest>(requests[1].op);
  EXPECT_EQ(get.key, "key");
  EXPECT_EQ(get.r, 3);
  EXPECT_EQ(get.pr, 2);
  EXPECT_EQ(requests[1].timeout_ms, server_timeout_ms(3000));  // Options::timeout_ms
  const auto& del = std::get<proto::DeleteRequest>(requests[2].op);
  EXPECT_EQ(del.context, "ctx-2");
  EXPECT_EQ(del.w, 1);
  // Each request has its own id.
  EXPECT_NE(requests[0].request_id, requests[1].request_id);
  EXPECT_NE(requests[1].request_id, requests[2].request_id);
}

TEST(Client, NotFoundIsAnEmptyResultThatKeepsTheContext) {
  const std::vector<proto::ReplicaAnswer> replicas = {{"n1", false}, {"n4", true}};
  FakeServer server([&](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::not_found("deleted"),
                         proto::GetResponse{{}, std::string("tomb\0stone", 10), replicas})}};
  });
  Client client(options_for({server.address()}));
  auto got = client.get("k");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_FALSE(got->found());
  EXPECT_EQ(got->context, std::string("tomb\0stone", 10));
  EXPECT_EQ(got->replicas, replicas) << "who said it is missing";
}

TEST(Client, AGetNamesTheReplicasThatAnswered) {
  const std::vector<proto::ReplicaAnswer> replicas = {{"n2", false}, {"n5", true}};
  FakeServer server([&](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::ok(), proto::GetResponse{{"v"}, "ctx", replicas})}};
  });
  Client client(options_for({server.address()}));
  auto got = client.get("k");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->replicas, replicas);
}

TEST(Client, SiblingsAreReturnedAsValues) {
  FakeServer server([](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::ok(), proto::GetResponse{{"a", "b"}, "ctx"})}};
  });
  Client client(options_for({server.address()}));
  auto got = client.get("k");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(got->context, "ctx");
}

TEST(Client, TheNodesErrorIsReturnedAndNotFailedOver) {
  FakeServer first([](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::unavailable("write quorum not met: 1 of 2"))}};
  });
  MemoryStore store;
  FakeServer second(store.script());
  Client client(options_for({first.address(), second.address()}));
  Status status = client.put("k", "v").status();
  EXPECT_EQ(status, Status::unavailable("write quorum not met: 1 of 2"));
  EXPECT_EQ(second.connections_accepted(), 0u);
}

TEST(Client, AWriteRefusedAsOverloadedGoesToTheNextNode) {
  // overloaded means the node did nothing with the request: safe to send a write elsewhere.
  FakeServer busy([](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::overloaded("client_requests_in_flight_max is 1"))}};
  });
  MemoryStore store;
  FakeServer second(store.script());
  Client client(options_for({busy.address(), second.address()}));
  ASSERT_TRUE(client.put("k", "v").is_ok());
  EXPECT_EQ(busy.requests().size(), 1u);
  auto got = client.get("k");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->values, std::vector<std::string>{"v"});
}

TEST(Client, WhenEveryNodeIsOverloadedTheCallBacksOffAndTriesAgain) {
  // Both nodes refuse the first two requests each, then the second serves.
  MemoryStore store;
  auto serve_after = [&store](int refusals) {
    return [&store, refusals, seen = 0](const proto::ClientRequest& r) mutable {
      if (seen++ < refusals) return Reply{{answer(r.request_id, Status::overloaded("busy"))}};
      return store.script()(r);
    };
  };
  FakeServer a(serve_after(1000));
  FakeServer b(serve_after(2));
  Client client(options_for({a.address(), b.address()}, 3000));
  ASSERT_TRUE(client.put("k", "v").is_ok());
  EXPECT_EQ(a.requests().size(), 3u) << "three passes over both nodes";
  EXPECT_EQ(b.requests().size(), 3u);
}

TEST(Client, WhenEveryNodeStaysOverloadedTheCallEndsOverloadedByItsTimeout) {
  auto busy = [](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::overloaded("client_requests_in_flight_max is 1"))}};
  };
  FakeServer a(busy), b(busy);
  Client client(options_for({a.address(), b.address()}, 300));
  const auto start = std::chrono::steady_clock::now();
  Status status = client.put("k", "v").status();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.code(), StatusCode::kOverloaded) << status.to_string();
  EXPECT_NE(status.message().find("every node is overloaded"), std::string::npos);
  EXPECT_NE(status.message().find("client_requests_in_flight_max is 1"), std::string::npos);
  EXPECT_GE(a.requests().size(), 2u) << "it tried again after a backoff";
  EXPECT_LT(took, std::chrono::milliseconds(2000)) << "bounded by the call's timeout";
}

TEST(Client, FailsOverWhenTheFirstNodeRefusesConnections) {
  MemoryStore store;
  FakeServer server(store.script());
  Client client(options_for({refusing_address(), server.address()}));
  ASSERT_TRUE(client.put("k", "v").is_ok());  // never sent to the first node: safe to move on
  auto got = client.get("k");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->values, std::vector<std::string>{"v"});
  auto ring = client.ring();
  ASSERT_TRUE(ring.is_ok()) << ring.status().to_string();
  EXPECT_EQ(ring->owners.size(), 4u);
}

TEST(Client, GetThatTimesOutFailsOverToTheNextNode) {
  FakeServer stuck(silent);
  FakeServer good([](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::ok(), proto::GetResponse{{"v"}, "c"})}};
  });
  Client client(options_for({stuck.address(), good.address()}, 200));
  auto got = client.get("k");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->values, std::vector<std::string>{"v"});
  EXPECT_EQ(stuck.requests().size(), 1u);
  EXPECT_EQ(good.requests().size(), 1u);
}

TEST(Client, PutThatTimesOutIsNotSentElsewhere) {
  FakeServer stuck(silent);
  MemoryStore store;
  FakeServer good(store.script());
  Client client(options_for({stuck.address(), good.address()}, 200));

  auto start = std::chrono::steady_clock::now();
  Status status = client.put("k", "v").status();
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.code(), StatusCode::kTimeout) << status.to_string();
  EXPECT_NE(status.message().find(stuck.address()), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("duplicate sibling"), std::string::npos) << status.message();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2000ms);
  ASSERT_TRUE(stuck.wait_for_requests(1, 5s));

  // Anything the client had sent to `good` would be ahead of this status request on the same
  // connection: after its answer, good has seen exactly that one request.
  auto status_reply = client.node_status(1);
  ASSERT_TRUE(status_reply.is_ok()) << status_reply.status().to_string();
  auto seen = good.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<proto::StatusRequest>(seen[0].op));
}

TEST(Client, DeleteWhoseConnectionBreaksAfterSendingIsUnavailableAndNotRetried) {
  FakeServer breaks([](const proto::ClientRequest&) { return Reply{{}, /*close=*/true}; });
  MemoryStore store;
  FakeServer good(store.script());
  Client client(options_for({breaks.address(), good.address()}));
  Status status = client.del("k").status();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.to_string();
  EXPECT_NE(status.message().find("not retried"), std::string::npos) << status.message();
  EXPECT_EQ(good.connections_accepted(), 0u);
}

TEST(Client, GetWhoseConnectionBreaksFailsOver) {
  FakeServer breaks([](const proto::ClientRequest&) { return Reply{{}, /*close=*/true}; });
  FakeServer good([](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::ok(), proto::GetResponse{{"v"}, "c"})}};
  });
  Client client(options_for({breaks.address(), good.address()}));
  auto got = client.get("k");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->values, std::vector<std::string>{"v"});
  EXPECT_EQ(breaks.requests().size(), 1u);
}

TEST(Client, LateAnswerToATimedOutRequestIsNotTakenForTheNextOne) {
  // The first get is never answered in time; when the second arrives, the node sends the late
  // answer to the first and then the answer to the second, on the same connection.
  uint64_t first_id = 0;
  FakeServer server([&first_id](const proto::ClientRequest& r) {
    if (first_id == 0) {
      first_id = r.request_id;
      return Reply{};
    }
    return Reply{{answer(first_id, Status::ok(), proto::GetResponse{{"old"}, "c1"}),
                  answer(r.request_id, Status::ok(), proto::GetResponse{{"new"}, "c2"})}};
  });
  Client client(options_for({server.address()}, 200));
  auto first = client.get("k");
  ASSERT_FALSE(first.is_ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(first.status().message().find("no answer within 200 ms"), std::string::npos)
      << first.status().message();

  auto second = client.get("k", ReadOptions{0, 3000});
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(second->values, std::vector<std::string>{"new"});
  EXPECT_EQ(second->context, "c2");
  EXPECT_EQ(server.connections_accepted(), 1u);  // the connection was reused
}

TEST(Client, ReconnectsWhenTheNodeClosedAnIdleConnection) {
  // The node answers, then closes the connection (as a restarting node would). The next put
  // must go out on a new connection, not fail as "sent, connection broke".
  MemoryStore store;
  auto script = store.script();
  bool closed_once = false;
  FakeServer server([&](const proto::ClientRequest& r) {
    Reply reply = script(r);
    reply.close = !closed_once;
    closed_once = true;
    return reply;
  });
  Client client(options_for({server.address()}));
  ASSERT_TRUE(client.get("k").is_ok());
  ASSERT_TRUE(server.wait_for_closed(1, 5s));
  Status status = client.put("k", "v").status();
  EXPECT_TRUE(status.is_ok()) << status.to_string();
  EXPECT_EQ(server.connections_accepted(), 2u);
}

TEST(Client, OversizedInputIsRejectedLocallyNamingTheLimit) {
  MemoryStore store;
  FakeServer server(store.script());
  Options options = options_for({server.address()});
  options.limits.key_bytes_max = 16;
  options.limits.value_bytes_max = 32;
  options.limits.context_bytes_max = 8;
  Client client(options);

  auto got = client.get(std::string(17, 'k'));
  ASSERT_FALSE(got.is_ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("key_bytes_max"), std::string::npos);

  Status put = client.put("k", std::string(33, 'v')).status();
  EXPECT_EQ(put.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(put.message().find("value_bytes_max"), std::string::npos) << put.message();

  Status del = client.del("k", std::string(9, 'c')).status();
  EXPECT_EQ(del.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(del.message().find("context_bytes_max"), std::string::npos) << del.message();

  EXPECT_EQ(client.put("", "v").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server.connections_accepted(), 0u);  // nothing was sent, not even a connect
}

TEST(Client, DefaultLimitsRejectAKeyOver64KiB) {
  Client client(options_for({refusing_address()}));
  Status status = client.put(std::string(64 * 1024 + 1, 'k'), "v").status();
  EXPECT_EQ(status, Status::invalid_argument("key is 65537 bytes; key_bytes_max is 65536"));
}

TEST(Client, WhenEveryNodeIsDownTheErrorNamesEachNode) {
  std::string a = refusing_address();
  std::string b = refusing_address();
  Client client(options_for({a, b, "no-port"}));
  for (Status status :
       {client.get("k").status(), client.put("k", "v").status(), client.ring().status()}) {
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.to_string();
    EXPECT_NE(status.message().find(a + ": connect failed"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(b + ": connect failed"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("no-port: node address 'no-port': the port is missing"),
              std::string::npos)
        << status.message();
  }
}

// qkvctl's exit 3 (no node of --cluster answered) rests on this: an error answer counts as
// an answer, a refused connection or a silent node does not.
TEST(Client, AnyAnsweredTellsAnErrorAnswerFromNoAnswer) {
  FakeServer failing([](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::unavailable("write quorum not met: 1 of 2"))}};
  });
  FakeServer quiet(silent);
  Client unreachable(options_for({refusing_address(), quiet.address()}, 200));
  EXPECT_FALSE(unreachable.any_answered());
  EXPECT_EQ(unreachable.get("k").status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(unreachable.any_answered());

  Client answered(options_for({refusing_address(), failing.address()}));
  Status status = answered.put("k", "v").status();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.to_string();
  EXPECT_TRUE(answered.any_answered());
}

// Asio would take port 99999 modulo 65536 and connect elsewhere: the address is refused.
TEST(Client, APortOutOfRangeIsRefusedNotWrapped) {
  Client client(options_for({"127.0.0.1:99999"}));
  Status status = client.get("k").status();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.to_string();
  EXPECT_NE(status.message().find("port 99999 is out of range; ports are 1..65535"),
            std::string::npos)
      << status.message();
}

TEST(Client, NoNodesIsUnavailable) {
  Client client(Options{});
  EXPECT_EQ(client.get("k").status().code(), StatusCode::kUnavailable);
}

TEST(Client, NodeStatusAsksOnlyThatNode) {
  MemoryStore first_store, second_store;
  FakeServer first(first_store.script());
  FakeServer second(second_store.script());
  Client client(options_for({first.address(), second.address()}));
  auto status = client.node_status(1);
  ASSERT_TRUE(status.is_ok()) << status.status().to_string();
  EXPECT_EQ(status->node_id, "n1");
  EXPECT_EQ(status->incarnation, 7u);
  EXPECT_EQ(first.connections_accepted(), 0u);
  EXPECT_EQ(client.node_status(2).status().code(), StatusCode::kInvalidArgument);

  Client down(options_for({refusing_address(), second.address()}));
  auto not_there = down.node_status(0);
  EXPECT_EQ(not_there.status().code(), StatusCode::kUnavailable);
}

TEST(Client, RepairIsSentToThatNodeOnlyAndItsAnswerDecoded) {
  MemoryStore first_store;
  FakeServer first(first_store.script());
  FakeServer second([](const proto::ClientRequest& r) {
    const auto* repair = std::get_if<proto::RepairRequest>(&r.op);
    if (repair == nullptr) return Reply{{answer(r.request_id, Status::invalid_argument("?"))}};
    uint32_t queued = repair->partition ? 1 : 48;
    return Reply{{answer(r.request_id, Status::ok(), proto::RepairResponse{queued})}};
  });
  Client client(options_for({first.address(), second.address()}));

  auto all = client.repair(1, std::nullopt);
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  EXPECT_EQ(all->partitions, 48u);
  auto one = client.repair(1, 7);
  ASSERT_TRUE(one.is_ok()) << one.status().to_string();
  EXPECT_EQ(one->partitions, 1u);

  auto seen = second.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(std::get<proto::RepairRequest>(seen[0].op).partition, std::nullopt);
  EXPECT_EQ(std::get<proto::RepairRequest>(seen[1].op).partition, std::optional<uint32_t>(7));
  EXPECT_EQ(first.connections_accepted(), 0u);
  EXPECT_EQ(client.repair(2, std::nullopt).status().code(), StatusCode::kInvalidArgument);
}

TEST(Client, RepairIsNeverFailedOverAndNamesTheNode) {
  MemoryStore store;
  FakeServer up(store.script());
  std::string down = refusing_address();
  Client client(options_for({down, up.address()}));
  auto result = client.repair(0, std::nullopt);
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find(down), std::string::npos) << result.status().message();
  EXPECT_EQ(up.connections_accepted(), 0u);

  // The node's own refusal is returned as is.
  FakeServer refusing([](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::invalid_argument("partition 300 >= 256"))}};
  });
  Client to_refusing(options_for({refusing.address()}));
  auto refused = to_refusing.repair(0, 300);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "partition 300 >= 256");
}

TEST(Client, AnswerWithoutTheExpectedBodyIsCorruption) {
  FakeServer server([](const proto::ClientRequest& r) {
    return Reply{{answer(r.request_id, Status::ok())}};  // no GetResponse body
  });
  Client client(options_for({server.address()}));
  EXPECT_EQ(client.get("k").status().code(), StatusCode::kCorruption);
}

TEST(Client, IsMovable) {
  MemoryStore store;
  FakeServer server(store.script());
  Client first(options_for({server.address()}));
  ASSERT_TRUE(first.put("k", "v").is_ok());
  Client second(std::move(first));
  auto got = second.get("k");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->values, std::vector<std::string>{"v"});
}

}  // namespace
}  // namespace qkv::client
