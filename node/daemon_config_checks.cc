// DaemonConfig::validate: the checks of a parsed config (daemon_config.h), apart from
// reading it from TOML (daemon_config.cc).
#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "node/daemon_config.h"

namespace qkv::node {
namespace {

// cluster.members: some members or seeds, each member once, this node among them.
Status check_members(const DaemonConfig& c) {
  if (c.members.empty() && c.seeds.empty()) {
    return Status::invalid_argument(
        "cluster.members and cluster.seeds are both empty: list the initial members to create a "
        "cluster, or seeds (peer addresses of running nodes) to join one");
  }
  std::set<NodeId> ids;
  std::set<std::string> peers;
  bool self = false;
  for (const auto& m : c.members) {
    QKV_RETURN_IF_ERROR(validate_node_id(m.id));
    if (!ids.insert(m.id).second)
      return Status::invalid_argument(fmt::format("member '{}' is listed twice", m.id));
    if (!peers.insert(m.peer.to_string()).second) {
      return Status::invalid_argument(
          fmt::format("peer address {} is given to two members", m.peer.to_string()));
    }
    self = self || m.id == c.node.node_id;
  }
  if (!self && !c.members.empty()) {
    return Status::invalid_argument(fmt::format(
        "node_id '{}' is not among cluster.members; to join a running cluster list no members, "
        "only cluster.seeds",
        c.node.node_id));
  }
  return Status::ok();
}

// The tombstone grace outlives every hint (node/reaper.h): a hint older than the grace
// could bring a reaped value back.
Status check_tombstone_grace(const DaemonConfig& c) {
  const node::TombstoneConfig& t = c.node.tombstones;
  if (!c.hinted_handoff || !t.reap ||
      t.grace > c.hint_age_max + c.node.request_timeout_max + c.node.clock_skew_max) {
    return Status::ok();
  }
  return Status::invalid_argument(fmt::format(
      "tombstones.grace_ms ({}) must exceed handoff.hint_age_max_ms ({}) plus "
      "timeouts.request_timeout_max_ms ({}) plus timeouts.clock_skew_max_ms ({}): a hint "
      "older than the grace could bring a reaped value back",
      t.grace.count(), c.hint_age_max.count(), c.node.request_timeout_max.count(),
      c.node.clock_skew_max.count()));
}

// [tls] consistent, and no port open beyond this machine without it unless insecure.
Status check_tls(const DaemonConfig& c) {
  const TlsConfig& tls = c.tls;
  if (tls.enabled() && (tls.key_file.empty() || tls.ca_file.empty())) {
    return Status::invalid_argument(
        "tls.cert_file needs tls.key_file and tls.ca_file (the cluster CA: peers verify each "
        "other with it)");
  }
  if (!tls.enabled() && (!tls.key_file.empty() || !tls.ca_file.empty())) {
    return Status::invalid_argument(
        "tls.key_file and tls.ca_file are set but tls.cert_file is not");
  }
  if (tls.min_version != "1.3" && tls.min_version != "1.2") {
    return Status::invalid_argument(
        fmt::format("tls.min_version '{}' must be \"1.3\" or \"1.2\"", tls.min_version));
  }
  if (tls.client_auth != "none" && tls.client_auth != "require") {
    return Status::invalid_argument(
        fmt::format("tls.client_auth '{}' must be \"none\" or \"require\"", tls.client_auth));
  }
  if (tls.reload_interval_ms < 100) {
    return Status::invalid_argument("tls.reload_interval_ms must be at least 100");
  }
  if (tls.insecure || tls.enabled()) return Status::ok();
  std::vector<std::pair<std::string, HostPort>> open = {{"client_listen", c.client_listen},
                                                        {"peer_listen", c.peer_listen}};
  if (c.http_listen) open.emplace_back("http_listen", *c.http_listen);
  for (const auto& [key, address] : open) {
    if (is_loopback_host(address.host)) continue;
    return Status::invalid_argument(fmt::format(
        "{} {} is reachable beyond this machine without TLS: anyone who reaches it could read, "
        "write and change the cluster. Set [tls] cert_file, key_file and ca_file "
        "(docs/security.md), listen on loopback, or set [tls] insecure = true (--insecure) to "
        "accept the risk",
        key, address.to_string()));
  }
  return Status::ok();
}

Status check_security(const DaemonConfig& c) {
  if (c.auth.enabled() && c.auth.reload_interval_ms < 100) {
    return Status::invalid_argument("auth.reload_interval_ms must be at least 100");
  }
  if (c.auth.enabled() && c.auth.secret_checks_per_second_max == 0) {
    return Status::invalid_argument("auth.secret_checks_per_second_max must be at least 1");
  }
  return check_tls(c);
}

// What this node tells others to dial (gossiped, and named in the claimant's redirects) must
// be a machine: an unspecified host (0.0.0.0, ::) would send every peer to itself.
Status check_advertised(std::string_view port, const HostPort& listen,
                        const std::optional<HostPort>& advertise) {
  if (advertise && is_unspecified_host(advertise->host)) {
    return Status::invalid_argument(fmt::format(
        "{0}_advertise {1} is not an address others can dial (it means every interface, and "
        "to another node it is itself); set {0}_advertise (--{0}-advertise) to this node's "
        "host:port as other nodes and clients reach it, e.g. its DNS name",
        port, advertise->to_string()));
  }
  if (!advertise && is_unspecified_host(listen.host)) {
    return Status::invalid_argument(fmt::format(
        "{0}_listen {1} listens on every interface but {0}_advertise is not set: this node "
        "would tell others to reach it at {1}, which to them is themselves; set {0}_advertise "
        "(--{0}-advertise) to this node's host:port as other nodes and clients reach it, e.g. "
        "its DNS name",
        port, listen.to_string()));
  }
  return Status::ok();
}

// Members' and seeds' addresses are dialled: an unspecified host would be the dialler itself.
Status check_dialable(const std::vector<MemberConfig>& members,
                      const std::vector<HostPort>& seeds) {
  for (const auto& m : members) {
    if (is_unspecified_host(m.peer.host)) {
      return Status::invalid_argument(fmt::format(
          "cluster.members '{}' has peer address {}, which no node can dial (to each it is "
          "itself); give the member's address as other nodes reach it",
          m.id, m.peer.to_string()));
    }
  }
  for (const auto& seed : seeds) {
    if (is_unspecified_host(seed.host)) {
      return Status::invalid_argument(fmt::format(
          "cluster.seeds entry {} is not an address a node can dial; give a running node's peer "
          "address",
          seed.to_string()));
    }
  }
  return Status::ok();
}

Status check_snapshot_dir(const std::optional<std::string>& dir) {
  if (!dir || dir->empty() || std::filesystem::path(*dir).is_absolute()) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "storage.snapshot_dir '{}' must be an absolute path (or \"\" to refuse snapshots)", *dir));
}

}  // namespace

