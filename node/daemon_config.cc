#include "node/daemon_config.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace qkv::node {
namespace {

// Each known key of a table and whether it is a table itself; anything else is an error.
Status check_keys(const toml::table& table, const std::set<std::string>& allowed,
                  const std::string& where) {
  for (const auto& [key, value] : table) {
    std::string k(key.str());
    if (!allowed.count(k)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return Status::invalid_argument(
          fmt::format("unknown config key '{}{}'; known keys here: {}", where, k, list));
    }
  }
  return Status::ok();
}

template <typename T>
Status read_int(const toml::table& table, const char* key, const std::string& where, T& out) {
  const toml::node* node = table.get(key);
  if (!node) return Status::ok();
  auto v = node->value<int64_t>();
  if (!v || *v < 0 || static_cast<uint64_t>(*v) > std::numeric_limits<T>::max()) {
    return Status::invalid_argument(fmt::format("config key '{}{}' must be an integer in 0..{}",
                                                where, key, std::numeric_limits<T>::max()));
  }
  out = static_cast<T>(*v);
  return Status::ok();
}

Status read_string(const toml::table& table, const char* key, const std::string& where,
                   std::string& out) {
  const toml::node* node = table.get(key);
  if (!node) return Status::ok();
  auto v = node->value<std::string>();
  if (!v)
    return Status::invalid_argument(fmt::format("config key '{}{}' must be a string", where, key));
  out = *v;
  return Status::ok();
}

Status read_address(const toml::table& table, const char* key, const std::string& where,
                    HostPort& out) {
  std::string text;
  QKV_RETURN_IF_ERROR(read_string(table, key, where, text));
  if (text.empty()) return Status::ok();
  auto hp = parse_host_port(text, where + key);
  if (!hp) return hp.status();
  out = *hp;
  return Status::ok();
}

Status read_bool(const toml::table& table, const char* key, const std::string& where, bool& out) {
  const toml::node* n = table.get(key);
  if (!n) return Status::ok();
  if (!n->is_boolean()) {
    return Status::invalid_argument(
        fmt::format("config key '{}{}' must be true or false", where, key));
  }
  out = n->as_boolean()->get();
  return Status::ok();
}

Status read_members(const toml::table& cluster, DaemonConfig& config) {
  const toml::node* node = cluster.get("members");
  if (!node) return Status::ok();
  const toml::array* array = node->as_array();
  if (!array)
    return Status::invalid_argument("config key 'cluster.members' must be an array of tables");
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::table* t = array->get(i)->as_table();
    std::string where = fmt::format("cluster.members[{}].", i);
    if (!t) return Status::invalid_argument(fmt::format("config key '{}' must be a table", where));
    QKV_RETURN_IF_ERROR(check_keys(*t, {"id", "peer", "client"}, where));
    MemberConfig m;
    QKV_RETURN_IF_ERROR(read_string(*t, "id", where, m.id));
    QKV_RETURN_IF_ERROR(read_address(*t, "peer", where, m.peer));
    QKV_RETURN_IF_ERROR(read_address(*t, "client", where, m.client));
    if (m.peer.port == 0) {
      return Status::invalid_argument(fmt::format("config key '{}peer' is required", where));
    }
    config.members.push_back(std::move(m));
  }
  return Status::ok();
}

Status read_cluster(const toml::table& t, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(check_keys(t,
                                 {"n", "r", "w", "read_fanout", "partitions", "members", "seeds",
                                  "auto_join", "auto_join_quiet_ms"},
                                 "cluster."));
  if (const toml::node* seeds = t.get("seeds")) {
    const toml::array* array = seeds->as_array();
    if (!array) return Status::invalid_argument("config key 'cluster.seeds' must be an array");
    for (std::size_t i = 0; i < array->size(); ++i) {
      auto text = array->get(i)->value<std::string>();
      if (!text) return Status::invalid_argument("config key 'cluster.seeds' holds strings");
      auto hp = parse_host_port(*text, fmt::format("cluster.seeds[{}]", i));
      if (!hp) return hp.status();
      c.seeds.push_back(*hp);
    }
  }
  QKV_RETURN_IF_ERROR(read_int(t, "n", "cluster.", c.node.n));
  QKV_RETURN_IF_ERROR(read_int(t, "r", "cluster.", c.node.r));
  QKV_RETURN_IF_ERROR(read_int(t, "w", "cluster.", c.node.w));
  std::string fanout = c.node.read_fanout == coordinator::Fanout::kAll ? "all" : "quorum";
  QKV_RETURN_IF_ERROR(read_string(t, "read_fanout", "cluster.", fanout));
  if (fanout != "all" && fanout != "quorum") {
    return Status::invalid_argument(
        fmt::format("cluster.read_fanout '{}' must be \"all\" or \"quorum\"", fanout));
  }
  c.node.read_fanout = fanout == "all" ? coordinator::Fanout::kAll : coordinator::Fanout::kQuorum;
  QKV_RETURN_IF_ERROR(read_int(t, "partitions", "cluster.", c.partitions));
  QKV_RETURN_IF_ERROR(read_bool(t, "auto_join", "cluster.", c.auto_join.enabled));
  uint32_t quiet = c.auto_join.quiet.count();
  QKV_RETURN_IF_ERROR(read_int(t, "auto_join_quiet_ms", "cluster.", quiet));
  c.auto_join.quiet = Duration(quiet);
  QKV_RETURN_IF_ERROR(read_members(t, c));
  return Status::ok();
}

