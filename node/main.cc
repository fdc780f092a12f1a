// qkvd: the qkv node daemon. The one place where the real clock, sockets and RocksDB are
// built (design.md §3); everything else receives them.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <tuple>
#include <variant>

#include "common/asio.h"
#include "common/version.h"
#include "node/config_checks.h"
#include "node/daemon_config.h"
#include "node/host.h"
#include "node/incarnation.h"
#include "node/log_writer.h"
#include "node/server.h"
#include "node/snapshot.h"
#include "node/storage/rocksdb_storage.h"
#include "ring/ring.h"

namespace {

using qkv::LogEvent;
using qkv::Status;
using qkv::node::DaemonConfig;
using qkv::node::log_event;

constexpr int kExitBadConfig = 2;
constexpr int kExitFailed = 1;

struct Flags {
  std::string config_path, node_id, data_dir, client_listen, peer_listen, client_advertise,
      peer_advertise, members, seeds, zone, log_level, log_format;
  std::optional<std::string> http_listen;  // "" turns the HTTP port off
  uint32_t n = 0, r = 0, w = 0, partitions = 0;
  std::optional<uint32_t> io_threads;
  bool sync_writes = false;
  std::optional<bool> commit_thread;
  bool insecure = false;  // --insecure: [tls] insecure = true
  bool no_hinted_handoff = false;
  bool auto_join = false;     // --auto-join: [cluster] auto_join = true
  bool check_config = false;  // --check-config: validate, print warnings, exit
  std::string restore_from;   // --restore-from: a snapshot to copy into the empty data_dir
  bool restore_older_than_grace = false;  // --restore-older-than-grace
  uint64_t aae_exchange_interval_ms = 0;
  uint64_t transfer_bytes_per_second_max = 0;
  uint32_t auto_join_quiet_ms = 0;
};

// Flags win over the file; both are validated together afterwards.
Status apply_flags(const Flags& f, DaemonConfig& c) {
  if (!f.node_id.empty()) c.node.node_id = f.node_id;
  if (!f.data_dir.empty()) c.data_dir = f.data_dir;
  if (!f.client_listen.empty()) {
    auto hp = qkv::node::parse_host_port(f.client_listen, "--client-listen");
    if (!hp) return hp.status();
    c.client_listen = *hp;
  }
  if (!f.peer_listen.empty()) {
    auto hp = qkv::node::parse_host_port(f.peer_listen, "--peer-listen");
    if (!hp) return hp.status();
    c.peer_listen = *hp;
  }
  for (auto [text, flag, target] :
       {std::tuple{&f.client_advertise, "--client-advertise", &c.client_advertise},
        std::tuple{&f.peer_advertise, "--peer-advertise", &c.peer_advertise}}) {
    if (text->empty()) continue;
    auto hp = qkv::node::parse_host_port(*text, flag);
    if (!hp) return hp.status();
    *target = *hp;
  }
  if (f.http_listen) {
    c.http_listen.reset();
    if (!f.http_listen->empty()) {
      auto hp = qkv::node::parse_host_port(*f.http_listen, "--http-listen");
      if (!hp) return hp.status();
      c.http_listen = *hp;
    }
  }
  if (!f.members.empty()) {
    auto members = qkv::node::parse_members_flag(f.members);
    if (!members) return members.status();
    c.members = std::move(members).value();
  }
  if (!f.seeds.empty()) {
    auto seeds = qkv::node::parse_seeds(f.seeds);
    if (!seeds) return seeds.status();
    c.seeds = std::move(seeds).value();
  }
  if (!f.zone.empty()) c.zone = f.zone;
  if (f.n) c.node.n = f.n;
  if (f.r) c.node.r = f.r;
  if (f.w) c.node.w = f.w;
  if (f.partitions) c.partitions = f.partitions;
  if (f.io_threads) c.io_threads = *f.io_threads;
  if (f.sync_writes) c.sync_writes = true;
  if (f.commit_thread) c.commit_thread = *f.commit_thread;
  if (f.insecure) c.tls.insecure = true;
  if (f.no_hinted_handoff) c.hinted_handoff = false;
  if (f.auto_join) c.auto_join.enabled = true;
  if (f.auto_join_quiet_ms) c.auto_join.quiet = qkv::Duration(f.auto_join_quiet_ms);
  if (f.transfer_bytes_per_second_max) {
    c.node.transfer.bytes_per_second_max = f.transfer_bytes_per_second_max;
  }
  if (f.aae_exchange_interval_ms) {
    c.node.anti_entropy.exchange_interval = qkv::Duration(f.aae_exchange_interval_ms);
  }
  if (!f.log_level.empty()) c.log_level = f.log_level;
  if (!f.log_format.empty()) c.log_format = f.log_format;
  return c.validate();
}

uint64_t random_incarnation() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

// What this start reads from its disk (node/host.h boot: incarnation, generation, ring),
// with qkvd's checks and log lines. Returns the boot, or the exit code.
std::variant<qkv::node::Boot, int> boot_node(const DaemonConfig& config,
                                             qkv::storage::Storage& storage) {
  // The ring the last run applied wins; else the initial members define the first ring
  // (version 1, the smallest id its claimant), made once gossip shows no cluster disagrees
  // (node/first_ring.h); a node joining from seeds learns it by gossip.
  qkv::gossip::RingState configured_ring;
  if (!config.members.empty()) {
    std::vector<qkv::NodeId> ids;
    for (const auto& m : config.members) ids.push_back(m.id);
    auto ring = qkv::node::first_ring(std::move(ids), config.partitions, config.node.n);
    if (!ring) {
      log_event(LogEvent::critical("ring_failed").with("error", ring.status()));
      return kExitBadConfig;
    }
    configured_ring = std::move(ring).value();
  }
  const int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  auto boot = qkv::node::boot(storage, random_incarnation, wall_ms, configured_ring);
  if (!boot) {
    log_event(LogEvent::critical("storage_failed").with("error", boot.status()));
    return kExitFailed;
  }
  if (boot->restored) {
    log_event(LogEvent::warn("restored_start")
                  .with("incarnation", boot->incarnation)
                  .with("previous_incarnation", boot->previous_incarnation)
                  .with("note",
                        "started from a restored snapshot; a new incarnation keeps dots "
                        "unique, and the writes made after the snapshot come back from "
                        "the other replicas"));
  } else if (boot->after_unclean) {
    log_event(
        LogEvent::warn("unclean_restart")
            .with("incarnation", boot->incarnation)
            .with("note", "the last stop was not clean; a new incarnation keeps dots unique"));
  }
  if (boot->ring_saved && boot->ring.owners.size() != config.partitions) {
    log_event(LogEvent::critical("ring_failed")
                  .with("error", fmt::format("the saved ring has {} partitions but the config "
                                             "says {}: the partition count is fixed at cluster "
                                             "creation",
                                             boot->ring.owners.size(), config.partitions)));
    return kExitBadConfig;
  }
  return std::move(boot).value();
}

// Runs the server until a signal or its own leaving stops it, drained. Returns once the
// io_context has no work left: 0, or kExitBadConfig when membership refused to go on (its
// configured first ring disagrees with the cluster it met; it logged why).
int serve(boost::asio::io_context& io, qkv::node::Server& server, const qkv::Clock& clock) {
  int code = 0;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  std::optional<qkv::TimePoint> drained_at;
  auto stop = [&] {
    server.shutdown([&] {
      signals.cancel();
      drained_at = clock.now();
    });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log_event(LogEvent::info("signal").with("signal", signal).with("action", "graceful_shutdown"));
    stop();
  });
  // A node that has left the ring stops by itself (its data is gone, its hints delivered).
  server.set_on_removed([&] {
    log_event(LogEvent::info("left_cluster").with("action", "graceful_shutdown"));
    stop();
  });
  server.set_on_fatal([&] {
    code = kExitBadConfig;
    stop();
  });
  // run() returns once no work is left. After the drain, closing connections linger briefly
  // (close_linger_ms) so the last replies are read; never wait on them more than 3 s.
  while (!io.stopped()) {
    io.run_for(std::chrono::milliseconds(100));
    if (drained_at && clock.now() - *drained_at > std::chrono::seconds(3)) io.stop();
  }
  return code;
}

