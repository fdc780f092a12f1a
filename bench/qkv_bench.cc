// qkv-bench: a YCSB-style load generator for qkv, on the client SDK's AsyncClient.
//
//   qkv-bench --nodes 127.0.0.1:7001,127.0.0.1:7002 --workload A --keys 100000
//             --value-bytes 1000 --connections 50 --in-flight 1 --duration 20 --load
//
// Workloads (Cooper et al., SoCC 2010): A 50 % read / 50 % update, B 95/5, C 100 % read,
// W 100 % update, RMW read-modify-write (a get, then a put with the context it returned).
// Updates carry the causal context last seen for the key (from a get, or the answer to an
// earlier put), so overwrites replace the value instead of piling up siblings, as a real
// client's would. `--load` first writes every key once (sequentially, same connections).
//
// Closed loop: each connection keeps --in-flight requests outstanding; a completion issues
// the next. Latency is from the call to the callback, recorded in log-linear histograms
// (bench/histogram.h). The report is a table, or JSON with --json; a progress line goes to
// stderr every second unless --quiet. SIGUSR1 ends the current run phase early, as if its
// --duration had passed (the load phase is not cut short): a script measuring "while
// something lasts" (bench/transfer) runs with a long --duration and signals at the end.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <csignal>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/histogram.h"
#include "bench/key_chooser.h"
#include "bench/phase_report.h"
#include "bench/proc_stats.h"
#include "client/async_client.h"
#include "client/cluster_client.h"

namespace qkv::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Set by SIGUSR1; the progress loop of a run phase ends the phase and clears it.
std::atomic<bool> end_run_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);  // safe to store from a signal handler

extern "C" void on_sigusr1(int) {
  end_run_requested.store(true);
}

enum class Op { kRead, kUpdate, kRmw };

struct Workload {
  std::string name;
  double read_fraction;  // the rest are updates (or RMWs for "RMW")
  bool rmw = false;
};

std::optional<Workload> workload_named(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name == "A") return Workload{name, 0.5};
  if (name == "B") return Workload{name, 0.95};
  if (name == "C") return Workload{name, 1.0};
  if (name == "W") return Workload{name, 0.0};
  if (name == "RMW") return Workload{name, 0.0, true};
  return std::nullopt;
}

struct Config {
  std::vector<std::string> nodes;
  Workload workload;
  uint64_t keys = 100'000;
  uint32_t value_bytes = 1000;
  Distribution distribution = Distribution::kUniform;
  uint32_t connections = 50;
  uint32_t in_flight = 1;
  uint32_t threads = 1;
  double duration_s = 20;
  uint64_t ops = 0;  // > 0: stop after this many operations instead of the duration
  uint8_t r = 0, w = 0;
  uint32_t timeout_ms = 5000;
  // Off: a request the node sheds (overloaded) completes at once, counted apart (the
  // overload benchmark); on, the SDK sends it again after a backoff (async_client.h).
  bool retry_overloaded = true;
  // With retry_overloaded off: a connection whose request was shed waits a random 1..this
  // many ms before its next one (0: none), as a client that backs off does.
  uint32_t shed_backoff_ms = 0;
  std::string ca_file;  // set: TLS to the nodes, verified with this CA (docs/security.md)
  // "node-list": each connection is an AsyncClient to one node of --nodes, in turn (any
  // node forwards to a coordinator); "cluster": each thread's loops share one token-aware,
  // pooled AsyncClusterClient (client/cluster_client.h).
  std::string client = "node-list";
  bool token_aware = true;  // --client cluster: route by key (else: nodes in turn)
  // --client cluster: pipelined connections per node and thread (0: as many in all as the
  // node-list client opens, connections / nodes).
  uint32_t connections_per_node = 0;
  bool load = false;
  bool load_only = false;
  bool delete_all = false;  // after the runs, delete every key once with its context
  uint64_t seed = 1;
  bool json = false;
  bool quiet = false;
  // Processes whose CPU time (user + system, /proc/PID/stat) each phase measures: the
  // servers under test, for CPU per operation (issue 17). Empty: not measured.
  std::vector<int> server_pids;
};

