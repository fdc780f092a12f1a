// qkvctl: the qkv command-line client.
//
//   qkvctl [--cluster host:port[,host:port...]] [--json] [--timeout-ms N]
//          [--ca FILE [--cert FILE --key FILE]] COMMAND
//     get, put, delete, load, verify  data commands (client/data_cli.h)
//     ring                          partitions and ownership share per node
//     ring plan|commit|cancel|status [--wait]|rebalance, node join|leave [--force]|replace
//                                   ring changes through the claimant (client/ring_admin_cli.h)
//     status [--partitions]         every node of --cluster; exit 1 if any is down, 3 if all
//     members                       every member as the first reachable node sees it
//     repair [--partition P] [--node ID] [--timeout-s S]
//                                   run anti-entropy exchanges now on every node of --cluster
//                                   (or node ID) and wait for them; exit 1 unless every
//                                   partition succeeded, 2 for an unknown --node, 4 when
//                                   --timeout-s passed
//     snapshot [--node ADDR] [--dir PATH]
//                                   a snapshot (backup) of one node's storage into a directory
//                                   on its host (client/snapshot_cli.h)
//     user hash [--log2-n N]        read a secret on stdin, print its salted scrypt hash for
//                                   a users file ([auth]); needs no cluster
//     version (or --version)        qkvctl's version; needs no cluster
//
// --ca, --cert and --key (or QKV_CA, QKV_CERT, QKV_KEY) turn on TLS; --user (QKV_USER) with
// the secret in QKV_SECRET or --secret-file authenticates (docs/security.md).
// --cluster defaults to the QKV_CLUSTER environment variable; every entry is checked by
// common/host_port.h before anything is sent. Output is for people by default and JSON with
// --json (shapes: client/json_output.h). Exit codes, the same for every command and parser
// path: client/cli_conventions.h (0 ok, 1 failed, 2 usage, 3 unreachable, 4 timed out
// waiting). Errors print the node's message (naming the limit when input is too large).
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/cli_conventions.h"
#include "client/cli_parse.h"
#include "client/client.h"
#include "client/data_cli.h"
#include "client/json_output.h"
#include "client/repair_output.h"
#include "client/ring_admin_cli.h"
#include "client/snapshot_cli.h"
#include "common/host_port.h"
#include "common/version.h"
#include "net/credentials.h"

namespace qkv::client {
namespace {

using nlohmann::json;

struct Global {
  std::vector<std::string> cluster;
  bool json = false;
  uint32_t timeout_ms = 5000;
  TlsOptions tls;                          // --ca, --cert, --key: TLS when any is given
  std::string user;                        // --user
  std::string secret_file;                 // --secret-file
  std::optional<Credentials> credentials;  // --user and its secret (read_secret)

  Options client_options() const {
    Options options;
    options.nodes = cluster;
    options.timeout_ms = timeout_ms;
    if (!tls.ca_file.empty() || !tls.cert_file.empty()) options.tls = tls;
    options.credentials = credentials;
    return options;
  }

