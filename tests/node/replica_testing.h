// Doubles for tests of one node core's write path (tests/node/group_commit_test.cc,
// version_cache_test.cc): a storage that counts and fails (tests/storage/), a transport
// that records.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "node/node_transport.h"
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

}  // namespace qkv::testing