struct Stats {
  Measured measured;              // the driver thread's own
  std::atomic<uint64_t> done{0};  // operations completed, ok or not (read by the progress line)
  std::atomic<uint64_t> failed{0};
};

// The keys' latest causal contexts as one thread saw them (threads share nothing; a
// context another thread made newer only costs a sibling that the next read collapses).
using Contexts = std::vector<std::string>;

// One request loop's way to the cluster: a connection of its own to one node (the
// node-list client), or the thread's cluster client, shared by its loops.
class Lane {
 public:
  explicit Lane(client::AsyncClient* one) : one_(one) {}
  explicit Lane(client::AsyncClusterClient* cluster) : cluster_(cluster) {}

  void get(std::string_view key, client::ReadOptions options,
           client::AsyncClient::GetCallback done) {
    if (one_ != nullptr) return one_->get(key, options, std::move(done));
    cluster_->get(key, options, std::move(done));
  }
  void put(std::string_view key, std::string_view value, std::string_view context,
           client::WriteOptions options, client::AsyncClient::WriteCallback done) {
    if (one_ != nullptr) return one_->put(key, value, context, options, std::move(done));
    cluster_->put(key, value, context, options, std::move(done));
  }
  void del(std::string_view key, std::string_view context, client::WriteOptions options,
           client::AsyncClient::WriteCallback done) {
    if (one_ != nullptr) return one_->del(key, context, options, std::move(done));
    cluster_->del(key, context, options, std::move(done));
  }

 private:
  client::AsyncClient* one_ = nullptr;
  client::AsyncClusterClient* cluster_ = nullptr;
};

// One thread: an io_context, its connections and their request loops.
class Driver {
 public:
  Driver(const Config& config, uint32_t thread, uint32_t connections, Contexts& contexts,
         const std::string& values, Stats& stats)
      : config_(config),
        contexts_(contexts),
        values_(values),
        stats_(stats),
        chooser_(config.distribution, config.keys, config.seed * 7919 + thread),
        mix_(config.seed * 104729 + thread) {
    if (config.client == "cluster") {
      client::ClusterOptions options;
      options.nodes = config.nodes;
      options.timeout_ms = config.timeout_ms;
      // As many connections in all as the node-list client opens (each is pipelined).
      options.connections_per_node =
          std::max<uint32_t>(1, connections / static_cast<uint32_t>(config.nodes.size()));
      if (!config.ca_file.empty()) options.tls = client::TlsOptions{config.ca_file, "", "", "1.3"};
      options.token_aware = config.token_aware;
      cluster_ = std::make_unique<client::AsyncClusterClient>(io_, std::move(options));
      for (uint32_t i = 0; i < connections; ++i) lanes_.emplace_back(cluster_.get());
      return;
    }
    for (uint32_t i = 0; i < connections; ++i) {
      client::AsyncOptions options;
      options.node = config.nodes[(thread + i * config.threads) % config.nodes.size()];
      options.timeout_ms = config.timeout_ms;
      options.retry_overloaded = config.retry_overloaded;
      if (!config.ca_file.empty()) options.tls = client::TlsOptions{config.ca_file, "", "", "1.3"};
      clients_.push_back(std::make_unique<client::AsyncClient>(io_, options));
      lanes_.emplace_back(clients_.back().get());
    }
  }

  // Writes keys [begin, end) once each; every connection keeps in_flight puts going.
  void load(uint64_t begin, uint64_t end) {
    next_load_ = begin;
    load_end_ = end;
    for (auto& c : lanes_) {
      for (uint32_t i = 0; i < config_.in_flight; ++i) load_next(c);
    }
    io_.run();
    io_.restart();
  }

  // Deletes keys [begin, end) once each, with the contexts the earlier phases left: every
  // connection keeps in_flight deletes going (the data lifecycle benchmark).
  void delete_all(uint64_t begin, uint64_t end) {
    next_load_ = begin;
    load_end_ = end;
    deleting_ = true;
    for (auto& c : lanes_) {
      for (uint32_t i = 0; i < config_.in_flight; ++i) load_next(c);
    }
    io_.run();
    io_.restart();
    deleting_ = false;
  }

