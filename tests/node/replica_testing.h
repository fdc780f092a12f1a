// Doubles for tests of one node core's write path (tests/node/group_commit_test.cc,
// commit_pipeline_test.cc, version_cache_test.cc): a storage that counts and fails
// (tests/storage/), a transport that records, and a fixture of one node of three.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "node/node.h"
#include "node/node_transport.h"
#include "node/wire/replica_codec.h"
#include "tests/storage/fault_injecting_storage.h"

namespace qkv::testing {

using CountingStorage = storage::testing::FaultInjectingStorage;

class RecordingTransport final : public node::Transport {
 public:
  Status send(const NodeId& to, node::PeerMessage message) override {
    sent.emplace_back(to, std::move(message));
    return Status::ok();
  }
  void reply(node::ClientId, proto::ClientResponse response) override {
    replies.push_back(std::move(response));
  }
  template <typename T>
  std::vector<std::pair<NodeId, T>> sent_of() const {
    std::vector<std::pair<NodeId, T>> out;
    for (const auto& [to, m] : sent) {
      if (const auto* body = std::get_if<T>(&m.body)) out.emplace_back(to, *body);
    }
    return out;
  }

  std::vector<std::pair<NodeId, node::PeerMessage>> sent;
  std::vector<proto::ClientResponse> replies;
};

// One node, n1, of a 3-node ring with N=3: a primary of every key.
class OneNodeOfThreeTest : public ::testing::Test {
 protected:
  OneNodeOfThreeTest()
      : ring_(std::make_shared<const ring::Ring>(
            ring::Ring::claim({"n1", "n2", "n3"}, 64, 3).value())),
        node_(config(), ring_, storage_, transport_, causal::Actor{"n1", 7}, now_) {}

  static node::NodeConfig config() {
    node::NodeConfig c;
    c.node_id = "n1";
    c.n = 3;
    c.r = 2;
    c.w = 2;
    return c;
  }
  // n2's write of a new state of `key` holding `value`.
  void replica_write(const std::string& key, const std::string& value, uint64_t request_id) {
    causal::SiblingSet state = causal::SiblingSet().update({}, causal::Actor{"n2", 9}, value);
    node_.on_peer_message(node::PeerMessage{"n2", request_id, node::ReplicaWrite{key, state, {}}},
                          now_);
  }
  // A client's put without a context.
  void client_put(const std::string& key, const std::string& value, uint64_t request_id) {
    node_.on_client_request(
        1, proto::ClientRequest{request_id, 0, proto::PutRequest{key, value, "", 0, false}}, now_);
  }
  std::vector<std::string> stored_values(const std::string& key) {
    auto bytes = storage_.inner.get(ring::token_of(key), key);
    if (!bytes.is_ok() || !bytes.value()) return {};
    return node::decode_sibling_set(*bytes.value())->values();
  }

  TimePoint now_{Duration(1'000'000)};
  std::shared_ptr<const ring::Ring> ring_;
  CountingStorage storage_;
  RecordingTransport transport_;
  node::Node node_;
};

}  // namespace qkv::testing
