// Shared by the hinted-handoff tests: states, a storage that fails on demand, and a
// fixture driving one HintedHandoff with a manual clock.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/handoff/hinted_handoff.h"

#include "tests/storage/fault_injecting_storage.h"

namespace qkv::handoff::testing {

using causal::Actor;
using causal::SiblingSet;
using Delivery = HintedHandoff::Delivery;

inline constexpr int64_t kStartUnixMs = 1'700'000'000'000;

// A first write of `value` to a key, coordinated by `node`: writes by different nodes are
// concurrent siblings.
inline SiblingSet write_by(const std::string& node, const std::string& value) {
  return SiblingSet{}.update({}, Actor{node, 1}, value);
}

// "k<i>" (not "k" + std::to_string(i): GCC 12 warns falsely, PR 105651).
inline std::string key(int i) {
  std::string out = "k";
  out += std::to_string(i);
  return out;
}

inline std::vector<NodeId> targets_of(const std::vector<Delivery>& deliveries) {
  std::vector<NodeId> out;
  for (const auto& d : deliveries) out.push_back(d.target);
  return out;
}

inline std::vector<std::string> keys_of(const std::vector<Delivery>& deliveries) {
  std::vector<std::string> out;
  for (const auto& d : deliveries) out.push_back(d.key);
  return out;
}

using FailingStorage = storage::testing::FaultInjectingStorage;

class HintedHandoffTest : public ::testing::Test {
 protected:
  HintedHandoffTest() {
    config_.hints_per_second_max = 1000;
    config_.in_flight_max = 64;
  }

  // (Re)creates the core on the same storage, as a restart does; keeps the log lines of
  // open() in opened_lines_.
  void open() {
    handoff_ = std::make_unique<HintedHandoff>(config_, storage_);
    Status status = handoff_->open();
    ASSERT_TRUE(status.is_ok()) << status.to_string();
    opened_lines_ = log_texts();
  }
  void store(const NodeId& target, const std::string& key, const SiblingSet& state) {
    Status status = handoff_->store(target, ring::token_of(key), key, state, unix_ms_);
    ASSERT_TRUE(status.is_ok()) << status.to_string();
  }
  std::vector<Delivery> due() {
    return handoff_->due(clock_.now(), unix_ms_, [&](const NodeId& id) { return up_.count(id); });
  }
  void ack(const Delivery& d, const Status& status = Status::ok()) {
    handoff_->on_ack(d.id, status);
  }
  void advance(Duration d) {
    clock_.advance(d);
    unix_ms_ += d.count();
  }
  std::optional<std::string> stored_hint(const NodeId& target, const std::string& key) {
    auto result = storage_.get_hint(target, ring::token_of(key), key);
    QKV_ASSERT(result.is_ok());
    return *result;
  }
  // The events logged since the last call, as logfmt text ("event=... key=value ...").
  std::vector<std::string> log_texts() {
    std::vector<std::string> texts;
    for (const LogEvent& event : handoff_->take_log_events()) texts.push_back(event.to_string());
    return texts;
  }

  HandoffConfig config_;
  FailingStorage storage_;
  ManualClock clock_;
  int64_t unix_ms_ = kStartUnixMs;
  std::set<NodeId> up_ = {"n1", "n2", "n3", "n4"};
  std::unique_ptr<HintedHandoff> handoff_;
  std::vector<std::string> opened_lines_;
};

}  // namespace qkv::handoff::testing
