// qkvd's configuration: a TOML file (deploy/qkvd.example.toml documents every key) with
// command-line flags layered on top. Loading validates everything and fails with an error
// naming the key, the value and the rule, so a bad config never starts a node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/host_port.h"
#include "common/node_id.h"
#include "common/status.h"
#include "node/auto_join.h"
#include "node/node_config.h"

namespace qkv::node {

// Addresses are parsed by the one host:port parser qkvctl shares (common/host_port.h).
using qkv::HostPort;
using qkv::parse_host_port;

struct MemberConfig {
  NodeId id;
  HostPort peer;    // where other nodes reach its replica API
  HostPort client;  // its client port (informational; used by scripts and qkvctl)
};

// [tls] (docs/security.md). With cert_file set, the client, peer and HTTP ports speak only TLS:
// peers authenticate each other with certificates from ca_file (mutual TLS), and a peer's
// node id is the one its certificate names (net/tls.h certificate_names), never the one
// its messages claim. The files are checked every reload_interval_ms and new connections
// use them once they changed and load (rotation without a restart).
struct TlsConfig {
  std::string cert_file;            // PEM; cert-manager's Secret names it tls.crt
  std::string key_file;             // PEM; tls.key
  std::string ca_file;              // PEM, the cluster CA; ca.crt. Required with cert_file
  std::string min_version = "1.3";  // or "1.2"
  // Client port: "none" (any client that trusts the cluster CA) or "require" (a client
  // certificate signed by ca_file, mutual TLS). The peer port always requires one.
  std::string client_auth = "none";
  uint32_t reload_interval_ms = 10'000;
  // Listening on an address other than loopback without TLS is refused at startup unless
  // this is set (and every start then logs a warning).
  bool insecure = false;

  bool enabled() const { return !cert_file.empty(); }
};

// [auth] (docs/security.md, node/access_control.h). With users_file set, every request on
// the client port and the HTTP port (the health probes excepted) needs a user: one that
// authenticated with its secret, or whose name a client certificate carries; and each
// request needs the user's grant (read, write, admin). The file is checked every
// reload_interval_ms; a changed one applies to the next request of every connection.
struct AuthConfig {
  std::string users_file;
  uint32_t reload_interval_ms = 10'000;
  // Secrets checked a second (each an scrypt run on the node's thread); past it logins are
  // refused with overloaded until the budget refills. Cached secrets cost nothing.
  uint32_t secret_checks_per_second_max = 20;

