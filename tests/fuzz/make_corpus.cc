// Writes the seed corpus of the fuzz harnesses (docs/fuzzing.md) from the real encoders, so
// every seed is a valid input the fuzzer mutates from:
//   build-fuzz/tests/fuzz/make_fuzz_corpus tests/fuzz/corpus
// writes <dir>/<harness>/<name> files (and leaves other files there alone: hand-made edge
// cases live beside the generated ones). Deterministic: the same build writes the same bytes.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include "antientropy/merkle_tree.h"
#include "node/handoff/hint_value.h"
#include "node/storage/key_codec.h"
#include "node/wire/replica_codec.h"
#include "proto/client_codec.h"

namespace qkv::fuzz {
namespace {

namespace fs = std::filesystem;

class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path root) : root_(std::move(root)) {}

  void write(std::string_view harness, std::string_view name, std::string_view bytes) {
    fs::path dir = root_ / harness;
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ++files_;
  }
  void write(std::string_view harness, std::string_view name, kj::Array<capnp::word> words) {
    auto chars = words.asChars();
    write(harness, name, std::string_view(chars.begin(), chars.size()));
  }
  int files() const { return files_; }

 private:
  fs::path root_;
  int files_ = 0;
};

causal::SiblingSet two_siblings() {
  auto a = causal::SiblingSet().update({}, {"n1", 7}, std::string("x\0y", 3));
  auto b = causal::SiblingSet().update({}, {"n2", 9}, std::nullopt);
  return causal::SiblingSet::join(a, b);
}

gossip::NodeState node_state(const std::string& id) {
  gossip::NodeState s{id, 3, 7, id + ":7100", id + ":7000", "z1", gossip::Status::kNormal};
  s.ring_version = 2;
  s.heartbeat = 9;
  s.http_address = id + ":7200";
  s.cluster_id = 77;
  return s;
}

gossip::RingState ring_state() {
  gossip::RingState ring{5, 2, {"n1", "n2", "n3", "n1"}, {"n1", "n2", "n2", "n1"}, "n1", 77};
  ring.removed = {"n3"};
  return ring;
}

void client_requests(CorpusWriter& out) {
  using namespace proto;
  out.write("client_request", "get", encode(ClientRequest{1, 0, GetRequest{"key", 2, false, 1}}));
  out.write("client_request", "put",
            encode(ClientRequest{2, 900, PutRequest{"k", "value", "ctx", 3, true}}));
  out.write("client_request", "delete", encode(ClientRequest{3, 0, DeleteRequest{"k", "c", 2}}));
  out.write("client_request", "ring", encode(ClientRequest{4, 0, RingRequest{}}));
  out.write("client_request", "status", encode(ClientRequest{5, 0, StatusRequest{}}));
  out.write("client_request", "members", encode(ClientRequest{6, 0, MembersRequest{}}));
  out.write("client_request", "repair", encode(ClientRequest{7, 0, RepairRequest{3}}));
  RingAdminRequest admin{RingAction::kStage, RingChangeKind::kReplace, "n2", "n4", 9, true};
  out.write("client_request", "ring_admin", encode(ClientRequest{8, 0, admin}));
  out.write("client_request", "authenticate",
            encode(ClientRequest{9, 0, AuthenticateRequest{"alice", "s3cret"}}));
}

proto::StatusResponse status_response() {
  proto::StatusResponse s;
  s.node_id = "n1";
  s.incarnation = 4;
  s.version = "0.1.0";
  s.uptime_ms = 1000;
  s.n = 3;
  s.r = s.w = 2;
  s.members = {"n1", "n2"};
  s.counters = {{"gets", 5}};
  s.repair = {true, 4, 2, 1, 10, 3, 999, "peer down"};
  s.exchanges = {{1, 1'765'000'000'000}};
  s.transfers = {{2, "n3", 10, 1000, false, true}};
  s.ring_version = 5;
  return s;
}

