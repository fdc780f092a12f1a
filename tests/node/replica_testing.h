// Doubles for tests of one node core's write path (tests/node/group_commit_test.cc,
// version_cache_test.cc): a storage that counts and fails, a transport that records.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "node/node_transport.h"
#include "node/storage/memory_storage.h"

namespace qkv::testing {

// MemoryStorage that counts data reads and writes, and can be made to fail them (a full disk).
class CountingStorage final : public storage::Storage {
 public:
  Result<std::optional<std::string>> get(ring::Token token, std::string_view key) override {
    ++get_calls;
    return inner.get(token, key);
  }
  Status write(std::span<const storage::WriteOp> ops) override {
    ++write_calls;
    ops_written += ops.size();
    if (fail_writes) return Status::io_error("No space left on device (test)");
    return inner.write(ops);
  }
  Status scan(ring::Token first, ring::Token last, const storage::ScanVisitor& visit) override {
    return inner.scan(first, last, visit);
  }
  Status delete_range(ring::Token first, ring::Token last) override {
    return inner.delete_range(first, last);
  }
  Result<std::optional<std::string>> get_hint(const NodeId& target, ring::Token token,
                                              std::string_view key) override {
    return inner.get_hint(target, token, key);
  }
  Status put_hint(const NodeId& target, ring::Token token, std::string_view key,
                  std::string_view value) override {
    return inner.put_hint(target, token, key, value);
  }
  Status delete_hint(const NodeId& target, ring::Token token, std::string_view key) override {
    return inner.delete_hint(target, token, key);
  }
  Status scan_hints(const storage::HintVisitor& visit) override { return inner.scan_hints(visit); }
  Result<std::optional<std::string>> get_meta(std::string_view name) override {
    return inner.get_meta(name);
  }
  Status put_meta(std::string_view name, std::string_view value) override {
    return inner.put_meta(name, value);
  }

  storage::MemoryStorage inner;
  uint64_t get_calls = 0;
  uint64_t write_calls = 0;
  uint64_t ops_written = 0;
  bool fail_writes = false;
};

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
