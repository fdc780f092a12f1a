// qkvctl's ring-change commands (Riak's `riak-admin cluster join/leave/replace/plan/commit/
// clear`), registered by qkvctl.cc:
//
//   node join ADDR|ID             stage a join (the node by id or peer/client address)
//   node leave ID [--force]       stage a leave; refused (exit 1) without --force when the
//                                 ring would keep fewer members than n (replicas per key)
//   node replace OLD NEW          stage a replace (NEW takes exactly OLD's partitions)
//   node remove ID [--force]      stage a remove of a lost node (no handoff: its ranges are
//                                 copied from the surviving replicas); the claimant refuses
//                                 a node that is up, and qkvctl one that would leave fewer
//                                 ring members than n, unless --force
//   ring rebalance                stage a rebalance (recompute the claim, same members)
//   ring plan [--all]             the plan of the staged changes and its id
//   ring commit [--plan-id ID]    issue the plan as a ring transition (without --plan-id: the
//                                 current plan, planned and committed at once)
//   ring cancel                   clear the staged changes; with none, abort the transition
//   ring status [--wait [--timeout-s S]]
//                                 members' ring versions and the transfers of a transition;
//                                 --wait blocks until the ring change is done
//                                 (client/ring_checks.h), a progress bar on a terminal
//
// Plain `ring` (no subcommand) stays qkvctl.cc's partitions-per-node table. Requests go to
// the claimant through Client::ring_admin (any node of --cluster first, then the claimant it
// names). Output is for people by default and JSON with --json (shapes: ring_admin_output.h).
// Exit codes (client/cli_conventions.h): 0 success; 1 a request failed, or a leave or
// remove refused without --force; 2 a malformed --plan-id; 3 no node of --cluster answered; 4
// --wait's
// --timeout-s passed.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "client/client.h"

namespace qkv::client {

class RingAdminCli {
 public:
  // Adds the `node` command to `app` and the subcommands above to `ring`. Both must outlive
  // this; CLI11 writes the parsed arguments into this object, so it does not move.
  RingAdminCli(CLI::App& app, CLI::App& ring);
  RingAdminCli(const RingAdminCli&) = delete;
  RingAdminCli& operator=(const RingAdminCli&) = delete;

  // After parsing: whether the command line chose one of these commands.
  bool chosen() const;

  // Runs the chosen command against `options.nodes` (the --cluster); returns the exit code.
  // REQUIRES: chosen().
  int run(const Options& options, bool json) const;

 private:
  CLI::App* node_ = nullptr;
  CLI::App* join_ = nullptr;
  CLI::App* leave_ = nullptr;
  CLI::App* replace_ = nullptr;
  CLI::App* remove_ = nullptr;
  CLI::App* rebalance_ = nullptr;
  CLI::App* plan_ = nullptr;
  CLI::App* commit_ = nullptr;
  CLI::App* cancel_ = nullptr;
  CLI::App* status_ = nullptr;

  std::string node_arg_;            // join/leave: the node; replace: the old node
  std::string replacement_arg_;     // replace: the new node
  std::string plan_id_arg_;         // commit --plan-id; empty: plan now and commit that
  bool all_ = false;                // plan --all
  bool force_ = false;              // leave/remove --force: even below n ring members (remove:
                                    // and a node that is up)
  bool wait_ = false;               // status --wait
  uint32_t wait_timeout_s_ = 3600;  // status --wait --timeout-s
};

}  // namespace qkv::client
