#include "client/async_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "client/request_building.h"
#include "proto/client_codec.h"
#include "tests/client/fake_server.h"
#include "tests/net/transport_test_util.h"

namespace qkv::client {
namespace {

using namespace std::chrono_literals;
using net::testing::run_until;
using testing::FakeServer;
using testing::MemoryStore;
using testing::refusing_address;
using testing::Reply;
namespace asio = boost::asio;

AsyncOptions options_for(std::string node, uint32_t timeout_ms = 5000) {
  AsyncOptions options;
  options.node = std::move(node);
  options.timeout_ms = timeout_ms;
  options.deadline_check_ms = 5;
  return options;
}

proto::ClientResponse answer(uint64_t id, Status status, proto::ClientBody body = {}) {
  return proto::ClientResponse{id, std::move(status), std::move(body)};
}

const std::string& key_of(const proto::ClientRequest& request) {
  if (const auto* get = std::get_if<proto::GetRequest>(&request.op)) return get->key;
  if (const auto* put = std::get_if<proto::PutRequest>(&request.op)) return put->key;
  return std::get<proto::DeleteRequest>(request.op).key;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// What a callback saw: filled once, by the one call.
struct Outcome {
  int calls = 0;
  std::optional<Result<GetResult>> get;
  Status status;  // of a write, or of a failed get

  AsyncClient::GetCallback get_callback() {
    return [this](Result<GetResult> result) {
      ++calls;
      status = result.status();
      get.emplace(std::move(result));
    };
  }
  AsyncClient::WriteCallback write_callback() {
    return [this](Result<WriteResult> result) {
      ++calls;
      status = result.status();
    };
  }
};

// --- Request building -----------------------------------------------------------------------

TEST(RequestBuilding, EncodesEveryFieldOfGetPutAndDelete) {
  Limits limits;
  for (std::size_t n = 0; n <= 17; ++n) {
    std::string key(n + 1, 'k');  // a key is never empty
    std::string value(n, static_cast<char>('a' + n));
    std::string context(n == 0 ? 0 : 17 - n, 'c');

    auto get = internal::encode_request(limits, 10 + n, 90,
                                        internal::get_op(limits, key, ReadOptions{3, 0, true, 2}));
    ASSERT_TRUE(get.is_ok());
    auto decoded = proto::decode_client_request(*get);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->request_id, 10 + n);
    EXPECT_EQ(decoded->timeout_ms, 90u);
    const auto& g = std::get<proto::GetRequest>(decoded->op);
    EXPECT_EQ(g.key, key);
    EXPECT_EQ(g.r, 3);
    EXPECT_TRUE(g.local);
    EXPECT_EQ(g.pr, 2);

    auto put = internal::encode_request(
        limits, 20 + n, 80,
        internal::put_op(limits, key, value, context,
                         WriteOptions{2, 0, false, static_cast<uint32_t>(n * 60)}));
    ASSERT_TRUE(put.is_ok());
    decoded = proto::decode_client_request(*put);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->request_id, 20 + n);
    const auto& p = std::get<proto::PutRequest>(decoded->op);
    EXPECT_EQ(p.key, key);
    EXPECT_EQ(p.value, value);
    EXPECT_EQ(p.context, context);
    EXPECT_EQ(p.w, 2);
    EXPECT_TRUE(p.primaries_only);
    EXPECT_EQ(p.ttl_seconds, n * 60);

    auto del = internal::encode_request(
        limits, 30 + n, 70, internal::del_op(limits, key, context, WriteOptions{1, 0, true}));
    ASSERT_TRUE(del.is_ok());
    decoded = proto::decode_client_request(*del);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    const auto& d = std::get<proto::DeleteRequest>(decoded->op);
    EXPECT_EQ(d.key, key);
    EXPECT_EQ(d.context, context);
    EXPECT_EQ(d.w, 1);
    EXPECT_FALSE(d.primaries_only);
  }
}

TEST(RequestBuilding, RefusesWhatIsOverALimitNamingIt) {
  Limits limits;
  limits.key_bytes_max = 4;
  limits.value_bytes_max = 8;
  limits.context_bytes_max = 2;
  limits.frame_bytes_max = 88;  // the put below is 96 bytes
  auto status = [&](Result<proto::ClientOp> op) {
    return internal::encode_request(limits, 1, 1, std::move(op)).status();
  };

  EXPECT_TRUE(contains(status(internal::get_op(limits, "", {})).message(), "empty"));
  Status s = status(internal::get_op(limits, "12345", {}));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(s.message(), "key_bytes_max is 4")) << s.message();
  s = status(internal::put_op(limits, "k", "123456789", "", {}));
  EXPECT_TRUE(contains(s.message(), "value_bytes_max is 8")) << s.message();
  s = status(internal::del_op(limits, "k", "123", {}));
  EXPECT_TRUE(contains(s.message(), "context_bytes_max is 2")) << s.message();
  s = status(internal::put_op(limits, "1234", "12345678", "12", {}));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(s.message(), "frame_bytes_max is 88")) << s.message();
}

