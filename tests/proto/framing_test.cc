// Frames are found in a byte stream however it is split; oversized and corrupt frames are errors.
#include "proto/framing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <optional>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "proto/client.capnp.h"
#include "proto/client_codec.h"

namespace qkv::proto {
namespace {

using ::testing::HasSubstr;

void feed(FrameReader& reader, const void* data, std::size_t n) {
  auto span = reader.prepare(n);
  std::memcpy(span.data(), data, n);
  reader.commit(n);
}

TEST(FramingTest, FramesSplitAcrossReadsComeOutWholeAndInOrder) {
  std::vector<kj::Array<capnp::word>> frames;
  std::string stream;
  for (uint64_t i = 0; i < 50; ++i) {
    std::string key = "k";
    key += std::to_string(i);
    frames.push_back(encode(ClientRequest{i, 0, PutRequest{key, std::string(i * 37, 'v'), "", 0}}));
    stream.append(frames.back().asChars().begin(), frames.back().asChars().size());
  }
  FrameReader reader(1 << 20);
  std::size_t pos = 0, chunk = 1;
  uint64_t next = 0;
  while (pos < stream.size()) {
    std::size_t n = std::min(chunk, stream.size() - pos);
    feed(reader, stream.data() + pos, n);
    pos += n;
    chunk = chunk * 3 % 101 + 1;  // odd split sizes, 1..101 bytes
    for (;;) {
      auto frame = reader.next();
      ASSERT_TRUE(frame.is_ok());
      if (!frame.value()) break;
      auto request = decode_client_request(*frame.value());
      ASSERT_TRUE(request.is_ok());
      EXPECT_EQ(request->request_id, next++);
    }
  }
  EXPECT_EQ(next, 50u);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(FramingTest, AFrameOverTheLimitIsRefusedNamingIt) {
  auto frame = encode(ClientRequest{1, 0, PutRequest{"k", std::string(5000, 'x'), "", 0}});
  FrameReader reader(4096);
  feed(reader, frame.asBytes().begin(), 16);  // the segment table alone is enough to refuse
  auto next = reader.next();
  EXPECT_EQ(next.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(next.status().message(), HasSubstr("frame_bytes_max is 4096"));
}

TEST(FramingTest, AnImpossibleSegmentCountIsCorruption) {
  FrameReader reader(1 << 20);
  uint32_t header[2] = {100000, 1};
  feed(reader, header, sizeof header);
  EXPECT_EQ(reader.next().status().code(), StatusCode::kCorruption);
}

TEST(ClientCodecTest, RequestsAndResponsesRoundTrip) {
  ClientRequest get{7, 250, GetRequest{std::string("k\0ey", 4), 3}};
  auto g = decode_client_request(encode(get));
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(std::get<GetRequest>(g->op).key, std::string("k\0ey", 4));
  EXPECT_EQ(std::get<GetRequest>(g->op).r, 3);
  EXPECT_EQ(g->timeout_ms, 250u);
  EXPECT_TRUE(std::holds_alternative<DeleteRequest>(
      decode_client_request(encode(ClientRequest{1, 0, DeleteRequest{"k", "c", 1}}))->op));
  EXPECT_TRUE(std::holds_alternative<StatusRequest>(
      decode_client_request(encode(ClientRequest{1, 0, StatusRequest{}}))->op));

  ClientResponse resp{7, Status::unavailable("write quorum not met"),
                      GetResponse{{"a", "b"}, "ctx"}};
  auto r = decode_client_response(encode(resp));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->status, resp.status);
  EXPECT_EQ(std::get<GetResponse>(r->body).values, (std::vector<std::string>{"a", "b"}));

  StatusResponse st;
  st.node_id = "n1";
  st.counters = {{"a", 1}, {"b", 2}};
  auto s = decode_client_response(encode(ClientResponse{1, Status::ok(), st}));
  EXPECT_EQ(std::get<StatusResponse>(s->body).counters, st.counters);

  auto p = decode_client_response(encode(ClientResponse{2, Status::ok(), PutResponse{"vv"}}));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(std::get<PutResponse>(p->body).context, "vv");
}

TEST(ClientCodecTest, AGetCarriesPrAndItsAnswerTheReplicasThatAnswered) {
  auto g = decode_client_request(encode(ClientRequest{3, 0, GetRequest{"k", 2, false, 2}}));
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(std::get<GetRequest>(g->op).pr, 2);
  EXPECT_EQ(
      std::get<GetRequest>(decode_client_request(encode(ClientRequest{4, 0, GetRequest{"k"}}))->op)
          .pr,
      0)
      << "a request without pr (an older client's) asks for no primaries";
  auto quorum = decode_client_request(
      encode(ClientRequest{5, 0, GetRequest{"k", 2, false, 0, ReadFanout::kQuorum}}));
  ASSERT_TRUE(quorum.is_ok());
  EXPECT_EQ(std::get<GetRequest>(quorum->op).fanout, ReadFanout::kQuorum);
  EXPECT_EQ(
      std::get<GetRequest>(decode_client_request(encode(ClientRequest{4, 0, GetRequest{"k"}}))->op)
          .fanout,
      ReadFanout::kDefault)
      << "a request without a fanout (an older client's) gets the node's";
  auto unknown = encode(ClientRequest{6, 0, GetRequest{"k", 2, false, 0, ReadFanout::kQuorum}});
  {
    // A fanout from a newer client: the enum's raw value past the last one this node knows.
    capnp::FlatArrayMessageReader reader(unknown);
    capnp::MallocMessageBuilder builder;
    builder.setRoot(reader.getRoot<wire::ClientRequest>());
    builder.getRoot<wire::ClientRequest>().getGet().setFanout(static_cast<wire::ReadFanout>(9));
    unknown = capnp::messageToFlatArray(builder);
  }
  auto refused = decode_client_request(unknown);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("unknown read fanout 9"));

  GetResponse body{{"v"}, "ctx", {{"n1", false}, {"n4", true}}};
  auto r = decode_client_response(encode(ClientResponse{3, Status::ok(), body}));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(std::get<GetResponse>(r->body).replicas, body.replicas);
}

TEST(ClientCodecTest, ConditionsAndSiblingMetadataRoundTrip) {
  PutRequest put{"k", "v", "ctx", 2, false, 0, WriteCondition::kIfAbsent};
  auto p = decode_client_request(encode(ClientRequest{5, 0, put}));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(std::get<PutRequest>(p->op).condition, WriteCondition::kIfAbsent);
  DeleteRequest del{"k", "ctx", 0, false, WriteCondition::kIfUnchanged};
  auto d = decode_client_request(encode(ClientRequest{6, 0, del}));
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(std::get<DeleteRequest>(d->op).condition, WriteCondition::kIfUnchanged);

  GetResponse body{{"a", "b"},
                   "ctx",
                   {},
                   {{false, 1700000000123, "n1", 0},
                    {false, 1700000000456, "n2", 1700000009000},
                    {true, 1700000000789, "n3", 0}}};
  auto r = decode_client_response(encode(ClientResponse{5, Status::ok(), body}));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(std::get<GetResponse>(r->body).siblings, body.siblings);

  auto refused = decode_client_response(
      encode(ClientResponse{6, Status::precondition_failed("key exists"), std::monostate{}}));
  ASSERT_TRUE(refused.is_ok());
  EXPECT_EQ(refused->status.code(), StatusCode::kPreconditionFailed);
  EXPECT_EQ(refused->status.to_string(), "precondition_failed: key exists");
}

TEST(ClientCodecTest, AnUnknownWriteConditionIsRefusedNotDropped) {
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<wire::ClientRequest>();
  request.setRequestId(1);
  auto put = request.initPut();
  put.setKey(kj::StringPtr("k").asBytes());
  put.setCondition(static_cast<wire::WriteCondition>(7));
  auto got = decode_client_request(capnp::messageToFlatArray(message));
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr("write condition 7"));
}

TEST(ClientCodecTest, RepairRequestRoundTripsWithAndWithoutAPartition) {
  auto all = decode_client_request(encode(ClientRequest{3, 100, RepairRequest{}}));
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  ASSERT_TRUE(std::holds_alternative<RepairRequest>(all->op));
  EXPECT_EQ(std::get<RepairRequest>(all->op).partition, std::nullopt);
  EXPECT_STREQ(op_name(all->op), "repair");

  // Partition 0 is a partition, not "none": the presence travels on its own.
  for (uint32_t partition : {0u, 17u, UINT32_MAX}) {
    auto one = decode_client_request(encode(ClientRequest{4, 0, RepairRequest{partition}}));
    ASSERT_TRUE(one.is_ok());
    EXPECT_EQ(std::get<RepairRequest>(one->op).partition, std::optional<uint32_t>(partition));
  }
}

TEST(ClientCodecTest, SnapshotRequestAndResponseRoundTrip) {
  auto request = decode_client_request(encode(ClientRequest{9, 0, SnapshotRequest{"/s/n1-1"}}));
  ASSERT_TRUE(request.is_ok());
  EXPECT_EQ(std::get<SnapshotRequest>(request->op).dir, "/s/n1-1");
  EXPECT_STREQ(op_name(request->op), "snapshot");
  const SnapshotResponse taken{"/s/n1-1", 123456789012, 17};
  auto response = decode_client_response(encode(ClientResponse{9, Status::ok(), taken}));
  ASSERT_TRUE(response.is_ok());
  EXPECT_EQ(std::get<SnapshotResponse>(response->body), taken);
}

TEST(ClientCodecTest, RepairResponseRoundTrips) {
  auto r = decode_client_response(encode(ClientResponse{5, Status::ok(), RepairResponse{256}}));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->request_id, 5u);
  EXPECT_EQ(std::get<RepairResponse>(r->body).partitions, 256u);
}