  // --user's secret: the first line of --secret-file, else QKV_SECRET. Never an argument:
  // other users of the machine can read a process's arguments.
  Status read_secret() {
    if (user.empty()) {
      if (!secret_file.empty()) return Status::invalid_argument("--secret-file needs --user");
      return Status::ok();
    }
    std::string secret;
    if (!secret_file.empty()) {
      std::ifstream in(secret_file);
      if (!in || !std::getline(in, secret)) {
        return Status::invalid_argument(fmt::format("cannot read --secret-file {}", secret_file));
      }
    } else if (const char* env = std::getenv("QKV_SECRET")) {
      secret = env;
    }
    if (secret.empty()) {
      return Status::invalid_argument(
          fmt::format("--user {} needs its secret: set QKV_SECRET or --secret-file FILE", user));
    }
    credentials = Credentials{user, std::move(secret)};
    return Status::ok();
  }
};

// qkvctl user hash: a users file's secret line from a secret read on stdin.
int cmd_user_hash(uint32_t log2_n) {
  std::string secret;
  if (isatty(STDIN_FILENO)) std::cerr << "secret (one line): " << std::flush;
  std::getline(std::cin, secret);
  auto hash = net::hash_secret(secret, net::ScryptCost{static_cast<uint8_t>(log2_n)});
  if (!hash) {
    std::cerr << "error: " << hash.status().message() << "\n";
    return kExitUsage;
  }
  std::cout << *hash << "\n";
  return kExitOk;
}

struct RepairArgs {
  std::optional<uint32_t> partition;  // --partition; nullopt: all of each node's partitions
  std::string node;                   // --node; empty: every node of --cluster
  uint32_t timeout_s = 600;           // --timeout-s: how long to wait for the exchanges
  bool partitions = false;            // status --partitions
};

// A request of `client` failed: exit 1, or 3 when no node answered.
int fail(const Global& g, const Client& client, const Status& status) {
  return print_request_failure(g.json, status, client.any_answered());
}

// A client error about the node at `address`, without the "address: " the SDK starts it with.
std::string without_address(std::string message, const std::string& address) {
  if (message.starts_with(address + ": ")) message.erase(0, address.size() + 2);
  return message;
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int cmd_ring(const Global& g) {
  Client client(g.client_options());
  auto ring = client.ring();
  if (!ring.is_ok()) return fail(g, client, ring.status());
  json out = ring_json(*ring);
  if (g.json) {
    print_json(out);
    return 0;
  }
  std::cout << fmt::format("partitions: {}  n: {}\n", ring->partition_count, ring->n);
  std::cout << fmt::format("{:<24} {:>10} {:>8}\n", "node", "partitions", "share");
  for (const auto& node : out["nodes"]) {
    std::cout << fmt::format("{:<24} {:>10} {:>7.2f}%\n", node["node"].get<std::string>(),
                             node["partitions"].get<std::size_t>(),
                             node["share_percent"].get<double>());
  }
  return 0;
}

int cmd_members(const Global& g) {
  Client client(g.client_options());
  auto members = client.members();
  if (!members.is_ok()) return fail(g, client, members.status());
  if (g.json) {
    print_json(members_json(*members));
    return 0;
  }
  std::cout << fmt::format("ring version {}, {} members (as seen by the answering node)\n",
                           members->ring_version, members->members.size());
  std::cout << fmt::format("{:<12} {:<22} {:<22} {:<8} {:<8} {:<5} {:>7} {:>20} {:>10} {:>8}\n",
                           "id", "peer", "client", "zone", "status", "state", "phi", "incarnation",
                           "partitions", "hints");
  for (const auto& m : members->members) {
    std::cout << fmt::format(
        "{:<12} {:<22} {:<22} {:<8} {:<8} {:<5} {:>7.2f} {:>20} {:>10} {:>8}\n", m.id,
        m.peer_address, m.client_address, m.zone.empty() ? "-" : m.zone, m.status,
        m.up ? "up" : "down", m.phi, m.incarnation, m.partitions, m.hints_pending);
  }
  return 0;
}

std::string human_duration(uint64_t ms) {
  uint64_t s = ms / 1000;
  if (s < 60) return fmt::format("{}.{:03}s", s, ms % 1000);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60);
}

// "tombstones: 12 waiting for their grace, 3456 reaped (7 checks deferred)": deletes this
// node drives and the ones it removed (node/reaper.h).
std::string tombstones_line(const std::vector<std::pair<std::string, uint64_t>>& counters) {
  uint64_t pending = 0, reaped = 0, deferred = 0;
  for (const auto& [name, value] : counters) {
    if (name == "tombstones_pending") pending = value;
    if (name == "tombstones_reaped") reaped = value;
    if (name == "reaps_deferred") deferred = value;
  }
  return fmt::format("tombstones: {} waiting for their grace, {} reaped ({} checks deferred)",
                     pending, reaped, deferred);
}

void print_status(const std::string& address, const proto::StatusResponse& s, int64_t now_ms,
                  bool partitions) {
  std::cout << fmt::format("{}  up\n", address);
  std::cout << fmt::format("  node: {}  incarnation: {}  version: {}  uptime: {}\n", s.node_id,
                           s.incarnation, s.version, human_duration(s.uptime_ms));
  std::cout << fmt::format("  n/r/w: {}/{}/{}\n", s.n, s.r, s.w);
  std::cout << fmt::format("  members ({}): {}\n", s.members.size(), fmt::join(s.members, ", "));
  std::string counters;
  for (const auto& [name, value] : s.counters) counters += fmt::format(" {}={}", name, value);
  std::cout << "  counters:" << counters << "\n";
  std::cout << "  " << tombstones_line(s.counters) << "\n";
  std::cout << "  " << anti_entropy_line(s.exchanges, now_ms) << "\n";
  if (s.repair.partitions_total > 0) {
    std::cout << fmt::format(
        "  repair ({}): {}{}\n", s.repair.running ? "running" : "finished",
        repair_progress_text(s.repair),
        s.repair.last_error.empty() ? "" : "  last error: " + s.repair.last_error);
  }
  if (partitions) std::cout << exchanges_table(s.exchanges, now_ms);
}

int cmd_status(const Global& g, const RepairArgs& r) {
  Client client(g.client_options());
  int64_t now_ms = now_unix_ms();
  json nodes = json::array();
  int down = 0;
  for (std::size_t i = 0; i < g.cluster.size(); ++i) {
    auto status = client.node_status(i);
    if (status.is_ok()) {
      if (g.json) {
        nodes.push_back(status_json(g.cluster[i], *status));
      } else {
        print_status(g.cluster[i], *status, now_ms, r.partitions);
      }
      continue;
    }
    ++down;
    if (g.json) {
      nodes.push_back(
          {{"address", g.cluster[i]}, {"up", false}, {"error", status.status().message()}});
    } else {
      // The message starts with the address already shown on this line.
      std::cout << fmt::format("{}  down ({})\n", g.cluster[i],
                               without_address(status.status().message(), g.cluster[i]));
    }
  }
  if (g.json) print_json({{"nodes", std::move(nodes)}, {"down", down}});
  if (down == 0) return kExitOk;
  return client.any_answered() ? kExitFailed : kExitUnreachable;
}

// The nodes `qkvctl repair` addresses, as indexes into --cluster, with their node ids when
// known: every node, or with --node only the one whose status names that id.
struct RepairTargets {
  std::vector<std::size_t> indexes;
  std::vector<std::string> node_ids;  // beside indexes; empty until a status names it
};

Result<RepairTargets> repair_targets(const Global& g, const RepairArgs& r, Client& client) {
  RepairTargets targets;
  if (r.node.empty()) {
    for (std::size_t i = 0; i < g.cluster.size(); ++i) targets.indexes.push_back(i);
    targets.node_ids.resize(g.cluster.size());
    return targets;
  }
  std::vector<std::string> seen, unreachable;
  for (std::size_t i = 0; i < g.cluster.size(); ++i) {
    auto status = client.node_status(i);
    if (!status.is_ok()) {
      unreachable.push_back(g.cluster[i]);
      continue;
    }
    if (status->node_id == r.node) {
      targets.indexes.push_back(i);
      targets.node_ids.push_back(status->node_id);
      return targets;
    }
    seen.push_back(status->node_id);
  }
  return Status::invalid_argument(fmt::format(
      "--node {}: no node of --cluster has that id (ids seen: {}{})", r.node,
      seen.empty() ? "none" : fmt::format("{}", fmt::join(seen, ", ")),
      unreachable.empty() ? "" : fmt::format("; not reachable: {}", fmt::join(unreachable, ", "))));
}

// Sends the RepairRequest to every target. The nodes that accepted start as running (when
// they queued any partition) until their status says otherwise.
std::vector<NodeRepair> start_repairs(const Global& g, const RepairArgs& r, Client& client,
                                      const RepairTargets& targets) {
  std::vector<NodeRepair> nodes;
  for (std::size_t k = 0; k < targets.indexes.size(); ++k) {
    NodeRepair n;
    n.address = g.cluster[targets.indexes[k]];
    n.node_id = targets.node_ids[k];
    auto accepted = client.repair(targets.indexes[k], r.partition);
    if (!accepted.is_ok()) {
      n.error = fmt::format("repair request failed: {}",
                            without_address(accepted.status().message(), n.address));
      if (!g.json) std::cerr << fmt::format("error: {}: {}\n", n.address, n.error);
    } else {
      n.accepted = true;
      n.partitions_queued = accepted->partitions;
      n.progress.running = accepted->partitions > 0;
      n.progress.partitions_total = accepted->partitions;
    }
    nodes.push_back(std::move(n));
  }
  return nodes;
}

// Polls the status of every accepted target (once at least, then while its repair runs; a
// target that queued nothing once, for its node id) until none runs or `deadline` passes, showing
// the summed progress on stderr: rewritten in place on a terminal, else a line every 5 s; nothing
// with --json. Returns whether the deadline passed first. A target whose status fails
// kStatusFailuresMax times in a row is given up (its error says why).
bool watch_repairs(const Global& g, Client& client, const RepairTargets& targets,
                   std::vector<NodeRepair>& nodes, std::chrono::steady_clock::time_point deadline) {
  using namespace std::chrono_literals;
  using SteadyClock = std::chrono::steady_clock;
  constexpr auto kPollInterval = 500ms;
  constexpr auto kPlainLineInterval = 5s;
  constexpr int kStatusFailuresMax = 3;
  bool tty = !g.json && isatty(STDERR_FILENO) != 0;
  auto last_line = SteadyClock::now();
  std::vector<int> failures(nodes.size(), 0);
  std::vector<bool> polled(nodes.size(), false);
  bool timed_out = false;
  for (;;) {
    bool running = false;
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      NodeRepair& n = nodes[k];
      if (!n.accepted || !n.error.empty() || (polled[k] && !n.progress.running)) continue;
      auto status = client.node_status(targets.indexes[k]);
      if (n.partitions_queued == 0) {
        // Nothing queued: its status' repair is an earlier one. Asked once, for its id only.
        polled[k] = true;
        if (status.is_ok()) n.node_id = status->node_id;
        continue;
      }
      if (!status.is_ok()) {
        if (++failures[k] >= kStatusFailuresMax) {
          n.error = fmt::format("status failed {} times in a row, last: {}", failures[k],
                                without_address(status.status().message(), n.address));
        } else {
          running = running || n.progress.running;
        }
        continue;
      }
      failures[k] = 0;
      polled[k] = true;
      n.node_id = status->node_id;
      n.progress = status->repair;
      running = running || n.progress.running;
    }
    std::string line = "repair: " + repair_progress_text(total_progress(nodes));
    if (tty) {
      std::cerr << "\r\033[K" << line << std::flush;
    } else if (!g.json && SteadyClock::now() - last_line >= kPlainLineInterval) {
      std::cerr << line << "\n";
      last_line = SteadyClock::now();
    }
    if (!running) break;
    auto now = SteadyClock::now();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(kPollInterval, deadline - now));
  }
  if (tty) std::cerr << "\r\033[K" << std::flush;
  return timed_out;
}