// --- The client ----------------------------------------------------------------------------

TEST(AsyncClient, PipelinesAThousandRequestsAnsweredOutOfOrder) {
  constexpr std::size_t kRequests = 1000;
  // The node holds every request until the last arrives (so all are in flight at once on
  // the one connection), then answers them in a shuffled order. Gets answer their key's
  // number; every other put is refused (so a mismatch cannot look right).
  std::vector<proto::ClientRequest> held;
  std::mt19937 rng(42);
  FakeServer server([&](const proto::ClientRequest& request) {
    held.push_back(request);
    Reply reply;
    if (held.size() < kRequests) return reply;
    std::shuffle(held.begin(), held.end(), rng);
    for (const auto& r : held) {
      const std::string& key = key_of(r);
      if (std::holds_alternative<proto::GetRequest>(r.op)) {
        reply.responses.push_back(
            answer(r.request_id, Status::ok(), proto::GetResponse{{"v" + key}, "c" + key}));
      } else {
        bool refuse = std::stoul(key) % 4 == 1;
        reply.responses.push_back(
            answer(r.request_id, refuse ? Status::overloaded("no: " + key) : Status::ok()));
      }
    }
    return reply;
  });
  asio::io_context io;
  AsyncOptions options = options_for(server.address());
  options.retry_overloaded = false;  // the refusals are answers to check here
  AsyncClient client(io, options);

  std::vector<Outcome> outcomes(kRequests);
  for (std::size_t i = 0; i < kRequests; ++i) {
    std::string key = std::to_string(i);
    if (i % 2 == 0) {
      client.get(key, {}, outcomes[i].get_callback());
    } else {
      client.put(key, "value " + key, "", {}, outcomes[i].write_callback());
    }
  }
  EXPECT_EQ(client.in_flight(), kRequests);
  EXPECT_TRUE(
      std::all_of(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.calls == 0; }));

  ASSERT_TRUE(run_until(io, [&] { return client.in_flight() == 0; }));
  for (std::size_t i = 0; i < kRequests; ++i) {
    std::string key = std::to_string(i);
    ASSERT_EQ(outcomes[i].calls, 1) << i;
    if (i % 2 == 0) {
      ASSERT_TRUE(outcomes[i].get->is_ok()) << i << ": " << outcomes[i].status.to_string();
      EXPECT_EQ((*outcomes[i].get)->values, std::vector<std::string>{"v" + key});
      EXPECT_EQ((*outcomes[i].get)->context, "c" + key);
    } else if (i % 4 == 1) {
      EXPECT_EQ(outcomes[i].status, Status::overloaded("no: " + key)) << i;
    } else {
      EXPECT_TRUE(outcomes[i].status.is_ok()) << i << ": " << outcomes[i].status.to_string();
    }
  }
  EXPECT_EQ(server.connections_accepted(), 1u);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), kRequests);
  std::vector<uint64_t> ids;
  for (const auto& r : requests) ids.push_back(r.request_id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());  // all distinct
  EXPECT_NE(ids.front(), 0u);
  EXPECT_EQ(requests.front().timeout_ms, server_timeout_ms(5000));
}