// A clean stop: durable first, then the marker — a clean mark over unsynced writes would
// let a crash-restart reuse dots (node/incarnation.h). Returns the exit code.
int close_storage(qkv::storage::RocksDbStorage& storage) {
  Status flushed = storage.flush();
  if (flushed.is_ok()) flushed = qkv::node::mark_clean_shutdown(storage);
  Status closed = storage.close();
  if (!flushed.is_ok() || !closed.is_ok()) {
    log_event(LogEvent::error("stop_unclean").with("flush", flushed).with("close", closed));
    return kExitFailed;
  }
  log_event(LogEvent::info("stopped").with("clean", true));
  return 0;
}

static_assert(DaemonConfig::kWriteBufferBytesMin ==
              qkv::storage::RocksDbStorage::kWriteBufferBytesMin);

int run(DaemonConfig config) {
  qkv::storage::RocksDbOptions storage_options;
  storage_options.sync_writes = config.sync_writes;
  storage_options.block_cache_bytes = config.block_cache_bytes;
  storage_options.write_buffer_bytes = config.write_buffer_bytes;
  auto storage = qkv::storage::RocksDbStorage::open(config.data_dir, storage_options);
  if (!storage) {
    log_event(LogEvent::critical("storage_open_failed").with("error", storage.status()));
    return kExitFailed;
  }
  auto booted = boot_node(config, **storage);
  if (const int* code = std::get_if<int>(&booted)) return *code;
  const qkv::node::Boot& boot = std::get<qkv::node::Boot>(booted);
  config.node.generation = boot.generation;
  config.node.snapshot_dir = config.snapshot_root();

  boost::asio::io_context io;
  qkv::SystemClock clock;
  auto server = std::make_unique<qkv::node::Server>(io, config, boot, **storage, clock);
  if (Status s = server->load_saved_trees(!boot.after_unclean && !boot.restored); !s.is_ok()) {
    log_event(LogEvent::critical("storage_failed").with("error", s));
    return kExitFailed;
  }
  if (Status s = server->start(); !s.is_ok()) {
    log_event(LogEvent::critical("listen_failed").with("error", s));
    return kExitFailed;
  }
  log_event(
      LogEvent::info("ready")
          .with("client_address",
                fmt::format("{}:{}", config.client_listen.host, server->client_port()))
          .with("peer_address", fmt::format("{}:{}", config.peer_listen.host, server->peer_port()))
          .with("http_address", config.http_listen ? fmt::format("{}:{}", config.http_listen->host,
                                                                 server->http_port())
                                                   : std::string("off"))
          .with("data_dir", config.data_dir)
          .with("incarnation", boot.incarnation)
          .with("generation", boot.generation)
          .with("n", config.node.n)
          .with("r", config.node.r)
          .with("w", config.node.w)
          .with("partitions", config.partitions)
          .with("members", config.members.size())
          .with("seeds", config.seeds.size())
          .with("sync_writes", config.sync_writes)
          .with("commit_thread", config.commit_thread_or_default())
          .with("io_threads", config.io_threads_or_cores())
          .with("hinted_handoff", config.hinted_handoff)
          .with("auto_join", config.auto_join.enabled));
  const int served = serve(io, *server, clock);
  // Saved trees spare the next start its scans; a failure only costs them.
  if (Status s = server->save_trees(); !s.is_ok()) {
    log_event(LogEvent::warn("aae_trees_not_saved").with("error", s));
  }
  server.reset();
  const int closed = close_storage(**storage);
  return closed != 0 ? closed : served;
}

