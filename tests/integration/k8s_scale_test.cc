// Scaling as Kubernetes does it (issue 15), with real qkvd processes: nodes started with
// seeds and auto_join enter the ring in one transition; a node lost with its disk is taken
// out with `qkvctl node remove` and nothing acknowledged is lost; deploy/kubernetes/scale-down
// hands the highest ordinals' data off before it scales (run here with a fake kubectl).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using namespace std::chrono_literals;

class K8sScaleTest : public ::testing::Test {
 protected:
  // Every node runs with auto_join, as the manifests will start them; the quiet period is
  // short for the test (both newcomers ask within a couple of gossip rounds of each other).
  K8sScaleTest() : cluster_(5, {"--auto-join", "--auto-join-quiet-ms", "4000"}, 3) {}

  RunResult qkvctl(std::vector<std::string> args, std::chrono::seconds deadline = 20s) {
    args.insert(args.begin(), {"--cluster", cluster_.client_address(0)});
    return run_program(QKVCTL_PATH, args, deadline);
  }

  proto::MembersResponse members() {
    auto m = cluster_.client_of(0).members();
    return m.is_ok() ? m.value() : proto::MembersResponse{};
  }

  // The ring's owners are exactly `owners` with no transition, every live owner has applied
  // its version; `partitions` collects each owner's share.
  bool settled_on(const std::set<NodeId>& owners,
                  std::map<NodeId, uint32_t>* partitions = nullptr) {
    auto m = members();
    std::size_t seen = 0;  // owners in the view (a member not heard of yet is no owner)
    for (const auto& info : m.members) {
      bool owner = owners.count(info.id) > 0;
      if (owner != (info.partitions > 0)) return false;
      if (owner && info.up && info.ring_version != m.ring_version) return false;
      if (owner && partitions) (*partitions)[info.id] = info.partitions;
      seen += owner;
    }
    if (seen != owners.size()) return false;
    auto ring = cluster_.client_of(0).ring();
    auto status = cluster_.client_of(0).node_status(0);
    return ring.is_ok() && status.is_ok() && status->transfers.empty() &&
           status->ring_version == m.ring_version;
  }

  std::vector<std::string> write_keys(int count) {
    client::Options options;
    options.nodes = {cluster_.client_address(0), cluster_.client_address(1),
                     cluster_.client_address(2)};
    client::Client client(options);
    std::vector<std::string> keys;
    for (int i = 0; i < count; ++i) {
      std::string key = fmt::format("key-{}", i);
      auto put = client.put(key, "value of " + key).status();
      EXPECT_TRUE(put.is_ok()) << key << ": " << put.to_string();
      keys.push_back(key);
    }
    return keys;
  }

  // Every key reads back with R=2 through node `via`.
  void expect_all_found(const std::vector<std::string>& keys, int via) {
    client::Client reader = cluster_.client_of(via, 5000);
    std::size_t missing = 0;
    for (const auto& key : keys) {
      auto got = reader.get(key, {.r = 2});
      if (!got.is_ok() || got->values != std::vector<std::string>{"value of " + key}) {
        if (++missing <= 5) {
          ADD_FAILURE() << "acknowledged write lost: " << key << " "
                        << (got.is_ok() ? "" : got.status().to_string());
        }
      }
    }
    EXPECT_EQ(missing, 0u) << "of " << keys.size() << " acknowledged writes";
  }

  static int count_of(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  ProcessCluster cluster_;
};

TEST_F(K8sScaleTest, TwoAutoJoinNodesEnterInOneTransitionAndALostNodeIsRemovedLosingNothing) {
  cluster_.start_initial();
  const std::vector<std::string> keys = write_keys(1500);

  // kubectl scale 3 -> 5: two pods start at once with seeds and auto_join.
  cluster_.launch(3);
  cluster_.launch(4);
  cluster_.await_started(3);
  cluster_.await_started(4);
  std::map<NodeId, uint32_t> share;
  ASSERT_TRUE(wait_for(
      [&] {
        return settled_on({"n1", "n2", "n3", "n4", "n5"}, &share);
      },
      90s))
      << qkvctl({"ring", "status"}).output << "\n--- n1:\n"
      << cluster_.log_of(0) << "\n--- n4:\n"
      << cluster_.log_of(3);
  // One transition: ring 1 (the members'), 2 (the auto-committed transition), 3 (the switch).
  const std::string claimant_log = cluster_.log_of(0);
  EXPECT_EQ(members().ring_version, 3u) << claimant_log;
  EXPECT_EQ(count_of(claimant_log, "event=ring_auto_committed"), 1) << claimant_log;
  EXPECT_NE(claimant_log.find("joins=n4,n5"), std::string::npos) << claimant_log;
  for (const auto& [id, partitions] : share) {
    EXPECT_GE(partitions, 64u / 5) << id;
    EXPECT_LE(partitions, 64u / 5 + 1) << id;
  }

  // n4's pod is lost with its volume. A node that is up must leave instead.
  RunResult up = qkvctl({"node", "remove", "n2"});
  EXPECT_EQ(up.exit_code, 1) << up.output;
  EXPECT_NE(up.output.find("n2 is up"), std::string::npos) << up.output;
  uint64_t received_before = 0;
  for (int i : {0, 1, 2, 4}) received_before += node_counter(cluster_, i, "transfer_keys_received");
  cluster_.kill9(3);
  RunResult removed;
  ASSERT_TRUE(wait_for(
      [&] {
        removed = qkvctl({"node", "remove", "n4"});
        return removed.exit_code == 0;
      },
      20s))
      << removed.output;
  RunResult committed = qkvctl({"ring", "commit"});
  ASSERT_EQ(committed.exit_code, 0) << committed.output;
  RunResult waited = qkvctl({"ring", "status", "--wait", "--timeout-s", "90"}, 100s);
  EXPECT_EQ(waited.exit_code, 0) << waited.output;
  ASSERT_TRUE(wait_for(
      [&] {
        return settled_on({"n1", "n2", "n3", "n5"});
      },
      30s))
      << qkvctl({"ring", "status"}).output << "\n--- n1:\n"
      << cluster_.log_of(0);
  auto ring = cluster_.client_of(0).ring();
  ASSERT_TRUE(ring.is_ok());
  EXPECT_EQ(std::count(ring->owners.begin(), ring->owners.end(), "n4"), 0);
  // Listed as removed, not as a member that is down (members, metrics, alerts).
  ASSERT_TRUE(wait_for(
      [&] {
        for (const auto& info : members().members) {
          if (info.id == "n4") return info.status == "removed";
        }
        return false;
      },
      10s))
      << qkvctl({"members"}).output;

  expect_all_found(keys, 1);
  // n4's ranges were copied from the surviving replicas.
  uint64_t received_after = 0;
  for (int i : {0, 1, 2, 4}) received_after += node_counter(cluster_, i, "transfer_keys_received");
  EXPECT_GT(received_after, received_before);
}

// deploy/kubernetes/scale-down against five local processes named as a StatefulSet's pods,
// with a kubectl that answers `get` and records everything else.
class ScaleDownScriptTest : public ::testing::Test {
 protected:
  ScaleDownScriptTest() : cluster_(5) { cluster_.use_statefulset_names("qkv"); }
  ~ScaleDownScriptTest() override {
    std::error_code ec;
    std::filesystem::remove_all(fake_dir_, ec);
  }