TEST(AsyncClient, AnUnansweredRequestTimesOutAndItsLateAnswerIsIgnored) {
  std::optional<uint64_t> slow_id;
  FakeServer server([&](const proto::ClientRequest& request) {
    Reply reply;
    if (key_of(request) == "slow") {
      slow_id = request.request_id;  // answered late, just before the next request's answer
      return reply;
    }
    if (slow_id) {
      reply.responses.push_back(
          answer(*slow_id, Status::ok(), proto::GetResponse{{"late"}, "late"}));
    }
    reply.responses.push_back(
        answer(request.request_id, Status::ok(), proto::GetResponse{{"fast"}, "c"}));
    return reply;
  });
  asio::io_context io;
  AsyncClient client(io, options_for(server.address(), /*timeout_ms=*/5000));

  Outcome slow;
  auto start = std::chrono::steady_clock::now();
  client.get("slow", ReadOptions{0, 150, false}, slow.get_callback());
  ASSERT_TRUE(run_until(io, [&] { return slow.calls == 1; }));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(slow.status.code(), StatusCode::kTimeout) << slow.status.to_string();
  EXPECT_TRUE(contains(slow.status.message(), server.address())) << slow.status.message();
  EXPECT_TRUE(contains(slow.status.message(), "150 ms")) << slow.status.message();
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 2000ms);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].timeout_ms, server_timeout_ms(150));

  Outcome fast;
  client.get("fast", {}, fast.get_callback());
  ASSERT_TRUE(run_until(io, [&] { return fast.calls == 1; }));
  ASSERT_TRUE(fast.get->is_ok()) << fast.status.to_string();
  EXPECT_EQ((*fast.get)->values, std::vector<std::string>{"fast"});
  EXPECT_EQ(slow.calls, 1);  // the late answer was discarded
  EXPECT_EQ(client.in_flight(), 0u);
  EXPECT_EQ(server.connections_accepted(), 1u);  // a timeout does not end the connection
}

TEST(AsyncClient, TheNodeClosingCompletesEveryPendingRequestAndTheNextReconnects) {
  FakeServer server([](const proto::ClientRequest& request) {
    Reply reply;
    if (key_of(request) == "close") reply.close = true;
    if (key_of(request) == "answer") {
      reply.responses.push_back(answer(request.request_id, Status::ok()));
    }
    return reply;  // anything else: never answered
  });
  asio::io_context io;
  AsyncClient client(io, options_for(server.address()));

  std::vector<Outcome> outcomes(6);
  for (int i = 0; i < 5; ++i) client.get("held", {}, outcomes[i].get_callback());
  client.put("close", "v", "", {}, outcomes[5].write_callback());
  ASSERT_TRUE(run_until(io, [&] { return client.in_flight() == 0; }));
  for (const auto& outcome : outcomes) {
    EXPECT_EQ(outcome.calls, 1);
    EXPECT_EQ(outcome.status.code(), StatusCode::kUnavailable) << outcome.status.to_string();
    EXPECT_TRUE(contains(outcome.status.message(), server.address())) << outcome.status.message();
    EXPECT_TRUE(contains(outcome.status.message(), "closed")) << outcome.status.message();
  }

  Outcome next;
  client.put("answer", "v", "", {}, next.write_callback());
  ASSERT_TRUE(run_until(io, [&] { return next.calls == 1; }));
  EXPECT_TRUE(next.status.is_ok()) << next.status.to_string();
  EXPECT_EQ(server.connections_accepted(), 2u);
}