// --restore-from: copies the snapshot into data_dir, which must be missing or empty (a restore
// never overwrites data), through a temporary sibling renamed at the end so that a crash
// midway leaves no half data directory; then marks it restored (node/incarnation.h), also
// when the copy came from a cleanly stopped node, so its start takes a new incarnation. The
// snapshot is copied, not moved or linked: it stays a backup. Returns 0 or the exit code.
//
// A snapshot older than the tombstone grace is refused unless `older_than_grace`: keys
// deleted after it may have been reaped everywhere since, and the values it holds for them
// would come back (node/reaper.h). Restoring every node from snapshots of one moment (a
// whole cluster) is what the flag is for; one node is better started empty and repaired.
int restore_data_dir(const std::string& snapshot, const qkv::node::DaemonConfig& config,
                     bool older_than_grace) {
  const std::string& data_dir = config.data_dir;
  namespace fs = std::filesystem;
  std::error_code ec;
  auto fail = [&](const std::string& why) {
    log_event(LogEvent::critical("restore_failed")
                  .with("snapshot", snapshot)
                  .with("data_dir", data_dir)
                  .with("error", why));
    return kExitFailed;
  };
  if (!fs::is_regular_file(fs::path(snapshot) / "CURRENT", ec)) {
    return fail(fmt::format("{} is no snapshot: it holds no RocksDB CURRENT file", snapshot));
  }
  if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec)) {
    return fail(
        fmt::format("data_dir {} is not empty: a restore never overwrites data; move it "
                    "aside first",
                    data_dir));
  }
  const std::string staging = data_dir + ".restoring";
  fs::remove_all(staging, ec);
  fs::copy(snapshot, staging, fs::copy_options::recursive, ec);
  if (!ec) fs::remove(data_dir, ec);  // an empty one, if any
  if (!ec) fs::rename(staging, data_dir, ec);
  if (ec) return fail(fmt::format("copying into {}: {}", staging, ec.message()));
  auto store = qkv::storage::RocksDbStorage::open(data_dir, {});
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Status marked =
      store ? qkv::node::check_restore_age(**store, config.node.tombstones, now, older_than_grace)
            : store.status();
  if (marked.is_ok()) marked = qkv::node::mark_restored(**store);
  if (!marked.is_ok() && store) {
    (void)(*store)->close();
    fs::remove_all(data_dir, ec);  // nothing restored: the data directory is empty again
  }
  if (marked.is_ok()) marked = (*store)->close();
  if (!marked.is_ok()) return fail(marked.to_string());
  log_event(LogEvent::info("data_restored").with("snapshot", snapshot).with("data_dir", data_dir));
  return 0;
}