Status read_timeouts(const toml::table& t, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(
      check_keys(t,
                 {"request_timeout_ms", "request_timeout_max_ms", "connect_timeout_ms",
                  "shutdown_drain_ms", "clock_skew_max_ms", "peer_ping_interval_ms",
                  "peer_silence_ms_max", "stand_in_alarm_min_ms"},
                 "timeouts."));
  uint32_t request = c.node.request_timeout.count(), max = c.node.request_timeout_max.count(),
           drain = c.shutdown_drain.count(), skew = c.node.clock_skew_max.count(),
           stand_in = c.node.stand_in_alarm_min.count();
  QKV_RETURN_IF_ERROR(read_int(t, "request_timeout_ms", "timeouts.", request));
  QKV_RETURN_IF_ERROR(read_int(t, "request_timeout_max_ms", "timeouts.", max));
  QKV_RETURN_IF_ERROR(read_int(t, "connect_timeout_ms", "timeouts.", c.connect_timeout_ms));
  QKV_RETURN_IF_ERROR(read_int(t, "shutdown_drain_ms", "timeouts.", drain));
  QKV_RETURN_IF_ERROR(read_int(t, "clock_skew_max_ms", "timeouts.", skew));
  QKV_RETURN_IF_ERROR(read_int(t, "peer_ping_interval_ms", "timeouts.", c.peer_ping_interval_ms));
  QKV_RETURN_IF_ERROR(read_int(t, "peer_silence_ms_max", "timeouts.", c.peer_silence_ms_max));
  QKV_RETURN_IF_ERROR(read_int(t, "stand_in_alarm_min_ms", "timeouts.", stand_in));
  c.node.clock_skew_max = Duration(skew);
  c.node.stand_in_alarm_min = Duration(stand_in);
  c.node.request_timeout = Duration(request);
  c.node.request_timeout_max = Duration(max);
  c.shutdown_drain = Duration(drain);
  return Status::ok();
}

Status read_limits(const toml::table& t, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(
      check_keys(t,
                 {"key_bytes_max", "value_bytes_max", "frame_bytes_max", "context_bytes_max",
                  "send_queue_bytes_max", "siblings_warn", "siblings_max",
                  "client_requests_in_flight_max", "in_flight_max", "client_pause_ms_max",
                  "client_requests_per_connection_max", "client_requests_per_second_max"},
                 "limits."));
  QKV_RETURN_IF_ERROR(read_int(t, "key_bytes_max", "limits.", c.node.limits.key_bytes_max));
  QKV_RETURN_IF_ERROR(read_int(t, "value_bytes_max", "limits.", c.node.limits.value_bytes_max));
  QKV_RETURN_IF_ERROR(read_int(t, "frame_bytes_max", "limits.", c.node.limits.frame_bytes_max));
  QKV_RETURN_IF_ERROR(read_int(t, "context_bytes_max", "limits.", c.node.limits.context_bytes_max));
  QKV_RETURN_IF_ERROR(read_int(t, "send_queue_bytes_max", "limits.", c.send_queue_bytes_max));
  QKV_RETURN_IF_ERROR(read_int(t, "siblings_warn", "limits.", c.node.limits.siblings_warn));
  QKV_RETURN_IF_ERROR(read_int(t, "siblings_max", "limits.", c.node.limits.siblings_max));
  QKV_RETURN_IF_ERROR(read_int(t, "client_requests_in_flight_max", "limits.",
                               c.node.limits.client_requests_in_flight_max));
  QKV_RETURN_IF_ERROR(read_int(t, "in_flight_max", "limits.", c.node.limits.in_flight_max));
  QKV_RETURN_IF_ERROR(
      read_int(t, "client_pause_ms_max", "limits.", c.node.limits.client_pause_ms_max));
  QKV_RETURN_IF_ERROR(read_int(t, "client_requests_per_connection_max", "limits.",
                               c.node.limits.client_requests_per_connection_max));
  QKV_RETURN_IF_ERROR(read_int(t, "client_requests_per_second_max", "limits.",
                               c.node.limits.client_requests_per_second_max));
  return Status::ok();
}