  // The measured run: until `stop` (set by the main thread) or op_budget ops.
  void run(std::atomic<bool>& stop, uint64_t op_budget) {
    stop_ = &stop;
    budget_ = op_budget;
    for (auto& c : lanes_) {
      for (uint32_t i = 0; i < config_.in_flight; ++i) issue(c);
    }
    io_.run();
    io_.restart();
  }

 private:
  void load_next(Lane& c) {
    if (next_load_ >= load_end_) return idle();
    uint64_t key = next_load_++;
    ++outstanding_;
    auto start = SteadyClock::now();
    auto done = [this, &c, key, start](Result<client::WriteResult> result) {
      finish(Op::kUpdate, start, result.status());
      if (result.is_ok()) contexts_[key] = std::move(result->context);
      load_next(c);
    };
    if (deleting_) return c.del(key_name(key), contexts_[key], write_options(), std::move(done));
    c.put(key_name(key), value(), contexts_[key], write_options(), std::move(done));
  }

  bool should_stop() {
    if (stop_->load(std::memory_order_relaxed)) return true;
    if (budget_ == 0) return false;
    if (issued_ >= budget_) return true;
    return false;
  }

  void issue(Lane& c) {
    if (should_stop()) return idle();
    ++issued_;
    ++outstanding_;
    const uint64_t key = chooser_.next();
    const auto start = SteadyClock::now();
    if (config_.workload.rmw) {
      c.get(key_name(key), read_options(), [this, &c, key, start](Result<client::GetResult> got) {
        if (!got.is_ok()) {
          finish(Op::kRmw, start, got.status());
          return issue_after(c, got.status());
        }
        if (got->values.size() > 1) ++stats_.measured.sibling_reads;
        c.put(key_name(key), value(), got->context, write_options(),
              [this, &c, key, start](Result<client::WriteResult> put) {
                finish(Op::kRmw, start, put.status());
                if (put.is_ok()) contexts_[key] = std::move(put->context);
                issue_after(c, put.status());
              });
      });
      return;
    }
    const bool read =
        std::uniform_real_distribution<double>(0, 1)(mix_) < config_.workload.read_fraction;
    if (read) {
      c.get(key_name(key), read_options(), [this, &c, key, start](Result<client::GetResult> got) {
        finish(Op::kRead, start, got.status());
        if (got.is_ok()) {
          if (got->values.size() > 1) ++stats_.measured.sibling_reads;
          contexts_[key] = std::move(got->context);
        }
        issue_after(c, got.status());
      });
    } else {
      c.put(key_name(key), value(), contexts_[key], write_options(),
            [this, &c, key, start](Result<client::WriteResult> put) {
              finish(Op::kUpdate, start, put.status());
              if (put.is_ok()) contexts_[key] = std::move(put->context);
              issue_after(c, put.status());
            });
    }
  }

