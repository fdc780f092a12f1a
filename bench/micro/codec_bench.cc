// Micro-benchmarks of the wire and storage codecs: the client's put request
// (proto/client_codec.h, and the SDK's direct encoder client/request_building.h), the
// replica write between nodes and its ack, the stored sibling set (node/wire/replica_codec.h).
// Bytes: the encoded size (frame or stored value), so bytes/s compares with link and disk.
#include <benchmark/benchmark.h>

#include <capnp/common.h>
#include <kj/array.h>

#include <string>
#include <utility>
#include <variant>

#include "bench/micro/fixtures.h"
#include "client/request_building.h"
#include "node/wire/peer_message.h"
#include "node/wire/replica_codec.h"
#include "proto/client_codec.h"

namespace qkv::bench::micro {
namespace {

constexpr uint64_t kRequestId = 123'456;
constexpr uint32_t kTimeoutMs = 4'900;

int64_t frame_bytes(const kj::Array<capnp::word>& frame) {
  return static_cast<int64_t>(frame.size() * sizeof(capnp::word));
}

// A client's overwrite: 14-byte key, kValueBytes value, the causal context of a
// three-primary key (as a get returned it).
proto::ClientRequest put_request() {
  proto::PutRequest put;
  put.key = key_name(4'242);
  put.value = value_of('v');
  put.context = node::encode_context(three_actor_state(1).version_vector());
  return proto::ClientRequest{kRequestId, kTimeoutMs, std::move(put)};
}

// proto::encode of a ClientRequest already built (its strings are not counted).
void BM_ClientPutEncode(benchmark::State& state) {
  const proto::ClientRequest request = put_request();
  int64_t bytes = 0;
  for (auto _ : state) {
    kj::Array<capnp::word> frame = proto::encode(request);
    bytes = frame_bytes(frame);
    benchmark::DoNotOptimize(frame.begin());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_ClientPutEncode);

// The SDK's path: limit checks, the op built from the caller's string_views, encoded.
void BM_ClientPutBuildAndEncode(benchmark::State& state) {
  const proto::ClientRequest request = put_request();
  const auto& put = std::get<proto::PutRequest>(request.op);
  const Limits limits;
  const client::WriteOptions options;
  int64_t bytes = 0;
  for (auto _ : state) {
    Result<kj::Array<capnp::word>> frame = client::internal::encode_request(
        limits, kRequestId, kTimeoutMs,
        client::internal::put_op(limits, put.key, put.value, put.context, options));
    if (!frame.is_ok()) {
      state.SkipWithError("encode_request failed");
      break;
    }
    bytes = frame_bytes(*frame);
    benchmark::DoNotOptimize(frame->begin());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_ClientPutBuildAndEncode);

void BM_ClientPutDecode(benchmark::State& state) {
  const kj::Array<capnp::word> frame = proto::encode(put_request());
  for (auto _ : state) {
    Result<proto::ClientRequest> request = proto::decode_client_request(frame.asPtr());
    if (!request.is_ok()) {
      state.SkipWithError("decode_client_request failed");
      break;
    }
    benchmark::DoNotOptimize(request);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * frame_bytes(frame));
}
BENCHMARK(BM_ClientPutDecode);

// The coordinator's replica write to a primary: the key's new state, one kValueBytes
// sibling with a three-actor version vector.
node::PeerMessage replica_write() {
  return node::PeerMessage{"n1", kRequestId,
                           node::ReplicaWrite{key_name(4'242), three_actor_state(1), NodeId()}};
}

void BM_ReplicaWriteEncode(benchmark::State& state) {
  const node::PeerMessage message = replica_write();
  int64_t bytes = 0;
  for (auto _ : state) {
    kj::Array<capnp::word> frame = node::encode(message);
    bytes = frame_bytes(frame);
    benchmark::DoNotOptimize(frame.begin());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_ReplicaWriteEncode);

// A replica's ack of a write: the frame sent back for every replica write.
void BM_ReplicaWriteAckEncode(benchmark::State& state) {
  const node::PeerMessage message{"n2", kRequestId, node::ReplicaWriteAck{Status::ok()}};
  for (auto _ : state) {
    kj::Array<capnp::word> frame = node::encode(message);
    benchmark::DoNotOptimize(frame.begin());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReplicaWriteAckEncode);

void BM_ReplicaWriteDecode(benchmark::State& state) {
  const kj::Array<capnp::word> frame = node::encode(replica_write());
  for (auto _ : state) {
    Result<node::PeerMessage> message = node::decode_peer_message(frame.asPtr());
    if (!message.is_ok()) {
      state.SkipWithError("decode_peer_message failed");
      break;
    }
    benchmark::DoNotOptimize(message);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * frame_bytes(frame));
}
BENCHMARK(BM_ReplicaWriteDecode);

// The stored form of a key's state (RocksDB value), with 1 or 3 siblings of kValueBytes.
void BM_SiblingSetEncode(benchmark::State& state) {
  const causal::SiblingSet key_state = three_actor_state(static_cast<int>(state.range(0)));
  int64_t bytes = 0;
  for (auto _ : state) {
    std::string stored = node::encode_sibling_set(key_state);
    bytes = static_cast<int64_t>(stored.size());
    benchmark::DoNotOptimize(stored);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_SiblingSetEncode)->ArgName("siblings")->Arg(1)->Arg(3);

void BM_SiblingSetDecode(benchmark::State& state) {
  const std::string stored =
      node::encode_sibling_set(three_actor_state(static_cast<int>(state.range(0))));
  for (auto _ : state) {
    Result<causal::SiblingSet> key_state = node::decode_sibling_set(stored);
    if (!key_state.is_ok()) {
      state.SkipWithError("decode_sibling_set failed");
      break;
    }
    benchmark::DoNotOptimize(key_state);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stored.size()));
}
BENCHMARK(BM_SiblingSetDecode)->ArgName("siblings")->Arg(1)->Arg(3);

// The opaque causal context of a three-primary key, as every get returns and put decodes.
void BM_ContextEncodeDecode(benchmark::State& state) {
  const causal::VersionVector vv = three_actor_state(1).version_vector();
  for (auto _ : state) {
    std::string context = node::encode_context(vv);
    Result<causal::VersionVector> decoded = node::decode_context(context);
    if (!decoded.is_ok()) {
      state.SkipWithError("decode_context failed");
      break;
    }
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContextEncodeDecode);

}  // namespace
}  // namespace qkv::bench::micro