Status read_storage(const toml::table& t, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(check_keys(t,
                                 {"sync_writes", "commit_thread", "block_cache_bytes",
                                  "write_buffer_bytes", "version_cache_bytes", "snapshot_dir"},
                                 "storage."));
  QKV_RETURN_IF_ERROR(read_bool(t, "sync_writes", "storage.", c.sync_writes));
  if (t.get("commit_thread")) {
    bool on = false;
    QKV_RETURN_IF_ERROR(read_bool(t, "commit_thread", "storage.", on));
    c.commit_thread = on;
  }
  if (t.get("snapshot_dir")) {
    std::string dir;
    QKV_RETURN_IF_ERROR(read_string(t, "snapshot_dir", "storage.", dir));
    c.snapshot_dir = std::move(dir);
  }
  QKV_RETURN_IF_ERROR(read_int(t, "block_cache_bytes", "storage.", c.block_cache_bytes));
  QKV_RETURN_IF_ERROR(read_int(t, "write_buffer_bytes", "storage.", c.write_buffer_bytes));
  QKV_RETURN_IF_ERROR(read_int(t, "version_cache_bytes", "storage.", c.node.version_cache_bytes));
  return Status::ok();
}

Status read_gossip(const toml::table& t, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(check_keys(t, {"interval_ms", "phi_convict"}, "gossip."));
  uint32_t interval = c.gossip_interval.count();
  QKV_RETURN_IF_ERROR(read_int(t, "interval_ms", "gossip.", interval));
  c.gossip_interval = Duration(interval);
  if (const toml::node* n = t.get("phi_convict")) {
    auto v = n->value<double>();
    if (!v) return Status::invalid_argument("config key 'gossip.phi_convict' must be a number");
    c.phi_convict = *v;
  }
  return Status::ok();
}

Status read_handoff(const toml::table& t, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(check_keys(
      t, {"enabled", "hint_age_max_ms", "hint_bytes_max", "hints_per_second_max"}, "handoff."));
  QKV_RETURN_IF_ERROR(read_bool(t, "enabled", "handoff.", c.hinted_handoff));
  uint64_t age = c.hint_age_max.count();
  QKV_RETURN_IF_ERROR(read_int(t, "hint_age_max_ms", "handoff.", age));
  c.hint_age_max = Duration(age);
  QKV_RETURN_IF_ERROR(read_int(t, "hint_bytes_max", "handoff.", c.hint_bytes_max));
  QKV_RETURN_IF_ERROR(read_int(t, "hints_per_second_max", "handoff.", c.hints_per_second_max));
  return Status::ok();
}

Status read_tombstones(const toml::table& t, DaemonConfig& c) {
  node::TombstoneConfig& x = c.node.tombstones;
  QKV_RETURN_IF_ERROR(
      check_keys(t,
                 {"reap", "grace_ms", "checks_per_second_max", "checks_in_flight_max",
                  "check_timeout_ms", "retry_interval_ms", "pending_max", "sweep_interval_ms"},
                 "tombstones."));
  QKV_RETURN_IF_ERROR(read_bool(t, "reap", "tombstones.", x.reap));
  for (auto [key, target] :
       {std::pair{"grace_ms", &x.grace}, std::pair{"check_timeout_ms", &x.check_timeout},
        std::pair{"retry_interval_ms", &x.retry_interval},
        std::pair{"sweep_interval_ms", &x.sweep_interval}}) {
    uint64_t ms = target->count();
    QKV_RETURN_IF_ERROR(read_int(t, key, "tombstones.", ms));
    *target = Duration(ms);
  }
  QKV_RETURN_IF_ERROR(read_int(t, "checks_per_second_max", "tombstones.", x.checks_per_second_max));
  QKV_RETURN_IF_ERROR(read_int(t, "checks_in_flight_max", "tombstones.", x.checks_in_flight_max));
  QKV_RETURN_IF_ERROR(read_int(t, "pending_max", "tombstones.", x.pending_max));
  return Status::ok();
}