int cmd_repair(const Global& g, const RepairArgs& r) {
  Client client(g.client_options());
  auto targets = repair_targets(g, r, client);
  if (!targets.is_ok()) {
    // An id no answering node has is a usage error; with none answering, nothing is known.
    if (!client.any_answered())
      return fail(g, client, Status::unavailable(targets.status().message()));
    return print_usage_error(g.json, targets.status().message());
  }
  auto started = std::chrono::steady_clock::now();
  std::vector<NodeRepair> nodes = start_repairs(g, r, client, *targets);
  bool any_accepted =
      std::any_of(nodes.begin(), nodes.end(), [](const NodeRepair& n) { return n.accepted; });
  bool timed_out = false;
  if (any_accepted) {
    timed_out =
        watch_repairs(g, client, *targets, nodes, started + std::chrono::seconds(r.timeout_s));
  }
  if (g.json) {
    print_json(repair_report_json(nodes, timed_out));
  } else if (any_accepted) {
    std::cout << repair_table(nodes);
  }
  if (!any_accepted) {
    if (!g.json) std::cerr << "error: no node accepted the repair\n";
    return client.any_answered() ? kExitFailed : kExitUnreachable;
  }
  bool ok = !timed_out && std::all_of(nodes.begin(), nodes.end(),
                                      [](const NodeRepair& n) { return n.succeeded(); });
  if (!ok && !g.json)
    std::cerr << "error: " << repair_failure_text(nodes, timed_out, r.timeout_s) << "\n";
  if (ok) return kExitOk;
  return timed_out ? kExitTimedOut : kExitFailed;
}