  // The connection's next request: at once, or after a jittered backoff (up to
  // --shed-backoff-ms) when the node shed the last one, as a well-behaved client does.
  void issue_after(Lane& c, const Status& status) {
    if (status.code() != StatusCode::kOverloaded || config_.shed_backoff_ms == 0) return issue(c);
    auto delay = std::chrono::milliseconds(
        std::uniform_int_distribution<uint32_t>(1, config_.shed_backoff_ms)(mix_));
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, delay);
    ++outstanding_;  // the connection is not idle while it waits
    timer->async_wait([this, &c, timer](const boost::system::error_code&) {
      --outstanding_;
      issue(c);
    });
  }

  // Nothing more to issue on one loop: once none is outstanding, close the connections so
  // that io_context::run() returns (an open connection always has a read pending).
  void idle() {
    if (outstanding_ > 0) return;
    for (auto& c : clients_) c->close();
    if (cluster_) cluster_->close();
  }

  void finish(Op op, SteadyClock::time_point start, const Status& status) {
    --outstanding_;
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - start);
    const auto i = static_cast<std::size_t>(op);
    stats_.measured.latency[i].record(static_cast<uint64_t>(ns.count()));
    (status.code() == StatusCode::kOverloaded ? stats_.measured.shed : stats_.measured.admitted)
        .record(static_cast<uint64_t>(ns.count()));
    if (!status.is_ok()) {
      ++stats_.measured.errors[i];
      stats_.failed.fetch_add(1, std::memory_order_relaxed);
      ++stats_.measured.error_kinds[status.to_string().substr(0, 80)];
    }
    stats_.done.fetch_add(1, std::memory_order_relaxed);
  }

  // A slice of the shared random buffer: values differ without generating bytes per op.
  std::string_view value() {
    const uint64_t offset = chooser_.uniform(values_.size() - config_.value_bytes + 1);
    return std::string_view(values_).substr(offset, config_.value_bytes);
  }
  client::ReadOptions read_options() const { return client::ReadOptions{config_.r, 0, false}; }
  client::WriteOptions write_options() const { return client::WriteOptions{config_.w, 0, true}; }

  const Config& config_;
  Contexts& contexts_;
  const std::string& values_;
  Stats& stats_;
  KeyChooser chooser_;
  std::mt19937_64 mix_;
  boost::asio::io_context io_;
  std::vector<std::unique_ptr<client::AsyncClient>> clients_;  // node-list
  std::unique_ptr<client::AsyncClusterClient> cluster_;        // or cluster
  std::vector<Lane> lanes_;                                    // one per request loop (connection)
  std::atomic<bool>* stop_ = nullptr;
  uint64_t budget_ = 0, issued_ = 0;
  uint64_t outstanding_ = 0;  // operations issued and not finished
  uint64_t next_load_ = 0, load_end_ = 0;
  bool deleting_ = false;  // load_next() deletes instead of writing (delete_all)
};

// Runs `body(driver, thread)` on config.threads threads with a progress line.
template <typename Body>
PhaseResult run_phase(const Config& config, const std::string& name,
                      std::vector<Contexts>& contexts, const std::string& values,
                      std::atomic<bool>& stop, Body body) {
  std::vector<std::unique_ptr<Stats>> stats;
  std::vector<std::unique_ptr<Driver>> drivers;
  for (uint32_t t = 0; t < config.threads; ++t) {
    stats.push_back(std::make_unique<Stats>());
    uint32_t share =
        config.connections / config.threads + (t < config.connections % config.threads);
    drivers.push_back(std::make_unique<Driver>(config, t, std::max(share, 1u), contexts[t], values,
                                               *stats.back()));
  }
  const double cpu_before = config.server_pids.empty() ? -1 : cpu_seconds(config.server_pids);
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  std::atomic<uint32_t> running{config.threads};
  for (uint32_t t = 0; t < config.threads; ++t) {
    threads.emplace_back([&, t] {
      body(*drivers[t], t);
      running.fetch_sub(1);
    });
  }
  uint64_t last_done = 0;
  auto last = start;
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // progress cadence only
    const auto now = SteadyClock::now();
    if (!config.quiet && now - last >= std::chrono::seconds(1)) {
      uint64_t done = 0, failed = 0;
      for (auto& s : stats) {
        done += s->done.load(std::memory_order_relaxed);
        failed += s->failed.load(std::memory_order_relaxed);
      }
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const double interval = std::chrono::duration<double>(now - last).count();
      std::fprintf(stderr, "\r[%s %5.1fs] %llu ops, %.0f ops/s (last 1s: %.0f), %llu errors   ",
                   name.c_str(), elapsed, static_cast<unsigned long long>(done),
                   static_cast<double>(done) / elapsed,
                   static_cast<double>(done - last_done) / interval,
                   static_cast<unsigned long long>(failed));
      std::fflush(stderr);
      last_done = done;
      last = now;
    }
    if (config.ops == 0 && name != "load" &&
        now - start >= std::chrono::duration<double>(config.duration_s)) {
      stop.store(true);
    }
    if (name != "load" && end_run_requested.exchange(false)) stop.store(true);
  }
  for (auto& t : threads) t.join();
  if (!config.quiet) std::fprintf(stderr, "\n");
  PhaseResult result;
  result.name = name;
  result.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  if (cpu_before >= 0) {
    const double cpu_after = cpu_seconds(config.server_pids);
    if (cpu_after >= 0) result.server_cpu_seconds = cpu_after - cpu_before;
    result.server_resident_bytes = resident_bytes(config.server_pids);
  }
  for (auto& s : stats) result.stats.merge(s->measured);
  return result;
}