Status read_anti_entropy(const toml::table& t, DaemonConfig& c) {
  node::AntiEntropyConfig& a = c.node.anti_entropy;
  QKV_RETURN_IF_ERROR(
      check_keys(t,
                 {"enabled", "segments", "exchange_interval_ms", "rebuild_interval_ms",
                  "concurrent_exchanges_max", "bytes_per_second_max", "exchange_timeout_ms"},
                 "anti_entropy."));
  QKV_RETURN_IF_ERROR(read_bool(t, "enabled", "anti_entropy.", a.enabled));
  QKV_RETURN_IF_ERROR(read_int(t, "segments", "anti_entropy.", a.segments));
  for (auto [key, target] : {std::pair{"exchange_interval_ms", &a.exchange_interval},
                             std::pair{"rebuild_interval_ms", &a.rebuild_interval},
                             std::pair{"exchange_timeout_ms", &a.exchange_timeout}}) {
    uint64_t ms = target->count();
    QKV_RETURN_IF_ERROR(read_int(t, key, "anti_entropy.", ms));
    *target = Duration(ms);
  }
  QKV_RETURN_IF_ERROR(
      read_int(t, "concurrent_exchanges_max", "anti_entropy.", a.concurrent_exchanges_max));
  QKV_RETURN_IF_ERROR(read_int(t, "bytes_per_second_max", "anti_entropy.", a.bytes_per_second_max));
  return Status::ok();
}

Status read_transfer(const toml::table& t, DaemonConfig& c) {
  node::TransferConfig& x = c.node.transfer;
  QKV_RETURN_IF_ERROR(check_keys(t,
                                 {"concurrent_max", "bytes_per_second_max", "batch_bytes_max",
                                  "request_timeout_ms", "retry_interval_ms"},
                                 "transfer."));
  QKV_RETURN_IF_ERROR(read_int(t, "concurrent_max", "transfer.", x.concurrent_max));
  QKV_RETURN_IF_ERROR(read_int(t, "bytes_per_second_max", "transfer.", x.bytes_per_second_max));
  QKV_RETURN_IF_ERROR(read_int(t, "batch_bytes_max", "transfer.", x.batch_bytes_max));
  for (auto [key, target] : {std::pair{"request_timeout_ms", &x.request_timeout},
                             std::pair{"retry_interval_ms", &x.retry_interval}}) {
    uint64_t ms = target->count();
    QKV_RETURN_IF_ERROR(read_int(t, key, "transfer.", ms));
    *target = Duration(ms);
  }
  return Status::ok();
}

Status read_log(const toml::table& t, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(check_keys(t, {"level", "format"}, "log."));
  QKV_RETURN_IF_ERROR(read_string(t, "level", "log.", c.log_level));
  QKV_RETURN_IF_ERROR(read_string(t, "format", "log.", c.log_format));
  return Status::ok();
}

Status read_tls(const toml::table& t, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(check_keys(t,
                                 {"cert_file", "key_file", "ca_file", "min_version", "client_auth",
                                  "reload_interval_ms", "insecure"},
                                 "tls."));
  QKV_RETURN_IF_ERROR(read_string(t, "cert_file", "tls.", c.tls.cert_file));
  QKV_RETURN_IF_ERROR(read_string(t, "key_file", "tls.", c.tls.key_file));
  QKV_RETURN_IF_ERROR(read_string(t, "ca_file", "tls.", c.tls.ca_file));
  QKV_RETURN_IF_ERROR(read_string(t, "min_version", "tls.", c.tls.min_version));
  QKV_RETURN_IF_ERROR(read_string(t, "client_auth", "tls.", c.tls.client_auth));
  QKV_RETURN_IF_ERROR(read_int(t, "reload_interval_ms", "tls.", c.tls.reload_interval_ms));
  QKV_RETURN_IF_ERROR(read_bool(t, "insecure", "tls.", c.tls.insecure));
  return Status::ok();
}

Status read_auth(const toml::table& t, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(
      check_keys(t, {"users_file", "reload_interval_ms", "secret_checks_per_second_max"}, "auth."));
  QKV_RETURN_IF_ERROR(read_string(t, "users_file", "auth.", c.auth.users_file));
  QKV_RETURN_IF_ERROR(read_int(t, "reload_interval_ms", "auth.", c.auth.reload_interval_ms));
  QKV_RETURN_IF_ERROR(
      read_int(t, "secret_checks_per_second_max", "auth.", c.auth.secret_checks_per_second_max));
  return Status::ok();
}