// The cluster the command talks to: --cluster, else QKV_CLUSTER, each entry host:port.
// invalid_argument naming where the bad entry came from.
Status check_cluster(const Global& g, const std::vector<std::string>& args) {
  if (g.cluster.empty()) {
    return Status::invalid_argument(
        "--cluster is required: host:port of one or more nodes, comma-separated (or set "
        "QKV_CLUSTER)");
  }
  const bool from_flag = std::any_of(args.begin(), args.end(), [](const std::string& arg) {
    return arg == "--cluster" || arg.starts_with("--cluster=");
  });
  const std::string what = from_flag ? "--cluster entry" : "QKV_CLUSTER entry";
  for (const auto& entry : g.cluster) {
    auto parsed = parse_host_port(entry, what);
    if (!parsed.is_ok()) return parsed.status();
  }
  return Status::ok();
}

int cmd_version(const Global& g) {
  if (g.json) {
    print_json({{"version", std::string(kVersion)}});
  } else {
    std::cout << "qkvctl " << kVersion << "\n";
  }
  return kExitOk;
}

// The commands that read the cluster's state (status, repair, members); `ring` is the
// caller's (RingAdminCli adds to it).
struct StateCommands {
  CLI::App* status = nullptr;
  CLI::App* repair = nullptr;
  CLI::App* members = nullptr;
};

