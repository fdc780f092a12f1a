// The shared black-box client test (tests/blackbox/scenarios.json, its format in
// tests/blackbox/README.md) run through the C++ SDK's ClusterClient against a real 3-node
// cluster: the same put/get/siblings/delete/limits/conditions scenarios the TypeScript
// client and the HTTP API pass.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "client/cluster_client.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using nlohmann::json;

std::string bytes_of(const json& spec) {
  if (spec.is_string()) return spec.get<std::string>();
  const std::string hex = spec.at("hex").get<std::string>();
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string key_of(const json& step, const std::string& prefix) {
  if (step.contains("key_size")) {
    const auto size = step.at("key_size").get<std::size_t>();
    std::string key = prefix.substr(0, std::min(size, prefix.size()));
    key.resize(size, 'k');
    return key;
  }
  return prefix + bytes_of(step.at("key"));
}

std::string value_of(const json& step) {
  if (step.contains("value_size"))
    return std::string(step.at("value_size").get<std::size_t>(), 'v');
  return step.contains("value") ? bytes_of(step.at("value")) : "";
}

// What one step answered: its status, and a get's values and context.
struct Outcome {
  Status status;
  std::vector<std::string> values;
  std::string context;
};

Outcome run_op(client::ClusterClient& kv, const json& step, const std::string& key,
               const std::string& context) {
  const std::string op = step.at("op");
  client::WriteOptions write;
  const std::string condition = step.value("condition", "");
  if (condition == "if_absent") write.condition = proto::WriteCondition::kIfAbsent;
  if (condition == "if_unchanged") write.condition = proto::WriteCondition::kIfUnchanged;
  if (op == "get") {
    auto got = kv.get(key);
    if (!got.is_ok()) return {got.status(), {}, ""};
    return {Status::ok(), got->values, got->context};
  }
  auto written =
      op == "put" ? kv.put(key, value_of(step), context, write) : kv.del(key, context, write);
  if (!written.is_ok()) return {written.status(), {}, ""};
  return {Status::ok(), {}, written->context};
}

// Empty when the outcome meets the step's expectation, else what differed.
std::string mismatch(const json& step, const Outcome& got) {
  const json expect = step.value("expect", json("ok"));
  if (expect.is_string() || !expect.contains("error")) {
    if (!got.status.is_ok()) return "failed: " + got.status.to_string();
  }
  if (expect.is_string()) return "";
  if (expect.contains("error")) {
    if (status_code_name(got.status.code()) != expect.at("error").get<std::string>()) {
      return fmt::format("expected {}, got {}", expect.at("error").dump(), got.status.to_string());
    }
    const std::string text = expect.value("message_contains", "");
    if (got.status.message().find(text) == std::string::npos) {
      return fmt::format("message lacks \"{}\": {}", text, got.status.message());
    }
    return "";
  }
  std::vector<std::string> values = got.values;
  std::sort(values.begin(), values.end());
  if (expect.contains("found") && expect.at("found").get<bool>() != !values.empty()) {
    return fmt::format("found = {}, expected {}", !values.empty(), expect.at("found").dump());
  }
  if (expect.contains("values")) {
    std::vector<std::string> want;
    for (const auto& v : expect.at("values")) want.push_back(bytes_of(v));
    std::sort(want.begin(), want.end());
    if (want != values)
      return fmt::format("values {} , expected {}", json(values).dump(),
                         expect.at("values").dump());
  }
  if (expect.contains("value_sizes")) {
    std::vector<std::size_t> sizes, want = expect.at("value_sizes").get<std::vector<std::size_t>>();
    for (const auto& v : values) sizes.push_back(v.size());
    std::sort(sizes.begin(), sizes.end());
    std::sort(want.begin(), want.end());
    if (sizes != want)
      return fmt::format("value sizes {}, expected {}", json(sizes).dump(), json(want).dump());
  }
  if (expect.contains("sibling_count") &&
      values.size() != expect.at("sibling_count").get<std::size_t>()) {
    return fmt::format("{} siblings, expected {}", values.size(),
                       expect.at("sibling_count").dump());
  }
  return "";
}

TEST(BlackBoxTest, TheCppSdkPassesEveryScenario) {
  std::ifstream file(QKV_BLACKBOX_SCENARIOS);
  ASSERT_TRUE(file) << QKV_BLACKBOX_SCENARIOS;
  const json doc = json::parse(file);
  ASSERT_EQ(doc.at("format"), 1);
  ProcessCluster cluster(3);
  cluster.start_all();
  client::ClusterOptions options;
  options.nodes = {cluster.client_address(0), cluster.client_address(1)};
  options.limits.frame_bytes_max = 64u << 20;  // answers carrying the largest values
  client::ClusterClient kv(options);
  const std::string run_id = fmt::format("bb-cpp-{}", std::random_device{}());
  int ran = 0;
  for (const json& scenario : doc.at("scenarios")) {
    const std::string name = scenario.at("name");
    const std::string prefix = run_id + "/" + name + "/";
    std::map<std::string, std::string> saved;
    int index = 0;
    for (const json& step : scenario.at("steps")) {
      ++index;
      std::string context;
      if (step.contains("context"))
        context = saved.at(step.at("context").get<std::string>().substr(1));
      Outcome got = run_op(kv, step, key_of(step, prefix), context);
      if (step.contains("save_context")) saved[step.at("save_context")] = got.context;
      const std::string why = mismatch(step, got);
      ASSERT_EQ(why, "") << name << ", step " << index << " (" << step.dump().substr(0, 200) << ")";
    }
    ++ran;
  }
  EXPECT_GE(ran, 10);
}

}  // namespace
}  // namespace qkv::testing