TEST(AsyncClient, AnswerWithRequestIdZeroFailsEveryPendingRequestWithTheNodesError) {
  FakeServer server([](const proto::ClientRequest& request) {
    Reply reply;
    if (key_of(request) == "bad") {
      reply.responses.push_back(answer(0, Status::invalid_argument("frame_bytes_max is 1")));
      reply.close = true;
    }
    return reply;
  });
  asio::io_context io;
  AsyncClient client(io, options_for(server.address()));
  Outcome held, bad;
  client.get("held", {}, held.get_callback());
  client.get("bad", {}, bad.get_callback());
  ASSERT_TRUE(run_until(io, [&] { return client.in_flight() == 0; }));
  for (const Outcome* o : {&held, &bad}) {
    EXPECT_EQ(o->calls, 1);
    EXPECT_EQ(o->status.code(), StatusCode::kInvalidArgument) << o->status.to_string();
    EXPECT_TRUE(contains(o->status.message(), "frame_bytes_max is 1")) << o->status.message();
    EXPECT_TRUE(contains(o->status.message(), server.address())) << o->status.message();
  }
}

TEST(AsyncClient, ARefusedConnectCompletesWithUnavailableNamingTheNode) {
  std::string node = refusing_address();
  asio::io_context io;
  AsyncClient client(io, options_for(node));
  Outcome get, put;
  client.get("k", {}, get.get_callback());
  client.put("k", "v", "", {}, put.write_callback());
  ASSERT_TRUE(run_until(io, [&] { return client.in_flight() == 0; }));
  for (const Outcome* o : {&get, &put}) {
    EXPECT_EQ(o->calls, 1);
    EXPECT_EQ(o->status.code(), StatusCode::kUnavailable) << o->status.to_string();
    EXPECT_TRUE(contains(o->status.message(), "cannot connect to " + node)) << o->status.message();
    EXPECT_TRUE(contains(o->status.message(), "connect failed")) << o->status.message();
  }
}

TEST(AsyncClient, AHostNameIsResolvedAndTheClientMayGoWhileResolving) {
  MemoryStore store;
  FakeServer server(store.script());
  std::string node = "localhost" + server.address().substr(server.address().rfind(':'));
  asio::io_context io;
  {
    AsyncClient client(io, options_for(node));
    Outcome get;
    client.get("k", {}, get.get_callback());
    ASSERT_TRUE(run_until(io, [&] { return get.calls == 1; }));
    EXPECT_TRUE(get.get->is_ok()) << get.status.to_string();
  }
  Outcome gone;
  {
    AsyncClient client(io, options_for(node));
    client.get("k", {}, gone.get_callback());
  }  // while resolving: the resolve's completion must not touch the client
  EXPECT_EQ(gone.status, Status::unavailable("the client was closed"));
  io.restart();
  io.run();  // until the resolve and everything else left behind has completed
  EXPECT_EQ(gone.calls, 1);
}