TEST(ClientCodecTest, StatusCarriesRepairProgressAndExchanges) {
  StatusResponse st;
  st.node_id = "n2";
  st.repair = RepairProgress{true, 256, 12, 1, 3400, 120, 1258291, "n3: exchange timed out"};
  st.exchanges = {{0, 0}, {5, 1700000000123}, {255, -1}};
  auto s = decode_client_response(encode(ClientResponse{1, Status::ok(), st}));
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  const auto& got = std::get<StatusResponse>(s->body);
  EXPECT_EQ(got.repair, st.repair);
  EXPECT_EQ(got.exchanges, st.exchanges);

  // No repair run and no partitions replicated: zeros and an empty list.
  auto empty = decode_client_response(encode(ClientResponse{1, Status::ok(), StatusResponse{}}));
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(std::get<StatusResponse>(empty->body).repair, RepairProgress{});
  EXPECT_TRUE(std::get<StatusResponse>(empty->body).exchanges.empty());
}

TEST(ClientCodecTest, ImpossibleRepairCountsAreCorruptionNamingThem) {
  StatusResponse st;
  st.repair.partitions_total = 4;
  st.repair.partitions_done = 5;
  auto s = decode_client_response(encode(ClientResponse{1, Status::ok(), st}));
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(s.status().message(), HasSubstr("5 partitions done and 0 failed of 4"));

  st.repair.partitions_done = 2;
  st.repair.partitions_failed = 3;
  EXPECT_EQ(decode_client_response(encode(ClientResponse{1, Status::ok(), st})).status().code(),
            StatusCode::kCorruption);
}

TEST(ClientCodecTest, GarbageIsCorruptionNotACrash) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(4);
  std::memset(words.asBytes().begin(), 0xAB, words.asBytes().size());
  auto result = decode_client_request(words);
  EXPECT_FALSE(result.is_ok());
}

}  // namespace
}  // namespace qkv::proto