// qkvd's flags (they win over the config file).
void add_flags(CLI::App& app, Flags& f) {
  app.add_option("-c,--config", f.config_path, "TOML config file (see deploy/qkvd.example.toml)");
  app.add_option("--node-id", f.node_id, "this node's id; must be among the members");
  app.add_option("--data-dir", f.data_dir, "RocksDB data directory (created if missing)");
  app.add_option("--client-listen", f.client_listen,
                 "host:port for clients (default 127.0.0.1:7000)");
  app.add_option("--peer-listen", f.peer_listen,
                 "host:port for other nodes (default 127.0.0.1:7100)");
  app.add_option("--client-advertise", f.client_advertise,
                 "host:port clients and the claimant's redirects use (default: --client-listen; "
                 "required when that is 0.0.0.0 or ::)");
  app.add_option("--peer-advertise", f.peer_advertise,
                 "host:port other nodes dial, gossiped (default: --peer-listen; required when "
                 "that is 0.0.0.0 or ::)");
  app.add_option("--http-listen", f.http_listen,
                 "host:port for HTTP: /metrics, /health/*, /console, /api/v1 "
                 "(default 127.0.0.1:7200; \"\" turns it off)");
  app.add_option("--members", f.members,
                 "id=host:port,... the initial members' peer addresses (creates the ring)");
  app.add_option("--seeds", f.seeds, "host:port,... peer addresses of running nodes to join");
  app.add_option("--zone", f.zone, "this node's failure domain (rack, zone)");
  app.add_flag("--auto-join", f.auto_join,
               "stage this node's own join at the claimant once it knows the ring and is not in "
               "it (cluster.auto_join; default off)");
  app.add_option("--auto-join-quiet-ms", f.auto_join_quiet_ms,
                 "as the claimant, commit automatic joins once none was staged for this long "
                 "(cluster.auto_join_quiet_ms; default 10000)");
  app.add_option("--n", f.n, "replicas per key (default 3)");
  app.add_option("--r", f.r, "default read quorum (default 2)");
  app.add_option("--w", f.w, "default write quorum (default 2)");
  app.add_option("--partitions", f.partitions,
                 "Q, a power of two fixed at cluster creation (default 256)");
  app.add_option("--io-threads", f.io_threads,
                 "threads doing request work: the core thread and io-threads - 1 serving "
                 "sockets (default 1: one thread; 0: the machine's cores)");
  app.add_flag("--sync-writes", f.sync_writes, "fsync the WAL on every write (default off)");
  app.add_option("--commit-thread", f.commit_thread,
                 "write group commits to storage on a thread of their own, while the core "
                 "thread goes on (storage.commit_thread; true or false; default: as "
                 "--sync-writes)");
  app.add_flag("--insecure", f.insecure,
               "allow ports beyond loopback without TLS ([tls] insecure; docs/security.md)");
  app.add_flag("--no-hinted-handoff", f.no_hinted_handoff,
               "keep and deliver no hints (handoff.enabled = false)");
  app.add_option("--aae-exchange-interval-ms", f.aae_exchange_interval_ms,
                 "anti-entropy exchange interval per partition "
                 "(anti_entropy.exchange_interval_ms; default 240000)");
  app.add_option("--transfer-bytes-per-second-max", f.transfer_bytes_per_second_max,
                 "what this node pulls per second in ownership transfers "
                 "(transfer.bytes_per_second_max; default 33554432)");
  app.add_option("--log-level", f.log_level, "trace|debug|info|warn|error|critical|off");
  app.add_option("--log-format", f.log_format,
                 "logfmt|json: lines as logfmt (default) or one JSON object each (log.format)");
  app.set_version_flag("--version", fmt::format("qkvd {}", qkv::kVersion));
  app.add_option("--restore-from", f.restore_from,
                 "copy this snapshot (qkvctl snapshot) into the data directory, which must be "
                 "missing or empty, then start from it with a new incarnation");
  app.add_flag("--restore-older-than-grace", f.restore_older_than_grace,
               "with --restore-from: accept a snapshot older than tombstones.grace_ms (every "
               "node of the cluster restored from snapshots of one moment)");
  app.add_flag("--check-config", f.check_config,
               "validate the config (file and flags), print its warnings and exit: 0 \"config "
               "ok\", 2 with the error; opens no storage and no port");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qkvd: the qkv node daemon (a Dynamo-style leaderless key-value store)"};
  Flags f;
  add_flags(app, f);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a bad flag is a bad config: 2, never CLI11's own numbers.
    const int printed = app.exit(e);
    return printed == 0 ? 0 : kExitBadConfig;
  }

  DaemonConfig config;
  if (!f.config_path.empty()) {
    auto loaded = qkv::node::load_daemon_config(f.config_path);
    if (!loaded) {
      std::fprintf(stderr, "qkvd: bad config: %s\n", loaded.status().message().c_str());
      return kExitBadConfig;
    }
    config = std::move(loaded).value();
  }
  if (Status s = apply_flags(f, config); !s.is_ok()) {
    std::fprintf(stderr, "qkvd: bad config: %s\n", s.message().c_str());
    return kExitBadConfig;
  }
  const std::vector<std::string> warnings = qkv::node::config_warnings(config);
  if (f.check_config) {
    for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
    std::printf("config ok\n");
    return 0;
  }
  qkv::node::set_up_log(*qkv::node::parse_log_format(config.log_format), config.node.node_id,
                        config.log_level);
  for (const auto& w : warnings) {
    log_event(LogEvent::warn("config_warning").with("warning", w));
  }
  if (!f.restore_from.empty()) {
    if (int code = restore_data_dir(f.restore_from, config, f.restore_older_than_grace);
        code != 0) {
      return code;
    }
  }
  return run(std::move(config));
}
