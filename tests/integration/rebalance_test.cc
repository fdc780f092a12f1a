// Ring rebalancing with real qkvd processes, driven by qkvctl as an operator would: the
// cluster grows 3 -> 4 -> 5 and shrinks back to 3 while a client writes continuously.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "node/storage/rocksdb_storage.h"
#include "ring/ring.h"
#include "tests/integration/process_cluster.h"

namespace qkv::testing {
namespace {

using namespace std::chrono_literals;

// Writes fresh keys through n1..n3 (which never leave) until stopped, recording every
// acknowledged one.
class Writer {
 public:
  explicit Writer(std::vector<std::string> nodes) {
    client::Options options;
    options.nodes = std::move(nodes);
    options.timeout_ms = 3000;
    thread_ = std::thread([this, options] {
      client::Client client(options);
      for (int i = 0; !stop_; ++i) {
        std::string key = fmt::format("key-{}", i);
        if (client.put(key, "value of " + key).is_ok()) {
          std::lock_guard lock(mu_);
          acknowledged_.push_back(key);
        } else {
          ++failed_;
        }
      }
    });
  }
  ~Writer() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::string> acknowledged() {
    std::lock_guard lock(mu_);
    return acknowledged_;
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return acknowledged_.size();
  }
  int failed() const { return failed_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  std::mutex mu_;
  std::vector<std::string> acknowledged_;
  std::thread thread_;
};

class RebalanceTest : public ::testing::Test {
 protected:
  // N=2, so the final three nodes do not all hold every key and "exactly the primaries"
  // says something.
  RebalanceTest() : RebalanceTest({}) {}
  explicit RebalanceTest(std::vector<std::string> flags)
      : cluster_(5, with(std::move(flags), {"--n", "2", "--r", "1", "--w", "2"}), 3) {}
  static std::vector<std::string> with(std::vector<std::string> a,
                                       const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  uint64_t counter(int i, const std::string& name) {
    auto status = cluster_.client_of(i).node_status(0);
    if (!status.is_ok()) return 0;
    for (const auto& [n, v] : status->counters) {
      if (n == name) return v;
    }
    return 0;
  }

  // Every acknowledged write reads back through n2.
  void expect_all_found(const std::vector<std::string>& keys) {
    client::Client reader = cluster_.client_of(1, 5000);
    std::size_t missing = 0;
    for (const auto& key : keys) {
      auto got = reader.get(key, {.r = 2});
      if (!got.is_ok() || got->values != std::vector<std::string>{"value of " + key}) {
        if (++missing <= 5) ADD_FAILURE() << "acknowledged write lost: " << key;
      }
    }
    EXPECT_EQ(missing, 0u) << "of " << keys.size() << " acknowledged writes";
  }

  RunResult qkvctl(std::vector<std::string> args, std::chrono::seconds deadline = 20s) {
    args.insert(args.begin(), {"--cluster", cluster_.client_address(0)});
    RunResult r = run_program(QKVCTL_PATH, args, deadline);
    std::string line;
    for (const auto& a : args) line += " " + a;
    EXPECT_EQ(r.exit_code, 0) << "qkvctl" << line << ":\n" << r.output;
    return r;
  }

  // qkvctl through node i only, whatever its exit status.
  RunResult qkvctl_via(int i, std::vector<std::string> args) {
    args.insert(args.begin(), {"--cluster", cluster_.client_address(i)});
    return run_program(QKVCTL_PATH, args);
  }

  proto::MembersResponse members() {
    auto m = cluster_.client_of(0).members();
    return m.is_ok() ? m.value() : proto::MembersResponse{};
  }

  // The ring has settled: the owners are exactly `owners`, no transition, and every live
  // member has applied this ring version.
  bool settled_on(const std::set<NodeId>& owners) {
    auto m = members();
    if (m.members.empty()) return false;
    for (const auto& info : m.members) {
      bool owner = owners.count(info.id) > 0;
      if (owner != (info.partitions > 0)) return false;
      if (owner && info.ring_version != m.ring_version) return false;
    }
    auto status = cluster_.client_of(0).node_status(0);
    return status.is_ok() && status->transfers.empty() && status->ring_version == m.ring_version;
  }

  void join(int i) {
    cluster_.start(i);
    NodeId id = fmt::format("n{}", i + 1);
    ASSERT_TRUE(wait_for(
        [&] {
          for (const auto& info : members().members) {
            if (info.id == id) return true;
          }
          return false;
        },
        20s))
        << id << " was never heard of by n1";
    qkvctl({"node", "join", id});
  }

  ProcessCluster cluster_;
};

TEST_F(RebalanceTest, GrowThreeToFiveAndShrinkBackWhileWritingLosesNothing) {
  cluster_.start_initial();
  Writer writer(
      {cluster_.client_address(0), cluster_.client_address(1), cluster_.client_address(2)});
  ASSERT_TRUE(wait_for([&] { return writer.count() > 200; }, 20s));

  join(3);
  // Two operators commit the same plan through two different nodes at once: the claimant
  // applies it once; the other commit is told it was already committed.
  auto plan_json = nlohmann::json::parse(qkvctl({"--json", "ring", "plan"}).output);
  std::string plan_id = plan_json.at("plan_id").get<std::string>();
  RunResult first, second;
  std::thread a([&] { first = qkvctl_via(1, {"ring", "commit", "--plan-id", plan_id}); });
  std::thread b([&] { second = qkvctl_via(2, {"ring", "commit", "--plan-id", plan_id}); });
  a.join();
  b.join();
  EXPECT_EQ((first.exit_code == 0) + (second.exit_code == 0), 1)
      << first.output << "\n---\n"
      << second.output << "\n--- n2:\n"
      << cluster_.log_of(1) << "\n--- n3:\n"
      << cluster_.log_of(2);
  // The other is redirected to the claimant and refused without effect: already committed.
  // This runs well under a second after the nodes started, before gossip may have told n2
  // and n3 anything of n1: they name its address from their configured members.
  const std::string& loser = (first.exit_code == 0 ? second : first).output;
  EXPECT_NE(loser.find("already committed"), std::string::npos) << first.output << "\n---\n"
                                                                << second.output;
  ASSERT_TRUE(wait_for(
      [&] {
        return settled_on({"n1", "n2", "n3", "n4"});
      },
      60s))
      << cluster_.log_of(3);

  join(4);
  qkvctl({"ring", "commit"});
  // `ring status --wait` returns once the change is done (not a terminal: no bar, the result);
  // n1's gossiped view may lag behind the members' own word by a round.
  RunResult waited = qkvctl({"ring", "status", "--wait", "--timeout-s", "60"}, 70s);
  EXPECT_NE(waited.output.find("on every member: done"), std::string::npos) << waited.output;
  ASSERT_TRUE(wait_for(
      [&] {
        return settled_on({"n1", "n2", "n3", "n4", "n5"});
      },
      10s))
      << waited.output << cluster_.log_of(4);
  std::size_t at_five = writer.count();

  qkvctl({"node", "leave", "n4"});
  qkvctl({"node", "leave", "n5"});
  auto plan = qkvctl({"ring", "plan"});
  EXPECT_NE(plan.output.find("leave n4"), std::string::npos) << plan.output;
  qkvctl({"ring", "commit"});
  // A leaving node exits by itself once it owns and holds nothing.
  EXPECT_EQ(cluster_.wait_exit(3, 90s), 0) << cluster_.log_of(3);
  EXPECT_EQ(cluster_.wait_exit(4, 90s), 0) << cluster_.log_of(4);
  ASSERT_TRUE(wait_for([&] { return settled_on({"n1", "n2", "n3"}); }, 30s));
  ASSERT_TRUE(wait_for([&] { return writer.count() > at_five + 200; }, 20s));
  writer.stop();

  // Every acknowledged write is found.
  auto keys = writer.acknowledged();
  expect_all_found(keys);

  // Every key is held by exactly its N primaries of the final ring.
  auto ring = cluster_.client_of(0).ring();
  ASSERT_TRUE(ring.is_ok());
  ring::Ring final_ring(ring->owners);
  std::vector<client::Client> locals;
  for (int i = 0; i < 3; ++i) locals.push_back(cluster_.client_of(i));
  std::size_t misplaced = 0;
  for (std::size_t k = 0; k < keys.size(); k += 7) {
    auto primaries = final_ring.preference_list(ring::token_of(keys[k]), 2).primaries;
    for (int i = 0; i < 3; ++i) {
      NodeId id = fmt::format("n{}", i + 1);
      auto got = locals[i].get(keys[k], {.local = true});
      bool held = got.is_ok() && got->found();
      bool primary = std::find(primaries.begin(), primaries.end(), id) != primaries.end();
      if (held != primary && ++misplaced <= 5) {
        ADD_FAILURE() << keys[k] << (held ? " is held by non-primary " : " is missing on ") << id;
      }
    }
  }
  EXPECT_EQ(misplaced, 0u);

  // The nodes that left hold no data.
  for (int i : {3, 4}) {
    storage::RocksDbOptions options;
    auto store =
        storage::RocksDbStorage::open(cluster_.dir() + fmt::format("/n{}", i + 1), options);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    std::size_t entries = 0;
    ASSERT_TRUE((*store)
                    ->scan(0, UINT64_MAX,
                           [&](auto, auto, auto) {
                             ++entries;
                             return true;
                           })
                    .is_ok());
    EXPECT_EQ(entries, 0u) << "n" << i + 1 << " left the ring but holds data";
  }
  std::cout << "[          ] " << keys.size() << " writes acknowledged, " << writer.failed()
            << " failed, during 3 -> 4 -> 5 -> 3\n";
}

// Transfers slowed to 64 KiB/s so the crashes land mid-transfer.
class RebalanceCrashTest : public RebalanceTest {
 protected:
  RebalanceCrashTest() : RebalanceTest({"--transfer-bytes-per-second-max", "524288"}) {}
};

// A receiver killed mid-transfer copies its ranges again after its restart; a claimant
// killed mid-transition completes it after its restart (it reloads the ring it issued).
TEST_F(RebalanceCrashTest, ReceiverAndClaimantCrashesMidTransferLoseNothing) {
  cluster_.start_initial();
  Writer writer(
      {cluster_.client_address(0), cluster_.client_address(1), cluster_.client_address(2)});
  ASSERT_TRUE(wait_for([&] { return writer.count() > 20000; }, 60s));
  join(3);
  qkvctl({"ring", "commit"});
  ASSERT_TRUE(wait_for([&] { return counter(3, "transfer_keys_received") > 0; }, 30s))
      << cluster_.log_of(3);
  // With the receiver paused the transition cannot finish: --wait gives up at --timeout-s,
  // exit 4, and --json says so.
  cluster_.pause(3);
  RunResult gave_up = qkvctl_via(
      0, {"--json", "--timeout-ms", "500", "ring", "status", "--wait", "--timeout-s", "1"});
  cluster_.resume(3);
  EXPECT_EQ(gave_up.exit_code, 4) << gave_up.output;
  auto gave_up_json = nlohmann::json::parse(gave_up.output, nullptr, /*allow_exceptions=*/false);
  EXPECT_EQ(gave_up_json["timed_out"], true) << gave_up.output;
  EXPECT_EQ(gave_up_json["settling"]["settled"], false) << gave_up.output;
  cluster_.kill9(3);
  cluster_.start(3);
  cluster_.kill9(0);  // n1: the claimant
  cluster_.start(0);
  ASSERT_TRUE(wait_for(
      [&] {
        return settled_on({"n1", "n2", "n3", "n4"});
      },
      120s))
      << "n4 received " << counter(3, "transfer_keys_received") << " keys, "
      << counter(3, "transfer_ranges_done") << " ranges done; ring status:\n"
      << qkvctl({"ring", "status"}).output;
  writer.stop();
  expect_all_found(writer.acknowledged());
}

}  // namespace
}  // namespace qkv::testing