void client_responses(CorpusWriter& out) {
  using namespace proto;
  GetResponse get{{"a", "b"}, "ctx", {{"n1", false}, {"n4", true}}};
  out.write("client_response", "get", encode(ClientResponse{1, Status::ok(), get}));
  out.write("client_response", "not_found",
            encode(ClientResponse{2, Status::not_found("k"), GetResponse{{}, "ctx"}}));
  out.write("client_response", "put", encode(ClientResponse{3, Status::ok(), PutResponse{"c"}}));
  out.write(
      "client_response", "authenticate",
      encode(ClientResponse{9, Status::ok(), AuthenticateResponse{"alice", {"read", "write:o/"}}}));
  out.write(
      "client_response", "permission_denied",
      encode(ClientResponse{10, Status::permission_denied("user bob lacks the grant admin"), {}}));
  out.write("client_response", "ring",
            encode(ClientResponse{4, Status::ok(), RingResponse{4, 2, {"n1", "n2", "n1", "n2"}}}));
  out.write("client_response", "status",
            encode(ClientResponse{5, Status::ok(), status_response()}));
  MemberInfo member{"n1", "h:1", "h:2", "z", "normal", true, 0.5, 3, 64, 1, 10, 5, 5, "h:3"};
  out.write("client_response", "members",
            encode(ClientResponse{6, Status::ok(), MembersResponse{{member}, 5, 77}}));
  out.write("client_response", "repair",
            encode(ClientResponse{7, Status::ok(), RepairResponse{8}}));
  out.write("client_response", "error",
            encode(ClientResponse{8, Status::overloaded("queue full"), std::monostate{}}));
}

void replica_messages(CorpusWriter& out) {
  using namespace node;
  out.write("peer_message", "replica_write",
            encode(PeerMessage{"n1", 5, ReplicaWrite{"key", two_siblings(), "n3"}, 1765}));
  out.write("peer_message", "replica_read", encode(PeerMessage{"n1", 6, ReplicaRead{"k", true}}));
  out.write(
      "peer_message", "read_reply",
      encode(PeerMessage{"n2", 6, ReplicaReadReply{Status::ok(), two_siblings(), std::nullopt}}));
  out.write("peer_message", "digest_read",
            encode(PeerMessage{"n1", 6, ReplicaRead{"k", false, true}}));
  out.write(
      "peer_message", "digest_reply",
      encode(PeerMessage{"n2", 6,
                         ReplicaReadReply{Status::ok(), std::nullopt,
                                          causal::StateSummary::of(two_siblings()).digest()}}));
  out.write("peer_message", "write_ack",
            encode(PeerMessage{"n2", 5, ReplicaWriteAck{Status::unavailable("x")}}));
  proto::ClientRequest request{42, 900, proto::PutRequest{"k", "v", "ctx", 3}};
  out.write("peer_message", "forward", encode(PeerMessage{"n4", 9, Forward{request}, 1765}));
  proto::ClientResponse response{42, Status::ok(), proto::PutResponse{"ctx"}};
  out.write("peer_message", "forward_reply", encode(PeerMessage{"n4", 9, ForwardReply{response}}));
  out.write("peer_message", "link_ping", encode(PeerMessage{"n1", 1, LinkPing{}}));
  out.write("peer_message", "link_pong", encode(PeerMessage{"n1", 1, LinkPong{}}));
}

void anti_entropy_messages(CorpusWriter& out) {
  using namespace node;
  out.write("peer_message", "tree_request",
            encode(PeerMessage{"n1", 2, TreeRequest{3, 64, 2, {0, 1, 2, 3}}}));
  out.write("peer_message", "tree_reply",
            encode(PeerMessage{"n2", 2, TreeReply{Status::ok(), {{1, 2}, {3, 4}}}}));
  out.write("peer_message", "segment_request",
            encode(PeerMessage{"n1", 3, SegmentRequest{3, 64, {5, 9}}}));
  out.write("peer_message", "segment_reply",
            encode(PeerMessage{"n2", 3, SegmentReply{Status::ok(), 1, {{"k", {5, 6}}}}}));
  out.write("peer_message", "keys_request",
            encode(PeerMessage{"n1", 4, KeysRequest{3, {"a", "b"}}}));
  KeysReply keys{Status::ok(), 2, {{"a", two_siblings()}, {"b", std::nullopt}}};
  out.write("peer_message", "keys_reply", encode(PeerMessage{"n2", 4, keys}));
  TransferRequest transfer{3, 5, std::pair<ring::Token, std::string>{1234, "k"}, 65536};
  out.write("peer_message", "transfer_request", encode(PeerMessage{"n1", 5, transfer}));
  out.write(
      "peer_message", "transfer_reply",
      encode(PeerMessage{"n2", 5, TransferReply{Status::ok(), {{"a", two_siblings()}}, true}}));
}

