// qkv-aae-bench: what active anti-entropy costs, measured on the node core with RocksDB in
// a temporary directory (no network: the figures are the core's and the store's).
//
//   qkv-aae-bench [--writes 200000] [--keys 1000000] [--diverge 0.01] [--value-bytes 100]
//
// 1. Write path: --writes client puts (1,000-byte values, 100,000 keys) into a one-node
//    ring (N=1) through the node core, group-committed 32 at a time as qkvd does under
//    load, with anti-entropy on (trees kept at every commit) and off. Prints ops/s of
//    each and the overhead.
// 2. Repair: two nodes (N=2) holding --keys keys, of which a fraction --diverge was
//    written on one node only; a repair from the other. Prints the time to build the
//    trees (a scan), the repair's time, keys repaired, and the bytes both nodes sent, next
//    to what sending every key would cost.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "node/node.h"
#include "node/storage/rocksdb_storage.h"
#include "node/wire/replica_codec.h"

namespace qkv::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Delivers peer messages through a queue (drained by pump), drops client replies.
class QueueTransport final : public node::Transport {
 public:
  QueueTransport(std::deque<std::pair<NodeId, node::PeerMessage>>& queue) : queue_(queue) {}
  Status send(const NodeId& to, node::PeerMessage message) override {
    queue_.emplace_back(to, std::move(message));
    return Status::ok();
  }
  void reply(node::ClientId, proto::ClientResponse response) override {
    if (!response.status.is_ok()) ++errors;
  }
  uint64_t errors = 0;

 private:
  std::deque<std::pair<NodeId, node::PeerMessage>>& queue_;
};

struct TempDir {
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           fmt::format("qkv-aae-bench-{}-{}", ::getpid(), counter++);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
  static inline int counter = 0;
};

std::unique_ptr<storage::RocksDbStorage> open_store(const TempDir& dir) {
  auto store = storage::RocksDbStorage::open(dir.path.string(), storage::RocksDbOptions{});
  if (!store.is_ok()) {
    fmt::print(stderr, "cannot open RocksDB: {}\n", store.status().to_string());
    std::exit(1);
  }
  return std::move(store).value();
}

node::NodeConfig config(const NodeId& id, uint32_t n, bool aae) {
  node::NodeConfig c;
  c.node_id = id;
  c.n = n;
  c.r = 1;
  c.w = 1;
  c.anti_entropy.enabled = aae;
  c.anti_entropy.exchange_interval = Duration(3'600'000);   // only the requested repair
  c.anti_entropy.bytes_per_second_max = uint64_t{1} << 40;  // unpaced: measure the work
  return c;
}

