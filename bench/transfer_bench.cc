// qkv-transfer-bench: where the time of an ownership transfer goes, measured in one process
// on the node core with RocksDB in temporary directories (no sockets, no io loop): the
// batch path's parts, and what ingesting whole SST files would cost instead.
//
//   qkv-transfer-bench [--keys 1000000] [--value-bytes 100] [--batch-bytes 1048576]
//
// 1. A source store holds --keys keys, all in the one key range (partition) a second node
//    takes over (Q=2, N=1: n2 joins n1); states as a coordinator writes them (one value,
//    one dot), keys as qkv-bench names them. The store is flushed (SST files, as on a
//    node that was restarted after its load).
// 2. Batch path (node/transfer.h), unpaced: n2 pulls the range from n1 through the two
//    node cores, each frame through the wire codec as qkvd sends it. Timed apart: the
//    source answering (RocksDB scan, state decode, the reply built), encoding and decoding
//    the frames, and the receiver (the join of every state through the write path: a
//    RocksDB get, the join, the anti-entropy tree update, one WriteBatch per reply).
// 3. The floors of those parts: a bare scan of the range; scan + decode; the received
//    states written to an empty store with no read or join.
// 4. SST path: the range scanned into an SST file (SstFileWriter) and that file ingested
//    whole into an empty RocksDB (IngestExternalFile, moved); the tree a receiver would
//    then build by a scan is timed too.
// Times are wall clock of this thread and CPU time of this thread (RocksDB's background
// flushes and compactions run on their own threads and are not in the CPU figures).
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <time.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "node/node.h"
#include "node/storage/key_codec.h"
#include "node/storage/rocksdb_storage.h"
#include "node/wire/replica_codec.h"
#include "ring/claim.h"

namespace qkv::bench {
namespace {

using Clock = std::chrono::steady_clock;

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Wall and thread CPU seconds, accumulated over timed sections.
struct Timer {
  double wall = 0, cpu = 0;
  template <typename F>
  auto time(F&& f) {
    auto w0 = Clock::now();
    double c0 = thread_cpu_s();
    struct Add {
      Timer* t;
      Clock::time_point w0;
      double c0;
      ~Add() {
        t->wall += std::chrono::duration<double>(Clock::now() - w0).count();
        t->cpu += thread_cpu_s() - c0;
      }
    } add{this, w0, c0};
    return f();
  }
};

struct TempDir {
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           fmt::format("qkv-transfer-bench-{}-{}", ::getpid(), counter++);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
  static inline int counter = 0;
};

std::unique_ptr<storage::RocksDbStorage> open_store(const std::filesystem::path& dir) {
  auto store = storage::RocksDbStorage::open(dir.string(), storage::RocksDbOptions{});
  if (!store.is_ok()) {
    fmt::print(stderr, "cannot open RocksDB: {}\n", store.status().to_string());
    std::exit(1);
  }
  return std::move(store).value();
}

void check(const Status& s, const char* what) {
  if (!s.is_ok()) {
    fmt::print(stderr, "{}: {}\n", what, s.to_string());
    std::exit(1);
  }
}

void check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) {
    fmt::print(stderr, "{}: {}\n", what, s.ToString());
    std::exit(1);
  }
}

// Messages queued between the two cores.
class QueueTransport final : public node::Transport {
 public:
  explicit QueueTransport(std::deque<std::pair<NodeId, node::PeerMessage>>& queue)
      : queue_(queue) {}
  Status send(const NodeId& to, node::PeerMessage message) override {
    queue_.emplace_back(to, std::move(message));
    return Status::ok();
  }
  void reply(node::ClientId, proto::ClientResponse) override {}

 private:
  std::deque<std::pair<NodeId, node::PeerMessage>>& queue_;
};

node::NodeConfig config(const NodeId& id, uint32_t batch_bytes) {
  node::NodeConfig c;
  c.node_id = id;
  c.n = 1;
  c.r = 1;
  c.w = 1;
  c.anti_entropy.exchange_interval = Duration(3'600'000);  // no exchanges while measuring
  c.transfer.bytes_per_second_max = uint64_t{1} << 40;     // unpaced: measure the work
  c.transfer.batch_bytes_max = batch_bytes;
  return c;
}

void line(const char* what, const Timer& t, uint64_t keys, uint64_t bytes) {
  fmt::print(
      "  {:<52} {:>6.2f} s wall {:>6.2f} s cpu {:>9.0f} keys/s {:>6.1f} MB/s {:>5.2f} us/key\n",
      what, t.wall, t.cpu, static_cast<double>(keys) / t.wall,
      static_cast<double>(bytes) / 1e6 / t.wall, t.cpu * 1e6 / static_cast<double>(keys));
}