void gossip_messages(CorpusWriter& out) {
  using namespace node;
  gossip::Syn syn{node_state("n1"), {{"n2", 1, 5, 9}, {"n3", 2, 6, 6}}, 4, true, 99};
  out.write("peer_message", "gossip_syn", encode(PeerMessage{"n1", 0, Gossip{syn}}));
  gossip::Ack ack{node_state("n2"), {node_state("n4")}, {{"n5", 1, 2, 3}}, ring_state(), true};
  ack.heartbeats = {{"n7", 1, 77}};
  ack.heartbeat_requests = {{"n9", 1, 2, 30}};
  ack.ring_version = 5;
  out.write("peer_message", "gossip_ack", encode(PeerMessage{"n2", 0, Gossip{ack}}));
  gossip::Ack2 ack2{{node_state("n4")}, ring_state(), {{"n7", 1, 78}}};
  out.write("peer_message", "gossip_ack2", encode(PeerMessage{"n1", 0, Gossip{ack2}}));
}

void stored_states(CorpusWriter& out) {
  using namespace node;
  out.write("sibling_set", "two_siblings", encode_sibling_set(two_siblings()));
  out.write("sibling_set", "empty", encode_sibling_set({}));
  auto one = causal::SiblingSet().update({}, {"n1", 1}, std::string("v"));
  out.write("sibling_set", "one_value", encode_sibling_set(one));
  out.write("causal_context", "two_actors", encode_context(two_siblings().version_vector()));
  out.write("causal_context", "one_actor", encode_context(one.version_vector()));
  out.write("hint_value", "two_siblings",
            handoff::encode_hint_value(1'765'000'000'000, two_siblings()));
  out.write("hint_value", "negative_time", handoff::encode_hint_value(-1, one));
  out.write("ring_state", "transition", encode_ring_state(ring_state()));
  out.write("ring_state", "one_node", encode_ring_state({1, 1, {"n1"}, {}, "n1"}));
}

void storage_keys_and_trees(CorpusWriter& out) {
  out.write("storage_key", "data_key", storage::encode_data_key(0x0102030405060708, "key"));
  out.write("storage_key", "hint_key", storage::encode_hint_key("n2", 42, std::string("k\0y", 3)));
  antientropy::MerkleTree tree(0, 1023, 8);
  tree.insert(5, {1, 2});
  tree.insert(700, {3, 4});
  out.write("merkle_tree", "eight_segments", tree.serialize());
  out.write("merkle_tree", "empty_one_segment", antientropy::MerkleTree(7, 7, 1).serialize());
}

void frames(CorpusWriter& out) {
  // The first byte is the harness's read chunk size minus one.
  std::string stream(1, char{15});
  auto append = [&](kj::Array<capnp::word> words) {
    auto chars = words.asChars();
    stream.append(chars.begin(), chars.size());
  };
  append(proto::encode(proto::ClientRequest{1, 0, proto::GetRequest{"k"}}));
  append(node::encode(node::PeerMessage{"n1", 1, node::LinkPing{}}));
  out.write("frame_reader", "two_frames", stream);
  stream[0] = char{0};
  out.write("frame_reader", "two_frames_bytewise", stream);
}

}  // namespace
}  // namespace qkv::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_fuzz_corpus DIR  (writes DIR/<harness>/<seed>)\n";
    return 2;
  }
  qkv::fuzz::CorpusWriter out(argv[1]);
  qkv::fuzz::client_requests(out);
  qkv::fuzz::client_responses(out);
  qkv::fuzz::replica_messages(out);
  qkv::fuzz::anti_entropy_messages(out);
  qkv::fuzz::gossip_messages(out);
  qkv::fuzz::stored_states(out);
  qkv::fuzz::storage_keys_and_trees(out);
  qkv::fuzz::frames(out);
  std::cout << "make_fuzz_corpus: wrote " << out.files() << " seeds under " << argv[1] << "\n";
  return 0;
}