double write_path(uint64_t writes, bool aae) {
  TempDir dir;
  auto store = open_store(dir);
  std::deque<std::pair<NodeId, node::PeerMessage>> queue;
  QueueTransport transport(queue);
  auto ring = std::make_shared<const ring::Ring>(ring::Ring::claim({"n1"}, 256, 1).value());
  TimePoint now{Duration(1'000'000)};
  node::Node core(config("n1", 1, aae), ring, *store, transport, causal::Actor{"n1", 1}, now);
  // Trees built before the clock starts (one partition per tick).
  for (int i = 0; i < 300; ++i) core.on_tick(now += Duration(5));
  std::mt19937_64 random(1);
  std::string values(1 << 16, '\0');
  for (auto& c : values) c = static_cast<char>(random());
  auto start = Clock::now();
  for (uint64_t i = 0; i < writes; ++i) {
    if (i % 32 == 0) core.begin_batch();
    std::string key = fmt::format("user{:08}", random() % 100'000);
    std::string value = values.substr(random() % (values.size() - 1000), 1000);
    core.on_client_request(
        1, proto::ClientRequest{i + 1, 0, proto::PutRequest{key, value, "", 1, false}}, now);
    if (i % 32 == 31) core.commit_batch();
  }
  if (core.batch_open()) core.commit_batch();
  double ops = static_cast<double>(writes) / seconds_since(start);
  if (transport.errors > 0) fmt::print(stderr, "{} writes failed\n", transport.errors);
  (void)store->close();
  return ops;
}

void repair(uint64_t keys, double diverge, uint32_t value_bytes) {
  TempDir dir_a, dir_b;
  auto store_a = open_store(dir_a);
  auto store_b = open_store(dir_b);
  // The same state of every key on both nodes, written straight into the stores.
  std::string value(value_bytes, 'v');
  causal::Actor writer{"n1", 1}, other{"n2", 2};
  auto start = Clock::now();
  uint64_t diverged = 0;
  std::mt19937_64 random(7);
  std::vector<storage::WriteOp> batch_a, batch_b;
  for (uint64_t i = 0; i < keys; ++i) {
    std::string key = fmt::format("user{:08}", i);
    ring::Token token = ring::token_of(key);
    causal::SiblingSet state = causal::SiblingSet().update({}, writer, value);
    std::string bytes = node::encode_sibling_set(state);
    batch_a.push_back(storage::WriteOp{token, key, bytes});
    if (std::uniform_real_distribution<double>(0, 1)(random) < diverge) {
      // n2 has a later write of the key that n1 missed.
      state = state.update(state.version_vector(), other, value + "!");
      bytes = node::encode_sibling_set(state);
      ++diverged;
    }
    batch_b.push_back(storage::WriteOp{token, key, std::move(bytes)});
    if (batch_a.size() == 10'000 || i + 1 == keys) {
      if (!store_a->write(batch_a).is_ok() || !store_b->write(batch_b).is_ok()) std::exit(1);
      batch_a.clear();
      batch_b.clear();
    }
  }
  fmt::print("repair: loaded {} keys ({} differ on n2) into two stores in {:.1f} s\n", keys,
             diverged, seconds_since(start));

  std::deque<std::pair<NodeId, node::PeerMessage>> queue;
  QueueTransport transport(queue);
  auto ring = std::make_shared<const ring::Ring>(ring::Ring::claim({"n1", "n2"}, 256, 2).value());
  TimePoint now{Duration(1'000'000)};
  node::Node a(config("n1", 2, true), ring, *store_a, transport, causal::Actor{"n1", 3}, now);
  node::Node b(config("n2", 2, true), ring, *store_b, transport, causal::Actor{"n2", 4}, now);
  auto pump = [&] {
    while (!queue.empty()) {
      auto [to, message] = std::move(queue.front());
      queue.pop_front();
      (to == "n1" ? a : b).on_peer_message(std::move(message), now);
    }
  };
  start = Clock::now();
  while (!a.anti_entropy().all_built() || !b.anti_entropy().all_built()) {
    now += Duration(5);
    a.on_tick(now);
    b.on_tick(now);
  }
  fmt::print("repair: trees of 256 partitions built by scanning both stores in {:.1f} s\n",
             seconds_since(start));
  uint64_t bytes_before =
      a.anti_entropy().counters().bytes_sent + b.anti_entropy().counters().bytes_sent;
  start = Clock::now();
  a.anti_entropy().start_repair(std::nullopt);
  while (a.anti_entropy().repair_progress().running) {
    now += Duration(5);
    a.on_tick(now);
    pump();
  }
  double took = seconds_since(start);
  const auto& progress = a.anti_entropy().repair_progress();
  uint64_t bytes = a.anti_entropy().counters().bytes_sent + b.anti_entropy().counters().bytes_sent -
                   bytes_before;
  uint64_t all = keys * (value_bytes + 13 /* key */ + 40 /* version */);
  fmt::print(
      "repair: {} of {} keys repaired ({} compared, {} partitions, {} failed) in {:.2f} s; "
      "{:.2f} MB sent by both nodes = {:.1f} % of sending every key ({:.1f} MB)\n",
      progress.keys_repaired, keys, progress.keys_compared, progress.partitions_done,
      progress.partitions_failed, took, static_cast<double>(bytes) / 1e6,
      100.0 * static_cast<double>(bytes) / static_cast<double>(all),
      static_cast<double>(all) / 1e6);
  (void)store_a->close();
  (void)store_b->close();
}

}  // namespace
}  // namespace qkv::bench

int main(int argc, char** argv) {
  CLI::App app{"qkv-aae-bench: the cost of active anti-entropy (bench/README.md)"};
  uint64_t writes = 200'000, keys = 1'000'000;
  double diverge = 0.01;
  uint32_t value_bytes = 100;
  app.add_option("--writes", writes, "puts for the write-path comparison")
      ->check(CLI::PositiveNumber);
  app.add_option("--keys", keys, "keys on each node for the repair")->check(CLI::PositiveNumber);
  app.add_option("--diverge", diverge, "fraction of keys that differ")->check(CLI::Range(0.0, 1.0));
  app.add_option("--value-bytes", value_bytes, "value size of the repair's keys");
  CLI11_PARSE(app, argc, argv);

  double off = qkv::bench::write_path(writes, false);
  double on = qkv::bench::write_path(writes, true);
  fmt::print("write path: {} puts of 1,000 bytes, node core + RocksDB, N=1, 32 per commit\n",
             writes);
  fmt::print("write path: anti-entropy off {:.0f} ops/s, on {:.0f} ops/s: overhead {:.1f} %\n", off,
             on, 100.0 * (off - on) / off);
  qkv::bench::repair(keys, diverge, value_bytes);
  return 0;
}
