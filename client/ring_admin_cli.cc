#include "client/ring_admin_cli.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "client/cli_conventions.h"
#include "client/json_output.h"
#include "client/ring_admin_output.h"
#include "client/ring_checks.h"

namespace qkv::client {
namespace {

using nlohmann::json;

// A request of `client` failed: exit 1, or 3 when no node answered.
int fail(bool as_json, const Client& client, const Status& status) {
  return print_request_failure(as_json, status, client.any_answered());
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

proto::RingAdminRequest admin_request(proto::RingAction action, uint64_t plan_id = 0) {
  proto::RingAdminRequest request;
  request.action = action;
  request.plan_id = plan_id;
  return request;
}

proto::RingAdminRequest stage_request(proto::RingChangeKind kind, std::string node = {},
                                      std::string replacement = {}) {
  proto::RingAdminRequest request;
  request.action = proto::RingAction::kStage;
  request.kind = kind;
  request.node = std::move(node);
  request.replacement = std::move(replacement);
  return request;
}

// Options for asking one address only (a node of --cluster, or a member by its client
// address): no failover, the same deadlines.
Options one_node(const Options& options, std::string address) {
  Options one = options;
  one.nodes = {std::move(address)};
  return one;
}

int stage(Client& client, bool as_json, const proto::RingAdminRequest& request) {
  auto staged = client.ring_admin(request);
  if (!staged.is_ok()) return fail(as_json, client, staged.status());
  if (as_json) {
    json out = ring_admin_json(*staged);
    out["change"] = staged_change(request, staged->staged);
    print_json(out);
  } else {
    std::cout << stage_text(request, *staged);
  }
  return kExitOk;
}

int cmd_stage(const Options& options, bool as_json, const proto::RingAdminRequest& request) {
  Client client(options);
  return stage(client, as_json, request);
}

// A leave (or remove) that would keep fewer ring members than n (replicas per key) needs
// --force: keys would have fewer replicas than n, and quorums over them could never be met.
// A remove carries --force to the claimant too: it refuses to remove a node that is up.
int cmd_leave(const Options& options, bool as_json, proto::RingChangeKind kind,
              const std::string& node, bool force) {
  Client client(options);
  auto ring = client.ring();
  if (!ring.is_ok()) return fail(as_json, client, ring.status());
  std::optional<proto::RingAdminResponse> plan;  // of the changes staged already, if any
  if (auto planned = client.ring_admin(admin_request(proto::RingAction::kPlan)); planned.is_ok()) {
    plan = std::move(planned).value();
  }
  if (auto why = leave_below_n(node, members_after_leave(*ring, plan, node), ring->n)) {
    if (!force) {
      return print_failure(as_json,
                           Status::invalid_argument(*why + "; pass --force to stage it anyway"),
                           kExitFailed);
    }
    std::cerr << "warning: " << *why << "; staging it (--force)\n";
  }
  proto::RingAdminRequest request = stage_request(kind, node);
  request.force = force && kind == proto::RingChangeKind::kRemove;
  return stage(client, as_json, request);
}

int cmd_plan(const Options& options, bool as_json, bool all) {
  Client client(options);
  auto plan = client.ring_admin(admin_request(proto::RingAction::kPlan));
  if (!plan.is_ok()) return fail(as_json, client, plan.status());
  if (as_json) {
    json out = ring_admin_json(*plan);
    out["commit_command"] = commit_command(options.nodes, plan->plan_id);
    print_json(out);
  } else {
    std::cout << plan_text(*plan, options.nodes, all);
  }
  return 0;
}

// Without an id, commits the current plan: it is shown (staged changes and summary) before
// the commit line, so the operator sees what was committed.
int cmd_commit(const Options& options, bool as_json, const std::string& plan_id_arg) {
  Client client(options);
  std::optional<proto::RingAdminResponse> planned;
  uint64_t plan_id = 0;
  if (plan_id_arg.empty()) {
    auto plan = client.ring_admin(admin_request(proto::RingAction::kPlan));
    if (!plan.is_ok()) return fail(as_json, client, plan.status());
    planned = std::move(plan).value();
    plan_id = planned->plan_id;
  } else {
    auto parsed = parse_plan_id(plan_id_arg);
    if (!parsed.is_ok()) return print_usage_error(as_json, parsed.status().message());
    plan_id = *parsed;
  }
  auto committed = client.ring_admin(admin_request(proto::RingAction::kCommit, plan_id));
  if (!committed.is_ok()) return fail(as_json, client, committed.status());
  if (committed->plan_id == 0) committed->plan_id = plan_id;
  if (as_json) {
    json out = ring_admin_json(*committed);
    out["planned_here"] = planned.has_value();
    print_json(out);
    return 0;
  }
  if (planned) {
    std::cout << staged_list_text(planned->staged) << plan_summary_line(*planned) << "\n";
  }
  std::cout << commit_text(*committed) << "\n";
  return 0;
}

int cmd_cancel(const Options& options, bool as_json) {
  Client client(options);
  auto cancelled = client.ring_admin(admin_request(proto::RingAction::kCancel));
  if (!cancelled.is_ok()) return fail(as_json, client, cancelled.status());
  if (as_json) {
    print_json(ring_admin_json(*cancelled));
  } else {
    std::cout << cancel_text(*cancelled) << "\n";
  }
  return 0;
}

// What `ring status` gathered: every --cluster node's members view and every member's own
// status.
struct RingStatus {
  std::vector<proto::MembersResponse> views;
  json views_json = json::array();
  std::vector<proto::MemberInfo> members;  // merged, sorted by id
  std::vector<NodeTransfers> nodes;        // the members whose status answered
  json nodes_json = json::array();
  std::vector<std::string> problems;  // "n3 (host:port): why", for people
};

void gather_views(const Options& options, RingStatus& out) {
  for (const auto& address : options.nodes) {
    auto view = Client(one_node(options, address)).members();
    if (!view.is_ok()) {
      out.views_json.push_back({{"address", address}, {"error", view.status().message()}});
      out.problems.push_back(fmt::format("members from {}: {}", address, view.status().message()));
      continue;
    }
    out.views_json.push_back({{"address", address},
                              {"ring_version", view->ring_version},
                              {"members", view->members.size()}});
    out.views.push_back(std::move(view).value());
  }
  out.members = merge_member_views(out.views);
}

// Asks each member that is up, at its client address, for its own status: its ring version
// (newer than gossip's) and its inbound transfers.
void gather_statuses(const Options& options, RingStatus& out) {
  for (auto& m : out.members) {
    if (!m.up || m.client_address.empty()) continue;
    auto status = Client(one_node(options, m.client_address)).node_status(0);
    if (!status.is_ok()) {
      out.nodes_json.push_back(
          {{"node_id", m.id}, {"address", m.client_address}, {"error", status.status().message()}});
      out.problems.push_back(fmt::format("status of {}: {}", m.id, status.status().message()));
      continue;
    }
    m.ring_version = std::max(m.ring_version, status->ring_version);
    NodeTransfers node{m.id,
                       m.client_address,
                       m.ring_version,  // its own word, or gossip's if newer (or it has none)
                       m.transfers_done,
                       status->transfer_started_unix_ms,
                       std::move(status->transfers)};
    out.nodes_json.push_back(node_transfers_json(node));
    out.nodes.push_back(std::move(node));
  }
}

void print_ring_status(const RingStatus& s, std::size_t views_asked, int64_t now_ms) {
  std::cout << fmt::format("{} members (merged from {} of {} nodes' views)\n", s.members.size(),
                           s.views.size(), views_asked);
  std::cout << ring_members_table(s.members);
  bool any = false;
  for (const auto& node : s.nodes) {
    if (node.transfers.empty()) continue;
    if (!any) std::cout << "\ninbound transfers:\n";
    any = true;
    std::cout << transfer_progress_line(node, now_ms) << "\n";
  }
  for (const auto& problem : s.problems) std::cout << "not reachable: " << problem << "\n";
  std::cout << transition_line(transition_summary(s.nodes)) << "\n";
}

// Every --cluster node's view, then every up member's status. Error, unavailable: no node
// of --cluster answered (the message lists why for each).
Result<RingStatus> gather_ring_status(const Options& options) {
  RingStatus s;
  gather_views(options, s);
  if (s.views.empty()) {
    std::string why;
    for (const auto& p : s.problems) why += (why.empty() ? "" : "; ") + p;
    return Status::unavailable("no node of --cluster answered: " + why);
  }
  gather_statuses(options, s);
  return s;
}

json ring_status_json(const RingStatus& s) {
  return {{"members", ring_members_json(s.members)},
          {"views", s.views_json},
          {"nodes", s.nodes_json},
          {"transition", transition_json(transition_summary(s.nodes))},
          {"settling", settling_json(ring_settling(s.members, s.nodes))}};
}

int cmd_ring_status(const Options& options, bool as_json) {
  auto s = gather_ring_status(options);
  if (!s.is_ok()) return print_request_failure(as_json, s.status(), /*answered=*/false);
  if (as_json) {
    print_json(ring_status_json(*s));
  } else {
    print_ring_status(*s, options.nodes.size(), now_unix_ms());
  }
  return kExitOk;
}

// `ring status --wait`: polls until the ring change in progress has settled (ring_checks.h)
// or `timeout_s` passes, showing the progress on stdout when it is a terminal (rewritten in
// place; nothing otherwise, nor with --json), then the ring status as without --wait.
// Exit 0 settled, 3 no node of --cluster answered at the first poll, 4 timed out. Polls
// that find no node answering later (a node restarting) are waited through.
int cmd_ring_status_wait(const Options& options, bool as_json, uint32_t timeout_s) {
  using SteadyClock = std::chrono::steady_clock;
  constexpr auto kPollInterval = std::chrono::milliseconds(500);
  const auto deadline = SteadyClock::now() + std::chrono::seconds(timeout_s);
  const bool tty = !as_json && isatty(STDOUT_FILENO) != 0;
  auto s = gather_ring_status(options);
  if (!s.is_ok()) return print_request_failure(as_json, s.status(), /*answered=*/false);
  RingStatus last = std::move(s).value();
  RingSettling settling = ring_settling(last.members, last.nodes);
  while (!settling.settled && SteadyClock::now() < deadline) {
    if (tty) std::cout << "\r\033[K" << settling_line(settling) << std::flush;
    std::this_thread::sleep_for(
        std::min<SteadyClock::duration>(kPollInterval, deadline - SteadyClock::now()));
    if (auto again = gather_ring_status(options); again.is_ok()) {
      last = std::move(again).value();
      settling = ring_settling(last.members, last.nodes);
    }
  }
  if (tty) std::cout << "\r\033[K" << std::flush;
  if (as_json) {
    json out = ring_status_json(last);
    out["timed_out"] = !settling.settled;
    print_json(out);
  } else {
    print_ring_status(last, options.nodes.size(), now_unix_ms());
    std::cout << settling_line(settling) << "\n";
  }
  if (settling.settled) return kExitOk;
  if (!as_json) {
    std::cerr << fmt::format("error: the ring change was not done after --timeout-s {}: {}\n",
                             timeout_s, settling_line(settling));
  }
  return kExitTimedOut;
}

}  // namespace

RingAdminCli::RingAdminCli(CLI::App& app, CLI::App& ring) {
  node_ = app.add_subcommand("node", "stage a ring change for a node (then `ring plan`)")
              ->fallthrough()
              ->require_subcommand(1);
  join_ = node_->add_subcommand("join", "stage a join of a known node")->fallthrough();
  join_->add_option("NODE", node_arg_, "the node's id, or its peer or client address host:port")
      ->required();
  leave_ = node_->add_subcommand("leave", "stage a leave: its partitions move away")->fallthrough();
  leave_->add_option("ID", node_arg_, "the leaving node's id")->required();
  leave_->add_flag("--force", force_,
                   "stage it even when the ring would keep fewer members than n (replicas per "
                   "key)");
  replace_ = node_->add_subcommand("replace", "stage a replace: NEW takes exactly OLD's partitions")
                 ->fallthrough();
  replace_->add_option("OLD", node_arg_, "the replaced node's id")->required();
  replace_->add_option("NEW", replacement_arg_, "the new node's id")->required();
  remove_ = node_
                ->add_subcommand("remove",
                                 "stage a remove of a lost node: no handoff, its ranges are "
                                 "copied from the surviving replicas")
                ->fallthrough();
  remove_->add_option("ID", node_arg_, "the lost node's id")->required();
  remove_->add_flag("--force", force_,
                    "stage it even when the node is up (it should leave) or the ring would keep "
                    "fewer members than n");

  ring.require_subcommand(0, 1);
  rebalance_ =
      ring.add_subcommand("rebalance", "stage a rebalance (recompute the claim, same members)")
          ->fallthrough();
  plan_ = ring.add_subcommand("plan", "the plan of the staged changes, with its id")->fallthrough();
  plan_->add_flag("--all", all_, "list every transfer (default: the first 40)");
  commit_ = ring.add_subcommand("commit", "issue a plan as a ring transition")->fallthrough();
  commit_->add_option("--plan-id", plan_id_arg_,
                      "the id `ring plan` printed (default: plan now and commit that)");
  cancel_ =
      ring.add_subcommand("cancel", "clear the staged changes; with none, abort the transition")
          ->fallthrough();
  status_ = ring.add_subcommand("status", "members' ring versions and transition progress")
                ->fallthrough();
  auto* wait = status_->add_flag(
      "--wait", wait_,
      "block until the ring change in progress is done (every member up on one ring version, "
      "none in a transition), with a progress bar on a terminal; exit 4 after --timeout-s");
  status_
      ->add_option("--timeout-s", wait_timeout_s_, "with --wait: give up after this many seconds")
      ->check(CLI::Range(1u, 7u * 24 * 3600))
      ->needs(wait);
}

bool RingAdminCli::chosen() const {
  for (const CLI::App* sub : {node_, rebalance_, plan_, commit_, cancel_, status_}) {
    if (sub->parsed()) return true;
  }
  return false;
}

int RingAdminCli::run(const Options& options, bool json) const {
  using proto::RingChangeKind;
  if (join_->parsed())
    return cmd_stage(options, json, stage_request(RingChangeKind::kJoin, node_arg_));
  if (leave_->parsed()) return cmd_leave(options, json, RingChangeKind::kLeave, node_arg_, force_);
  if (remove_->parsed()) {
    return cmd_leave(options, json, RingChangeKind::kRemove, node_arg_, force_);
  }
  if (replace_->parsed()) {
    return cmd_stage(options, json,
                     stage_request(RingChangeKind::kReplace, node_arg_, replacement_arg_));
  }
  if (rebalance_->parsed())
    return cmd_stage(options, json, stage_request(RingChangeKind::kRebalance));
  if (plan_->parsed()) return cmd_plan(options, json, all_);
  if (commit_->parsed()) return cmd_commit(options, json, plan_id_arg_);
  if (cancel_->parsed()) return cmd_cancel(options, json);
  QKV_ASSERT(status_->parsed());
  if (wait_) return cmd_ring_status_wait(options, json, wait_timeout_s_);
  return cmd_ring_status(options, json);
}

}  // namespace qkv::client