int run(int argc, char** argv) {
  std::signal(SIGUSR1, on_sigusr1);
  CLI::App app{"qkv-bench: YCSB-style load generator for qkv (bench/README.md)"};
  Config config;
  std::vector<std::string> workloads = {"A"};
  std::string distribution = "uniform";
  config.nodes = {"127.0.0.1:7001"};
  app.add_option("--nodes", config.nodes,
                 "host:port,... client addresses (connections spread over them)")
      ->delimiter(',');
  app.add_option("--workload", workloads,
                 "A (50/50), B (95/5), C (read only), W (write only), RMW; a list (A,W) runs "
                 "each in turn, carrying the keys' causal contexts from one to the next")
      ->delimiter(',');
  app.add_option("--keys", config.keys, "key space (default 100000)")->check(CLI::PositiveNumber);
  app.add_option("--value-bytes", config.value_bytes, "value size (default 1000)")
      ->check(CLI::Range(1u, 16u << 20));
  app.add_option("--distribution", distribution, "uniform | zipfian (YCSB's scrambled, 0.99)");
  app.add_option("--connections", config.connections, "TCP connections (default 50)")
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--in-flight", config.in_flight, "requests outstanding per connection (1)")
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--threads", config.threads, "load generator threads (default 1)")
      ->check(CLI::Range(1u, 64u));
  app.add_option("--duration", config.duration_s, "seconds to run (default 20)")
      ->check(CLI::PositiveNumber);
  app.add_option("--ops", config.ops, "stop after this many operations instead");
  app.add_option("--r", config.r, "read quorum (0: the node's default)");
  app.add_option("--w", config.w, "write quorum (0: the node's default)");
  app.add_option("--timeout-ms", config.timeout_ms, "per-request timeout (default 5000)");
  app.add_flag("!--no-retry-overloaded", config.retry_overloaded,
               "count requests a node sheds (overloaded) instead of sending them again after a "
               "backoff (overload benchmarks)");
  app.add_option("--shed-backoff-ms", config.shed_backoff_ms,
                 "with --no-retry-overloaded: after a shed request, wait up to this many ms "
                 "(jittered) before the connection's next one (default 0)");
  app.add_option("--ca", config.ca_file, "PEM cluster CA: connect with TLS (nodes with [tls])");
  app.add_option("--client", config.client,
                 "node-list (default): a connection per loop to one node of --nodes in turn; "
                 "cluster: the token-aware, pooled cluster client")
      ->check(CLI::IsMember({"node-list", "cluster"}));
  app.add_option("--connections-per-node", config.connections_per_node,
                 "--client cluster: pipelined connections per node and thread (default: "
                 "connections / nodes)");
  app.add_flag("!--no-token-aware", config.token_aware,
               "--client cluster: send to the nodes in turn, not to the key's primaries");
  app.add_flag("--load", config.load, "first write every key once");
  app.add_flag("--load-only", config.load_only, "only the load phase");
  app.add_flag("--delete-all", config.delete_all,
               "last, delete every key once with its context (tombstone reaping benchmarks: "
               "--load --delete-all writes and deletes the key space)");
  app.add_option("--seed", config.seed, "seed of key choice and the op mix (default 1)");
  app.add_option("--server-pids", config.server_pids,
                 "PID,... of the servers: each phase reports their CPU time (user + system, "
                 "/proc) and the operations per CPU-second, and their resident size at its end")
      ->delimiter(',');
  app.add_flag("--json", config.json, "print the results as JSON");
  app.add_flag("--quiet", config.quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);

  if (config.nodes.empty()) {
    fmt::print(stderr, "qkv-bench: --nodes lists no address\n");
    return 2;
  }
  std::vector<Workload> runs;
  for (const auto& name : workloads) {
    auto w = workload_named(name);
    if (!w) {
      fmt::print(stderr, "qkv-bench: unknown workload '{}' (A, B, C, W or RMW)\n", name);
      return 2;
    }
    runs.push_back(*w);
  }
  if (runs.empty()) {
    fmt::print(stderr, "qkv-bench: --workload names no workload\n");
    return 2;
  }
  if (distribution == "uniform") {
    config.distribution = Distribution::kUniform;
  } else if (distribution == "zipfian") {
    config.distribution = Distribution::kZipfian;
  } else {
    fmt::print(stderr, "qkv-bench: unknown distribution '{}' (uniform or zipfian)\n", distribution);
    return 2;
  }
  config.threads = std::min(config.threads, config.connections);

  // Incompressible values, sliced per op.
  std::string values(std::max<std::size_t>(config.value_bytes * 4ull, 1 << 16), '\0');
  std::mt19937_64 bytes(config.seed);
  for (auto& c : values) c = static_cast<char>(bytes());
  std::vector<Contexts> contexts(config.threads, Contexts(config.keys));

  nlohmann::json report;
  report["workload"] = fmt::format("{}", fmt::join(workloads, ","));
  report["config"] = {{"nodes", config.nodes},
                      {"keys", config.keys},
                      {"value_bytes", config.value_bytes},
                      {"distribution", distribution},
                      {"connections", config.connections},
                      {"in_flight", config.in_flight},
                      {"threads", config.threads},
                      {"r", config.r},
                      {"w", config.w}};
  std::vector<PhaseResult> phases;
  std::atomic<bool> stop{false};
  if (config.load || config.load_only) {
    phases.push_back(run_phase(config, "load", contexts, values, stop, [&](Driver& d, uint32_t t) {
      const uint64_t per = config.keys / config.threads;
      const uint64_t begin = per * t;
      const uint64_t end = t + 1 == config.threads ? config.keys : begin + per;
      d.load(begin, end);
    }));
    // Each thread loaded its own range: every thread starts the run knowing every context.
    for (uint64_t k = 0; k < config.keys; ++k) {
      const Contexts* owner = nullptr;
      for (const auto& c : contexts) {
        if (!c[k].empty()) owner = &c;
      }
      if (!owner) continue;
      for (auto& c : contexts) {
        if (&c != owner) c[k] = (*owner)[k];
      }
    }
  }
  // The runs share the contexts: an update in a later run overwrites what an earlier one
  // wrote instead of adding a sibling beside it (a blind write, as a new process's would be).
  for (const Workload& w : config.load_only ? std::vector<Workload>{} : runs) {
    config.workload = w;
    stop.store(false);
    const uint64_t budget =
        config.ops == 0 ? 0 : (config.ops + config.threads - 1) / config.threads;
    phases.push_back(run_phase(config, "run " + w.name, contexts, values, stop,
                               [&](Driver& d, uint32_t) { d.run(stop, budget); }));
  }
  if (config.delete_all) {
    phases.push_back(
        run_phase(config, "delete", contexts, values, stop, [&](Driver& d, uint32_t t) {
          const uint64_t per = config.keys / config.threads;
          const uint64_t begin = per * t;
          d.delete_all(begin, t + 1 == config.threads ? config.keys : begin + per);
        }));
  }
  uint64_t errors = 0;
  for (const auto& p : phases) {
    for (uint64_t e : p.stats.errors) errors += e;
    if (config.json) {
      report["phases"].push_back(to_json(p));
    } else {
      print_table(p);
    }
  }
  if (config.json) fmt::print("{}\n", report.dump(2));
  return errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace qkv::bench

int main(int argc, char** argv) {
  return qkv::bench::run(argc, argv);
}