  bool enabled() const { return !users_file.empty(); }
};

struct DaemonConfig {
  NodeConfig node;  // node id, n/r/w, timeouts, limits
  std::string data_dir;
  // [storage] snapshot_dir: where qkvctl snapshot may write (node/snapshot.h); unset: a
  // "snapshots" directory beside data_dir (so on its file system, where snapshots are hard
  // links); "": snapshots refused. REQUIRES (validate): absolute when set.
  std::optional<std::string> snapshot_dir;
  // The snapshot root this config gives (absolute; "" when refused): node.snapshot_dir.
  std::string snapshot_root() const;
  HostPort client_listen{"127.0.0.1", 7000};  // safe default: loopback only
  HostPort peer_listen{"127.0.0.1", 7100};
  // The HTTP operations port (node/http_api.h: /metrics, /health/*, /console, /api/v1);
  // nullopt (http_listen = "" in TOML) turns it off.
  std::optional<HostPort> http_listen = HostPort{"127.0.0.1", 7200};
  uint32_t partitions = 256;  // Q: a power of two, fixed when the cluster is created
  // The initial members: they define the cluster's first ring (and are gossip seeds). A
  // node joining an existing cluster lists no members, only seeds.
  std::vector<MemberConfig> members;
  std::vector<HostPort> seeds;  // peer addresses to gossip with first
  // [cluster] auto_join, auto_join_quiet_ms: a node not in the ring stages its own join;
  // the claimant commits such joins after a quiet period (node/auto_join.h).
  AutoJoinConfig auto_join;
  std::string zone;  // failure domain (rack, zone); shown in members
  // Threads doing request work (io_threads at the top level, --io-threads): the core thread
  // and io_threads - 1 I/O threads serving client and peer sockets (node/server.h). 1 (the
  // default): everything on one thread, which measured fastest where the node shares a few
  // cores with other processes (docs/performance.md, "I/O threads"). 0: the machine's
  // cores (std::thread::hardware_concurrency: the host's, not a container's CPU limit).
  // REQUIRES (validate): <= 256.
  uint32_t io_threads = 1;
  // io_threads, with 0 taken as the machine's cores (at least 1).
  uint32_t io_threads_or_cores() const;
  // commit_thread, unset taken as sync_writes: with the fsync in every commit the pipeline
  // gave 1.2-1.5x the ops/s on 2 cores; without, the thread crossings cost more than
  // RocksDB's write in memory saves there (docs/performance.md, "The commit pipeline").
  bool commit_thread_or_default() const { return commit_thread.value_or(sync_writes); }
  // Addresses other nodes and clients should use (default: the listen addresses; set them
  // when listening on 0.0.0.0).
  std::optional<HostPort> peer_advertise, client_advertise;
  Duration gossip_interval{1000};
  double phi_convict = 8;  // Hayashibara et al. 2004; Cassandra's default
  // Sloppy quorum + hinted handoff ([handoff] enabled; Cassandra's hinted_handoff_enabled).
  // Off: fallbacks refuse hints, coordinators keep none, and hints already stored stay
  // undelivered until it is on again; writes then need W primaries.
  bool hinted_handoff = true;
  Duration hint_age_max{3 * 3600 * 1000};
  uint64_t hint_bytes_max = 1ull << 30;
  uint32_t hints_per_second_max = 1000;
  bool sync_writes = false;  // fsync the WAL on every write (off by default, as Riak/Cassandra)
  // The commit pipeline (node/committer.h): group commits are written to storage by a
  // thread of their own while the core thread goes on (node/storage_thread.h). Unset: on
  // with sync_writes, whose fsync it hides, off without (see commit_thread_or_default).
  std::optional<bool> commit_thread;
  uint64_t block_cache_bytes = 256ull << 20;
  // RocksDB's memtable per column family (write_buffer_size): writes collect here before a
  // flush; up to two per family are in memory at once. >= kWriteBufferBytesMin.
  uint64_t write_buffer_bytes = 64ull << 20;
  // RocksDbStorage's minimum (checked equal where both are seen, node/main.cc): the config
  // stays free of the storage engine's headers.
  static constexpr uint64_t kWriteBufferBytesMin = uint64_t{64} << 10;
  uint32_t connect_timeout_ms = 1000;
  // Link liveness (net/peer_links.h): a ping on every peer link each interval; a link whose
  // oldest unanswered ping is older than peer_silence_ms_max is replaced (also the TCP
  // silence bound of peer sockets: TCP_USER_TIMEOUT and keepalive).
  uint32_t peer_ping_interval_ms = 250;
  uint32_t peer_silence_ms_max = 3000;
  uint64_t send_queue_bytes_max = 64ull << 20;
  std::string log_level = "info";
  // [log] format: "logfmt" or "json" (node/log_writer.h).
  std::string log_format = "logfmt";
  Duration shutdown_drain{5000};  // how long SIGTERM waits for in-flight requests
  TlsConfig tls;
  AuthConfig auth;

  // Everything consistent: node id among members, unique ids and addresses, quorums, Q.
  Status validate() const;
};

// Parses TOML text. Unknown keys are errors (a typo must not silently change nothing).
Result<DaemonConfig> parse_daemon_config(const std::string& toml_text, const std::string& origin);
Result<DaemonConfig> load_daemon_config(const std::string& path);

// "n1=127.0.0.1:7100,n2=127.0.0.1:7101" -> members (client address left empty).
Result<std::vector<MemberConfig>> parse_members_flag(const std::string& text);
// "127.0.0.1:7101,127.0.0.1:7102" -> seeds.
Result<std::vector<HostPort>> parse_seeds(const std::string& text);

}  // namespace qkv::node
