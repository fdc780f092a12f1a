// A MemoryStorage for tests of what sits on storage (the node core, hinted handoff): it
// counts data reads and writes, and fails data writes or hint reads and writes with
// io_error while told to (a full disk).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "node/storage/memory_storage.h"

namespace qkv::storage::testing {

class FaultInjectingStorage final : public Storage {
 public:
  Result<std::optional<std::string>> get(ring::Token token, std::string_view key) override {
    ++get_calls;
    return inner.get(token, key);
  }
  Status write(std::span<const WriteOp> ops) override {
    ++write_calls;
    ops_written += ops.size();
    if (fail_writes) return Status::io_error("No space left on device (test)");
    return inner.write(ops);
  }
  Status scan(ring::Token first, ring::Token last, const ScanVisitor& visit) override {
    return inner.scan(first, last, visit);
  }
  Status delete_range(ring::Token first, ring::Token last) override {
    return inner.delete_range(first, last);
  }
  Result<std::optional<std::string>> get_hint(const NodeId& target, ring::Token token,
                                              std::string_view key) override {
    if (fail_hint_reads) return Status::io_error("injected read failure");
    return inner.get_hint(target, token, key);
  }
  Status put_hint(const NodeId& target, ring::Token token, std::string_view key,
                  std::string_view value) override {
    if (fail_hint_writes) return Status::io_error("injected write failure");
    return inner.put_hint(target, token, key, value);
  }
  Status delete_hint(const NodeId& target, ring::Token token, std::string_view key) override {
    if (fail_hint_writes) return Status::io_error("injected write failure");
    return inner.delete_hint(target, token, key);
  }
  Status scan_hints(const HintVisitor& visit) override {
    if (fail_hint_reads) return Status::io_error("injected read failure");
    return inner.scan_hints(visit);
  }
  Result<std::optional<std::string>> get_meta(std::string_view name) override {
    return inner.get_meta(name);
  }
  Status put_meta(std::string_view name, std::string_view value) override {
    return inner.put_meta(name, value);
  }
  Status checkpoint(const std::string& dir, const MetaEntries& meta) override {
    return inner.checkpoint(dir, meta);
  }

  MemoryStorage inner;
  uint64_t get_calls = 0;
  uint64_t write_calls = 0;
  uint64_t ops_written = 0;
  bool fail_writes = false;  // data writes
  bool fail_hint_reads = false;
  bool fail_hint_writes = false;
};

}  // namespace qkv::storage::testing