Status DaemonConfig::validate() const {
  QKV_RETURN_IF_ERROR(node.validate());
  QKV_RETURN_IF_ERROR(check_tombstone_grace(*this));
  if (data_dir.empty()) return Status::invalid_argument("data_dir is required");
  if (write_buffer_bytes < kWriteBufferBytesMin) {
    return Status::invalid_argument(
        fmt::format("storage.write_buffer_bytes={} must be at least {} (64 KiB)",
                    write_buffer_bytes, kWriteBufferBytesMin));
  }
  QKV_RETURN_IF_ERROR(check_snapshot_dir(snapshot_dir));
  QKV_RETURN_IF_ERROR(auto_join.validate());
  if (partitions == 0 || (partitions & (partitions - 1)) != 0 || partitions > (1u << 16)) {
    return Status::invalid_argument(
        fmt::format("cluster.partitions={} must be a power of two in 1..65536", partitions));
  }
  QKV_RETURN_IF_ERROR(check_members(*this));
  if (gossip_interval.count() < 10) {
    return Status::invalid_argument("gossip.interval_ms must be at least 10");
  }
  if (phi_convict <= 0) return Status::invalid_argument("gossip.phi_convict must be positive");
  if (io_threads > 256) {
    return Status::invalid_argument(
        fmt::format("io_threads={} must be at most 256 (0: the machine's cores)", io_threads));
  }
  if (client_listen.to_string() == peer_listen.to_string()) {
    return Status::invalid_argument("client_listen and peer_listen must differ");
  }
  QKV_RETURN_IF_ERROR(check_dialable(members, seeds));
  QKV_RETURN_IF_ERROR(check_advertised("peer", peer_listen, peer_advertise));
  QKV_RETURN_IF_ERROR(check_advertised("client", client_listen, client_advertise));
  if (http_listen && (http_listen->to_string() == client_listen.to_string() ||
                      http_listen->to_string() == peer_listen.to_string())) {
    return Status::invalid_argument(fmt::format(
        "http_listen {} must differ from client_listen and peer_listen", http_listen->to_string()));
  }
  static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  if (!kLevels.count(log_level)) {
    return Status::invalid_argument(fmt::format(
        "log.level '{}' must be one of trace, debug, info, warn, error, critical, off", log_level));
  }
  if (log_format != "logfmt" && log_format != "json") {
    return Status::invalid_argument(
        fmt::format("log.format '{}' must be one of logfmt, json", log_format));
  }
  if (peer_ping_interval_ms > 0 && peer_silence_ms_max < 2 * peer_ping_interval_ms) {
    return Status::invalid_argument(fmt::format(
        "timeouts.peer_silence_ms_max ({}) must be at least twice timeouts.peer_ping_interval_ms "
        "({}): a link is replaced when a ping stays unanswered that long",
        peer_silence_ms_max, peer_ping_interval_ms));
  }
  if (send_queue_bytes_max < node.limits.frame_bytes_max) {
    return Status::invalid_argument(
        "limits.send_queue_bytes_max must be at least limits.frame_bytes_max");
  }
  return check_security(*this);
}

}  // namespace qkv::node