int run(uint64_t keys, uint32_t value_bytes, uint32_t batch_bytes) {
  // n2 joins n1: with Q=2 and N=1 it receives exactly one range.
  auto current = std::make_shared<const ring::Ring>(ring::Ring::claim({"n1"}, 2, 1).value());
  auto next = std::make_shared<const ring::Ring>(
      ring::claim(current->owners(), {{"n1", ""}, {"n2", ""}}, 1).value());
  auto plan = ring::plan_transfers(*current, *next, 1);
  if (plan.size() != 1) {
    fmt::print(stderr, "expected one range to move, the plan has {}\n", plan.size());
    return 1;
  }
  const uint32_t p = plan[0].partition;

  TempDir source_dir, receiver_dir, raw_dir, sst_dir, ingest_dir;
  auto source = open_store(source_dir.path);
  std::mt19937_64 random(1);
  std::string values(1 << 16, '\0');
  for (auto& c : values) c = static_cast<char>(random());
  const causal::Actor coordinator{"n1", random()};
  auto start = Clock::now();
  uint64_t stored_bytes = 0;
  std::vector<storage::WriteOp> batch;
  uint64_t held = 0;
  for (uint64_t i = 0; held < keys; ++i) {
    std::string key = fmt::format("user{:010}", i);
    ring::Token token = ring::token_of(key);
    if (current->partition_of(token) != p) continue;
    causal::SiblingSet state = causal::SiblingSet().update(
        {}, coordinator, values.substr(random() % (values.size() - value_bytes), value_bytes));
    std::string bytes = node::encode_sibling_set(state);
    stored_bytes += key.size() + bytes.size();
    batch.push_back(storage::WriteOp{token, std::move(key), std::move(bytes)});
    ++held;
    if (batch.size() == 10'000 || held == keys) {
      check(source->write(batch), "load");
      batch.clear();
    }
  }
  check(source->flush(), "flush");
  fmt::print(
      "source: {} keys in key range {} of 2 ({} B values; {:.1f} MB of keys + stored states, "
      "{:.0f} B per key) written and flushed in {:.1f} s\n",
      keys, p, value_bytes, static_cast<double>(stored_bytes) / 1e6,
      static_cast<double>(stored_bytes) / static_cast<double>(keys),
      std::chrono::duration<double>(Clock::now() - start).count());

  // ---- the batch path through two node cores ----
  auto receiver = open_store(receiver_dir.path);
  std::deque<std::pair<NodeId, node::PeerMessage>> queue;
  QueueTransport transport(queue);
  TimePoint now{Duration(1'000'000)};
  node::Node a(config("n1", batch_bytes), current, *source, transport, causal::Actor{"n1", 1}, now);
  node::Node b(config("n2", batch_bytes), nullptr, *receiver, transport, causal::Actor{"n2", 2},
               now);
  Timer tree_build;
  tree_build.time([&] {
    while (!a.anti_entropy().all_built()) a.on_tick(now += Duration(5));
  });
  a.set_ring(current, next, 2);
  b.set_ring(current, next, 2);
  a.set_ring_applied(2, now);
  b.set_ring_applied(2, now);

  Timer source_answer, encode_request, decode_request, encode_reply, decode_reply, receiver_join,
      receiver_tick, total;
  uint64_t frames = 0, frame_bytes = 0;
  total.time([&] {
    while (b.transfer().done_version() != 2) {
      now += Duration(5);
      receiver_tick.time([&] { b.on_tick(now); });
      a.on_tick(now);
      while (!queue.empty()) {
        auto [to, message] = std::move(queue.front());
        queue.pop_front();
        const bool reply = to == "n2";
        auto frame =
            (reply ? encode_reply : encode_request).time([&] { return node::encode(message); });
        ++frames;
        frame_bytes += frame.size() * sizeof(capnp::word);
        auto decoded = (reply ? decode_reply : decode_request).time([&] {
          return node::decode_peer_message(frame.asPtr());
        });
        check(decoded.status(), "decode");
        if (reply) {
          receiver_join.time([&] { b.on_peer_message(std::move(decoded).value(), now); });
        } else {
          source_answer.time([&] { a.on_peer_message(std::move(decoded).value(), now); });
        }
      }
    }
  });
  const auto& got = b.transfer().counters();
  const uint64_t moved_bytes = got.bytes_received;
  if (got.keys_received != keys) {
    fmt::print(stderr, "the receiver joined {} states, not {}\n", got.keys_received, keys);
    return 1;
  }
  fmt::print(
      "\nbatch path (node/transfer.h), unpaced, --batch-bytes {}: {} keys, {:.1f} MB in {} "
      "frames ({:.1f} MB on the wire)\n",
      batch_bytes, got.keys_received, static_cast<double>(moved_bytes) / 1e6, frames,
      static_cast<double>(frame_bytes) / 1e6);
  line("whole transfer (both node cores, this thread)", total, keys, moved_bytes);
  line("source: answer (scan, decode, build reply)", source_answer, keys, moved_bytes);
  line("source: encode reply frames", encode_reply, keys, moved_bytes);
  line("receiver: decode reply frames", decode_reply, keys, moved_bytes);
  line("receiver: join states (get, join, tree, write)", receiver_join, keys, moved_bytes);
  Timer rest;  // the receiver's ticks (requests sent, its tree of the range) and the requests'
  rest.wall = receiver_tick.wall + encode_request.wall + decode_request.wall;
  rest.cpu = receiver_tick.cpu + encode_request.cpu + decode_request.cpu;
  line("the rest: receiver ticks, requests' codec", rest, keys, moved_bytes);

  // ---- floors of the parts ----
  fmt::print("\nfloors of the parts\n");
  const ring::Token first = current->first_token(p), last = current->last_token(p);
  Timer scan_only, scan_decode;
  uint64_t seen = 0;
  scan_only.time([&] {
    check(source->scan(first, last,
                       [&](ring::Token, std::string_view, std::string_view) {
                         ++seen;
                         return true;
                       }),
          "scan");
  });
  line("source: RocksDB scan of the range alone", scan_only, seen, moved_bytes);
  scan_decode.time([&] {
    check(source->scan(first, last,
                       [&](ring::Token, std::string_view, std::string_view value) {
                         return node::decode_sibling_set(value).is_ok();
                       }),
          "scan");
  });
  line("source: scan + decode every state", scan_decode, keys, moved_bytes);

  auto raw = open_store(raw_dir.path);
  Timer raw_write;
  std::vector<storage::WriteOp> states;
  check(source->scan(first, last,
                     [&](ring::Token token, std::string_view key, std::string_view value) {
                       states.push_back({token, std::string(key), std::string(value)});
                       return true;
                     }),
        "scan");
  const std::size_t per_batch =
      std::max<std::size_t>(1, batch_bytes / (stored_bytes / std::max<uint64_t>(keys, 1)));
  raw_write.time([&] {
    for (std::size_t i = 0; i < states.size(); i += per_batch) {
      std::vector<storage::WriteOp> ops(
          states.begin() + static_cast<std::ptrdiff_t>(i),
          states.begin() + static_cast<std::ptrdiff_t>(std::min(states.size(), i + per_batch)));
      check(raw->write(ops), "write");
    }
  });
  line("receiver: write the states, no get/join/tree", raw_write, keys, moved_bytes);
  (void)raw->close();

  // ---- SST path ----
  fmt::print("\nSST path (RocksDB SstFileWriter + IngestExternalFile)\n");
  const std::string sst = (sst_dir.path / "range.sst").string();
  rocksdb::Options options;
  Timer sst_write;
  sst_write.time([&] {
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options);
    check(writer.Open(sst), "sst open");
    check(source->scan(first, last,
                       [&](ring::Token token, std::string_view key, std::string_view value) {
                         return writer
                             .Put(storage::encode_data_key(token, key),
                                  rocksdb::Slice(value.data(), value.size()))
                             .ok();
                       }),
          "scan");
    check(writer.Finish(), "sst finish");
  });
  const auto sst_bytes = std::filesystem::file_size(sst);
  line("source: scan the range into an SST file", sst_write, keys, moved_bytes);
  fmt::print("  (the SST file: {:.1f} MB, snappy-compressed where RocksDB has it)\n",
             static_cast<double>(sst_bytes) / 1e6);
  Timer ingest;
  ingest.time([&] {
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    check(rocksdb::DB::Open(options, ingest_dir.path.string(), &db), "open");
    rocksdb::IngestExternalFileOptions ingest_options;
    ingest_options.move_files = true;
    check(db->IngestExternalFile({sst}, ingest_options), "ingest");
    delete db;
  });
  line("receiver: ingest the file (moved)", ingest, keys, moved_bytes);
  line("receiver: then its trees, by a scan (timed on n1)", tree_build, keys, moved_bytes);
  (void)source->close();
  (void)receiver->close();
  return 0;
}

}  // namespace
}  // namespace qkv::bench

int main(int argc, char** argv) {
  CLI::App app{"qkv-transfer-bench: the parts of an ownership transfer (bench/README.md)"};
  uint64_t keys = 1'000'000;
  uint32_t value_bytes = 100, batch_bytes = 1u << 20;
  app.add_option("--keys", keys, "keys in the range that moves")->check(CLI::PositiveNumber);
  app.add_option("--value-bytes", value_bytes, "value size")->check(CLI::Range(1u, 60000u));
  app.add_option("--batch-bytes", batch_bytes, "transfer.batch_bytes_max")
      ->check(CLI::Range(1u, 8u << 20));
  CLI11_PARSE(app, argc, argv);
  return qkv::bench::run(keys, value_bytes, batch_bytes);
}