TEST(AsyncClient, AMalformedNodeAddressCompletesWithUnavailable) {
  asio::io_context io;
  AsyncClient client(io, options_for("no-port"));
  Outcome get;
  client.get("k", {}, get.get_callback());
  EXPECT_EQ(get.calls, 0);
  ASSERT_TRUE(run_until(io, [&] { return get.calls == 1; }));
  EXPECT_EQ(get.status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(
      contains(get.status.message(), "no-port: node address 'no-port': the port is missing"))
      << get.status.message();
}

TEST(AsyncClient, OversizedRequestsAreRejectedLocallyAndNothingIsSent) {
  FakeServer server([](const proto::ClientRequest&) { return Reply{}; });
  asio::io_context io;
  AsyncOptions options = options_for(server.address());
  options.limits.key_bytes_max = 8;
  options.limits.value_bytes_max = 16;
  options.limits.context_bytes_max = 4;
  AsyncClient client(io, options);

  Outcome key, value, context, del;
  client.get(std::string(9, 'k'), {}, key.get_callback());
  client.put("k", std::string(17, 'v'), "", {}, value.write_callback());
  client.put("k", "v", "12345", {}, context.write_callback());
  client.del("k", "12345", {}, del.write_callback());
  EXPECT_EQ(key.calls + value.calls + context.calls + del.calls, 0);  // never in the call
  EXPECT_EQ(client.in_flight(), 4u);
  ASSERT_TRUE(run_until(io, [&] { return client.in_flight() == 0; }));

  EXPECT_EQ(key.status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(key.status.message(), "key_bytes_max is 8")) << key.status.message();
  EXPECT_TRUE(contains(value.status.message(), "value_bytes_max is 16")) << value.status.message();
  EXPECT_TRUE(contains(context.status.message(), "context_bytes_max is 4"));
  EXPECT_TRUE(contains(del.status.message(), "context_bytes_max is 4"));
  for (const Outcome* o : {&key, &value, &context, &del}) EXPECT_EQ(o->calls, 1);
  EXPECT_EQ(server.connections_accepted(), 0u);  // not even a connection was opened
  EXPECT_TRUE(server.requests().empty());
}

TEST(AsyncClient, CloseCompletesEverythingBeforeItReturnsAndALaterRequestReconnects) {
  FakeServer server([](const proto::ClientRequest& request) {
    Reply reply;
    if (key_of(request) == "answer") {
      reply.responses.push_back(answer(request.request_id, Status::ok()));
    }
    return reply;
  });
  asio::io_context io;
  AsyncClient client(io, options_for(server.address()));

  // Sent and unanswered, then one rejected locally.
  std::vector<Outcome> outcomes(10);
  for (auto& outcome : outcomes) client.get("held", {}, outcome.get_callback());
  ASSERT_TRUE(run_until(io, [&] { return server.requests().size() == 10; }));
  Outcome rejected;
  client.get("", {}, rejected.get_callback());
  EXPECT_EQ(client.in_flight(), 11u);

  client.close();
  EXPECT_EQ(client.in_flight(), 0u);
  for (const auto& outcome : outcomes) {
    EXPECT_EQ(outcome.calls, 1);
    EXPECT_EQ(outcome.status, Status::unavailable("the client was closed"));
  }
  EXPECT_EQ(rejected.calls, 1);
  EXPECT_EQ(rejected.status.code(), StatusCode::kInvalidArgument);

  // While connecting: the connect's completion, still to come, must be ignored.
  Outcome connecting;
  client.get("held", {}, connecting.get_callback());
  client.close();
  EXPECT_EQ(connecting.status, Status::unavailable("the client was closed"));

  Outcome later;
  client.put("answer", "v", "", {}, later.write_callback());
  ASSERT_TRUE(run_until(io, [&] { return later.calls == 1; }));
  EXPECT_TRUE(later.status.is_ok()) << later.status.to_string();
  EXPECT_EQ(connecting.calls, 1);
  EXPECT_GE(server.connections_accepted(), 2u);
}

TEST(AsyncClient, TheDestructorCompletesEverythingEvenWhatItsCallbacksIssue) {
  FakeServer server([](const proto::ClientRequest&) { return Reply{}; });
  asio::io_context io;
  Outcome sent, reissued, rejected;
  {
    AsyncClient client(io, options_for(server.address()));
    client.get("held", {}, [&](Result<GetResult> result) {
      sent.get_callback()(std::move(result));
      client.get("again", {}, reissued.get_callback());
    });
    ASSERT_TRUE(run_until(io, [&] { return server.requests().size() == 1; }));
    client.get("", {}, rejected.get_callback());
  }
  EXPECT_EQ(sent.calls, 1);
  EXPECT_EQ(sent.status, Status::unavailable("the client was closed"));
  EXPECT_EQ(reissued.calls, 1);
  EXPECT_EQ(reissued.status, Status::unavailable("the client was closed"));
  EXPECT_EQ(rejected.calls, 1);
  EXPECT_EQ(rejected.status.code(), StatusCode::kInvalidArgument);
  // The posted handlers left behind find no client and do nothing.
  io.restart();
  io.poll();
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(AsyncClient, ACallbackMayIssueRequestsAndDestroyTheClient) {
  MemoryStore store;
  FakeServer server(store.script());
  asio::io_context io;
  auto client = std::make_unique<AsyncClient>(io, options_for(server.address()));

  // put -> get -> put with the context -> get: each issued from the previous callback.
  Outcome missing;
  std::vector<std::string> final_values;
  bool done = false;
  client->get("k", {}, [&](Result<GetResult> missing_result) {
    missing.get_callback()(std::move(missing_result));
    client->put("k", "v1", "", {}, [&](Result<WriteResult> put1) {
      ASSERT_TRUE(put1.is_ok()) << put1.status().to_string();
      client->get("k", {}, [&, written = put1->context](Result<GetResult> got) {
        ASSERT_TRUE(got.is_ok());
        EXPECT_EQ(got->context, written) << "a put answers with its new context";
        client->put("k", "v2", got->context, {}, [&](Result<WriteResult> put2) {
          ASSERT_TRUE(put2.is_ok());
          client->get("k", {}, [&](Result<GetResult> last) {
            ASSERT_TRUE(last.is_ok());
            final_values = last->values;
            done = true;
          });
        });
      });
    });
  });
  ASSERT_TRUE(run_until(io, [&] { return done; }));
  // A missing key is ok, with no values and the node's context (client.h's semantics).
  ASSERT_TRUE(missing.get->is_ok());
  EXPECT_FALSE((*missing.get)->found());
  EXPECT_EQ((*missing.get)->context, "v0");
  EXPECT_EQ(final_values, std::vector<std::string>{"v2"});  // the context superseded v1

  // A callback destroys the client while another request is pending on it.
  Outcome first, second;
  client->get("k", {}, [&](Result<GetResult> result) {
    first.get_callback()(std::move(result));
    client.reset();
  });
  client->put("k", "v3", "", {}, second.write_callback());
  // The first answer's callback destroys the client: the second completes then, either way.
  ASSERT_TRUE(run_until(io, [&] { return first.calls == 1 && second.calls == 1; }));
  EXPECT_TRUE(first.get->is_ok());
  EXPECT_TRUE(second.status.is_ok() ||
              second.status == Status::unavailable("the client was closed"))
      << second.status.to_string();
  EXPECT_EQ(client, nullptr);
  io.restart();
  io.poll();  // handlers left behind do nothing
}

TEST(AsyncClient, ARequestRefusedAsOverloadedIsSentAgainAfterABackoff) {
  // Load shedding refuses before any work, so sending again is safe, even for a write.
  std::map<uint64_t, int> refusals;
  FakeServer server([&](const proto::ClientRequest& request) {
    Reply reply;
    const bool refuse = refusals[request.request_id]++ < 2;
    reply.responses.push_back(
        answer(request.request_id,
               refuse ? Status::overloaded("client_requests_in_flight_max") : Status::ok()));
    return reply;
  });
  asio::io_context io;
  AsyncClient client(io, options_for(server.address()));
  Outcome outcome;
  client.put("k", "v", "", {}, outcome.write_callback());
  ASSERT_TRUE(run_until(io, [&] { return outcome.calls == 1; }));
  EXPECT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u) << "refused twice, then taken";
  for (const auto& r : requests) EXPECT_EQ(r.request_id, requests[0].request_id);
}

TEST(AsyncClient, ANodeThatStaysOverloadedEndsTheRequestOverloadedAtItsDeadline) {
  FakeServer server([&](const proto::ClientRequest& request) {
    Reply reply;
    reply.responses.push_back(
        answer(request.request_id, Status::overloaded("client_requests_in_flight_max is 10")));
    return reply;
  });
  asio::io_context io;
  AsyncClient client(io, options_for(server.address(), /*timeout_ms=*/300));
  Outcome outcome;
  client.get("k", {}, outcome.get_callback());
  ASSERT_TRUE(run_until(io, [&] { return outcome.calls == 1; }));
  EXPECT_EQ(outcome.status.code(), StatusCode::kOverloaded);
  EXPECT_TRUE(contains(outcome.status.message(), "stayed overloaded for 300 ms"))
      << outcome.status.message();
  EXPECT_TRUE(contains(outcome.status.message(), "client_requests_in_flight_max is 10"));
  // Backoffs of 10..250 ms (jittered) within 300 ms: a handful of sends, not a flood.
  EXPECT_GE(server.requests().size(), 2u);
  EXPECT_LE(server.requests().size(), 40u);
}

}  // namespace
}  // namespace qkv::client