  // A fake kubectl in a fresh directory: `get` prints the replica count; every call is
  // appended to calls.log.
  std::string write_fake_kubectl(int replicas) {
    std::error_code ec;
    if (!fake_dir_.empty()) std::filesystem::remove_all(fake_dir_, ec);
    char tmpl[] = "/tmp/qkv-kubectl-XXXXXX";
    fake_dir_ = ::mkdtemp(tmpl);
    std::ofstream(fake_dir_ + "/kubectl")
        << "#!/usr/bin/env bash\n"
        << "echo \"$*\" >> " << fake_dir_ << "/calls.log\n"
        << "if [[ $1 == get ]]; then printf " << replicas << "; fi\n";
    return fake_dir_ + "/kubectl";
  }

  std::string calls() const {
    std::ifstream in(fake_dir_ + "/calls.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  ProcessCluster cluster_;
  std::string fake_dir_;
};

TEST_F(ScaleDownScriptTest, HandsTheHighestOrdinalsOffThenScalesAndDeletesTheirVolumes) {
  cluster_.start_all();
  client::Options options;
  options.nodes = {cluster_.client_address(0), cluster_.client_address(1)};
  client::Client client(options);
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back(fmt::format("key-{}", i));
    ASSERT_TRUE(client.put(keys.back(), "value of " + keys.back()).status().is_ok()) << keys.back();
  }

  const std::string kubectl = write_fake_kubectl(5);
  RunResult run = run_program(
      "/usr/bin/env",
      {"KUBECTL=bash " + kubectl,
       fmt::format("QKVCTL={} --cluster {}", QKVCTL_PATH, cluster_.client_address(0)), "bash",
       QKV_SCALE_DOWN_PATH, "--namespace", "db", "--timeout-s", "120", "qkv", "3"},
      180s);
  ASSERT_EQ(run.exit_code, 0) << run.output << "\n--- kubectl calls:\n" << calls();
  const std::string log = calls();
  EXPECT_NE(log.find("get statefulset qkv -n db"), std::string::npos) << log;
  EXPECT_NE(log.find("scale statefulset qkv -n db --replicas=3"), std::string::npos) << log;
  EXPECT_NE(log.find("wait --for=delete -n db --timeout=120s pod/qkv-3 pod/qkv-4"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("delete pvc -n db --ignore-not-found data-qkv-3 data-qkv-4"),
            std::string::npos)
      << log;
  EXPECT_LT(log.find("scale statefulset"), log.find("delete pvc")) << log;

  // The leavers handed everything off and stopped by themselves before the scale.
  EXPECT_EQ(cluster_.wait_exit(3, 60s), 0) << cluster_.log_of(3);
  EXPECT_EQ(cluster_.wait_exit(4, 60s), 0) << cluster_.log_of(4);
  auto ring = cluster_.client_of(0).ring();
  ASSERT_TRUE(ring.is_ok());
  std::set<NodeId> owners(ring->owners.begin(), ring->owners.end());
  EXPECT_EQ(owners, (std::set<NodeId>{"qkv-0", "qkv-1", "qkv-2"}));
  client::Client reader = cluster_.client_of(1, 5000);
  std::size_t missing = 0;
  for (const auto& key : keys) {
    auto got = reader.get(key, {.r = 2});
    if (!got.is_ok() || got->values != std::vector<std::string>{"value of " + key}) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << keys.size();

  // Run again at the target: nothing to do.
  RunResult again =
      run_program("/usr/bin/env",
                  {"KUBECTL=bash " + write_fake_kubectl(3),
                   fmt::format("QKVCTL={} --cluster {}", QKVCTL_PATH, cluster_.client_address(0)),
                   "bash", QKV_SCALE_DOWN_PATH, "qkv", "3"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(calls().find("scale"), std::string::npos) << calls();
}

}  // namespace
}  // namespace qkv::testing