Status read_tables(const toml::table& root, DaemonConfig& c) {
  QKV_RETURN_IF_ERROR(check_keys(root,
                                 {"node_id",          "data_dir", "client_listen", "peer_listen",
                                  "http_listen",      "cluster",  "timeouts",      "limits",
                                  "storage",          "log",      "zone",          "peer_advertise",
                                  "client_advertise", "gossip",   "handoff",       "anti_entropy",
                                  "transfer",         "tls",      "auth",          "tombstones",
                                  "io_threads"},
                                 ""));
  QKV_RETURN_IF_ERROR(read_string(root, "zone", "", c.zone));
  QKV_RETURN_IF_ERROR(read_int(root, "io_threads", "", c.io_threads));
  for (auto [key, target] : {std::pair{"peer_advertise", &c.peer_advertise},
                             std::pair{"client_advertise", &c.client_advertise}}) {
    if (root.get(key)) {
      HostPort hp;
      QKV_RETURN_IF_ERROR(read_address(root, key, "", hp));
      *target = hp;
    }
  }
  QKV_RETURN_IF_ERROR(read_string(root, "node_id", "", c.node.node_id));
  QKV_RETURN_IF_ERROR(read_string(root, "data_dir", "", c.data_dir));
  QKV_RETURN_IF_ERROR(read_address(root, "client_listen", "", c.client_listen));
  QKV_RETURN_IF_ERROR(read_address(root, "peer_listen", "", c.peer_listen));
  if (root.get("http_listen")) {
    std::string text;
    QKV_RETURN_IF_ERROR(read_string(root, "http_listen", "", text));
    c.http_listen.reset();
    if (!text.empty()) {
      auto hp = parse_host_port(text, "http_listen");
      if (!hp) return hp.status();
      c.http_listen = *hp;
    }
  }
  auto table = [&](const char* name) -> Result<const toml::table*> {
    const toml::node* n = root.get(name);
    if (!n) return static_cast<const toml::table*>(nullptr);
    if (!n->as_table())
      return Status::invalid_argument(fmt::format("config key '{}' must be a table", name));
    return n->as_table();
  };
  for (const char* name : {"cluster", "timeouts", "limits", "storage", "log", "gossip", "handoff",
                           "anti_entropy", "transfer", "tls", "auth", "tombstones"}) {
    auto t = table(name);
    if (!t) return t.status();
  }
  using Reader = Status (*)(const toml::table&, DaemonConfig&);
  for (auto [name, read] : {std::pair<const char*, Reader>{"cluster", read_cluster},
                            {"timeouts", read_timeouts},
                            {"limits", read_limits},
                            {"storage", read_storage},
                            {"gossip", read_gossip},
                            {"handoff", read_handoff},
                            {"anti_entropy", read_anti_entropy},
                            {"transfer", read_transfer},
                            {"tombstones", read_tombstones},
                            {"log", read_log},
                            {"tls", read_tls},
                            {"auth", read_auth}}) {
    if (const toml::table* t = *table(name)) QKV_RETURN_IF_ERROR(read(*t, c));
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<HostPort>> parse_seeds(const std::string& text) {
  std::vector<HostPort> seeds;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    auto hp = parse_host_port(item, "--seeds entry");
    if (!hp) return hp.status();
    seeds.push_back(*hp);
  }
  return seeds;
}

Result<std::vector<MemberConfig>> parse_members_flag(const std::string& text) {
  std::vector<MemberConfig> members;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) {
      return Status::invalid_argument(fmt::format(
          "--members entry '{}' must be id=host:port (the member's peer address)", item));
    }
    auto peer = parse_host_port(item.substr(eq + 1), "--members entry " + item.substr(0, eq));
    if (!peer) return peer.status();
    members.push_back({item.substr(0, eq), *peer, {}});
  }
  return members;
}

uint32_t DaemonConfig::io_threads_or_cores() const {
  if (io_threads > 0) return io_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

std::string DaemonConfig::snapshot_root() const {
  if (snapshot_dir) return *snapshot_dir;
  std::error_code ec;
  std::filesystem::path data = std::filesystem::absolute(data_dir, ec).lexically_normal();
  if (!data.empty() && !data.has_filename()) data = data.parent_path();  // a trailing '/'
  return (data.parent_path() / "snapshots").string();
}

Result<DaemonConfig> parse_daemon_config(const std::string& toml_text, const std::string& origin) {
  DaemonConfig config;
  try {
    toml::table root = toml::parse(toml_text, origin);
    QKV_RETURN_IF_ERROR(read_tables(root, config));
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::invalid_argument(
        fmt::format("{}:{}:{}: {}", origin, where.line, where.column, e.description()));
  }
  return config;
}

Result<DaemonConfig> load_daemon_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::invalid_argument(fmt::format("cannot read config file {}", path));
  std::stringstream text;
  text << in.rdbuf();
  return parse_daemon_config(text.str(), path);
}

}  // namespace qkv::node