StateCommands add_state_commands(CLI::App& app, RepairArgs& r) {
  StateCommands c;
  c.status = app.add_subcommand("status", "status of every node in --cluster")->fallthrough();
  c.status->add_flag("--partitions", r.partitions,
                     "also list each partition's last successful anti-entropy exchange");
  c.repair = app.add_subcommand(
                    "repair", "run anti-entropy exchanges now on every node of --cluster and wait")
                 ->fallthrough();
  c.repair->add_option("--partition", r.partition,
                       "only this partition (default: every partition each node replicates)");
  c.repair->add_option("--node", r.node,
                       "only the node with this id (default: every node of --cluster)");
  c.repair->add_option("--timeout-s", r.timeout_s, "give up waiting after this many seconds")
      ->check(CLI::Range(1u, 7u * 24 * 3600));
  c.members = app.add_subcommand("members", "every member: status, up/down, phi, partitions, hints")
                  ->fallthrough();
  return c;
}

int run(int argc, char** argv) {
  CLI::App app{"qkvctl: read, write and inspect a qkv cluster", "qkvctl"};
  app.footer(exit_codes_help());
  Global g;
  app.add_option("--cluster", g.cluster, "nodes as host:port, comma-separated, tried in order")
      ->delimiter(',')
      ->allow_extra_args(false)  // `--cluster a:1 stauts` must not take stauts as a node
      ->envname("QKV_CLUSTER");
  app.add_flag("--json", g.json, "print JSON");
  app.add_option("--timeout-ms", g.timeout_ms, "per-request timeout in ms")
      ->check(CLI::Range(1u, 3600u * 1000u));
  app.add_option("--ca", g.tls.ca_file,
                 "PEM file of the cluster CA: speak TLS to the nodes and verify them with it")
      ->envname("QKV_CA");
  app.add_option("--cert", g.tls.cert_file,
                 "PEM client certificate (nodes with [tls] client_auth = \"require\"); implies TLS")
      ->envname("QKV_CERT");
  app.add_option("--key", g.tls.key_file, "PEM private key of --cert")->envname("QKV_KEY");
  app.add_option("--user", g.user,
                 "authenticate as this user (nodes with [auth]); its secret comes from "
                 "QKV_SECRET or --secret-file")
      ->envname("QKV_USER");
  app.add_option("--secret-file", g.secret_file, "file whose first line is --user's secret");
  app.set_version_flag("--version", fmt::format("qkvctl {}", kVersion));
  app.require_subcommand(1);

  DataCli data(app);
  auto* ring = app.add_subcommand("ring", "partitions and ownership share per node; ring changes")
                   ->fallthrough();
  RingAdminCli ring_admin(app, *ring);
  RepairArgs r;
  StateCommands state = add_state_commands(app, r);
  SnapshotCli snapshot(app);
  auto* version = app.add_subcommand("version", "print qkvctl's version")->fallthrough();
  auto* user = app.add_subcommand("user", "users of nodes with [auth] (docs/security.md)");
  auto* user_hash = user->add_subcommand(
      "hash", "read a secret on stdin and print its salted scrypt hash for a users file");
  uint32_t log2_n = net::ScryptCost{}.log2_n;
  user_hash->add_option("--log2-n", log2_n, "scrypt cost: N = 2^this (memory 128 * 8 * N bytes)")
      ->check(CLI::Range(10u, 20u));
  user->require_subcommand(1);

  const std::vector<std::string> args(argv + 1, argv + argc);
  if (auto exit_code = parse_command_line(app, args)) return *exit_code;
  if (*version) return cmd_version(g);
  if (*user_hash) return cmd_user_hash(log2_n);
  // snapshot --node names its one node: no --cluster needed.
  const bool cluster_needed = !(snapshot.chosen() && snapshot.names_node());
  if (Status s = cluster_needed ? check_cluster(g, args) : Status::ok(); !s.is_ok()) {
    return print_usage_error(g.json, s.message(), "run 'qkvctl --help' for usage");
  }
  if (Status s = g.read_secret(); !s.is_ok()) {
    return print_usage_error(g.json, s.message(), "run 'qkvctl --help' for usage");
  }
  if (data.chosen()) return data.run(g.client_options(), g.json);
  if (ring_admin.chosen()) return ring_admin.run(g.client_options(), g.json);
  if (snapshot.chosen()) return snapshot.run(g.client_options(), g.json);
  if (*ring) return cmd_ring(g);
  if (*state.status) return cmd_status(g, r);
  if (*state.repair) return cmd_repair(g, r);
  QKV_ASSERT(state.members->parsed());
  return cmd_members(g);
}

}  // namespace
}  // namespace qkv::client

int main(int argc, char** argv) {
  return qkv::client::run(argc, argv);
}
