// What qkvctl prints about ring changes (Riak's `riak-admin cluster ...`): `node join/leave/
// replace` and `ring rebalance` (stage), `ring plan`, `ring commit`, `ring cancel`, and
// `ring status` (the members' ring versions and the inbound transfers of a transition).
// Sizes and counts use the helpers of repair_output.h (byte_size_text, count_text, age_text).
//
// JSON shapes (pinned: scripts parse them):
//   ring admin: {"claimant":"n1","claimant_address":"host:port","staged":["join n4",..],
//                "plan_id":"0x00000000000000ff","from_version":V,
//                "transfers":[{"partition":P,"from":"n1","to":"n4"},..],
//                "ownership":[{"node":"n1","before":B,"after":A},..],"moved":M,"balance":1.02,
//                "spacing_violations":S,"zone_violations":Z,"ring_version":V,
//                "estimated_keys":K,"estimated_bytes":B}   (plan_id as text: 64 bits do not
//                survive every JSON reader as a number)
//   ring status: {"members":[{"id":..,"status":..,"up":..,"ring_version":..,
//                 "transfers_done":..,"partitions":..,"client_address":..},..],
//                 "views":[{"address":"host:port","ring_version":V,"members":N} or
//                          {"address":..,"error":".."},..],
//                 "nodes":[{"node_id":..,"address":..,"ring_version":..,
//                           "transfer_started_unix_ms":..,"transfers_done":..,
//                           "transfers":[{"partition":..,"source":..,"keys":..,"bytes":..,
//                                         "done":..,"active":..},..]} or
//                          {"node_id":..,"address":..,"error":".."},..],
//                 "transition":{"ring_version":V,"receivers":M,"receivers_done":K} or null}
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proto/client_api.h"

namespace qkv::client {

// Transfers `ring plan` lists unless --all.
inline constexpr std::size_t kPlanTransfersShown = 40;

// "0x00000000000000ff": a plan id as `ring plan` prints it and `--plan-id` takes it.
std::string plan_id_text(uint64_t plan_id);

// A --plan-id: hex with 0x (any number of digits, up to 16 significant) or decimal.
// invalid_argument naming the text otherwise (empty, other characters, over 64 bits).
Result<uint64_t> parse_plan_id(std::string_view text);

// "join n4", "leave n2", "replace n2 with n6", "rebalance" (as the claimant describes them).
std::string describe_change(proto::RingChangeKind kind, const std::string& node,
                            const std::string& replacement);

// The entry of `staged` that a stage request added, as the claimant describes it (which
// names a node given by address by its id): the entry equal to the request's own
// description, else the last one of the same kind, else the request's own description.
std::string staged_change(const proto::RingAdminRequest& request,
                          const std::vector<std::string>& staged);

// "staged changes (2):\n  join n4\n  leave n2\n", or "staged changes: none\n".
std::string staged_list_text(const std::vector<std::string>& staged);

// What a stage command prints:
// "staged: join n4 (claimant n1); run `qkvctl ring plan`\n" then staged_list_text.
std::string stage_text(const proto::RingAdminRequest& request,
                       const proto::RingAdminResponse& response);

// "partition  from -> to" and one row per transfer; past `limit` rows (0: no limit),
// "... N more (--all lists every one)".
std::string transfers_table(const std::vector<proto::RingTransfer>& transfers, std::size_t limit);

// node, before, after, change ("+64", "-21", "0"), one row per node in the order given.
std::string ownership_table(const std::vector<proto::Ownership>& ownership);

// "3 transfers, 2 partitions change owner, balance max/mean 1.02, ~1,234 keys / 1.2 MiB to
// move (estimate), plan id 0x..."
std::string plan_summary_line(const proto::RingAdminResponse& plan);

// "" when both are 0; else "violations: 3 spacing (...), 1 zone (...)" naming only non-zero
// ones, with what each means.
std::string violations_line(const proto::RingAdminResponse& plan);

// "qkvctl --cluster a:1,b:2 ring commit --plan-id 0x..."
std::string commit_command(const std::vector<std::string>& cluster, uint64_t plan_id);

// What `ring plan` prints: the staged changes, the transfers (the first kPlanTransfersShown
// unless `all`), the ownership table, the summary and violations, and the commit line.
std::string plan_text(const proto::RingAdminResponse& plan, const std::vector<std::string>& cluster,
                      bool all);

// "committed plan 0x... as ring version V; transfers start once every node has the new ring:
// watch with `qkvctl ring status`"
std::string commit_text(const proto::RingAdminResponse& committed);

// "cancelled the staged changes" (ring_version 0), else "cancelled the transition; ring
// version V keeps the old owners".
std::string cancel_text(const proto::RingAdminResponse& cancelled);

nlohmann::json ring_admin_json(const proto::RingAdminResponse& response);

// ---- ring status ----

// Every member seen in any of `views` (the members answers of several nodes), sorted by id.
// Gossip lags, so ring_version and transfers_done (which only grow) are the largest any view
// reports; up is whether any view has it up; the other fields come from the first view
// that lists the member.
std::vector<proto::MemberInfo> merge_member_views(const std::vector<proto::MembersResponse>& views);

// A node's inbound transfers, from its own status.
struct NodeTransfers {
  std::string node_id;
  std::string address;
  uint64_t ring_version = 0;              // the ring it has applied
  uint64_t transfers_done = 0;            // as members report it (gossip); 0 if unknown
  uint64_t transfer_started_unix_ms = 0;  // 0: unknown
  std::vector<proto::TransferProgress> transfers;

  // Ranges done, of transfers.size().
  std::size_t ranges_done() const;
  // Whether it has finished its inbound transfers of ring version `version`: it reported
  // transfers_done >= version, or every range is done.
  bool finished(uint64_t version) const;
};

// "[#####...............]": `width` characters between brackets, done/total of them '#'
// (rounded down; all '#' only when done >= total; total 0 shows as full).
std::string progress_bar(uint64_t done, uint64_t total, std::size_t width = 20);

// "12s", "4m", ... (age_text) for the time left if the rest goes at the pace so far:
// elapsed * (total - done) / done; "--" when nothing is done or elapsed is unknown (<= 0),
// "0s" when all is done.
std::string eta_text(int64_t elapsed_ms, uint64_t done, uint64_t total);

// "45.0 MiB/s" for `bytes` over `elapsed_ms`; "--" when elapsed_ms <= 0.
std::string rate_text(uint64_t bytes, int64_t elapsed_ms);

// "n4  [#########...........] 12/32 ranges  1,234,567 keys  340.0 MiB  45.0 MiB/s  ETA 12s":
// rate and ETA over the time since transfer_started_unix_ms ("--" when it is 0 or ahead
// of `now_unix_ms`).
std::string transfer_progress_line(const NodeTransfers& node, int64_t now_unix_ms);

// The transition the receivers are in: the largest ring version among the nodes with
// inbound transfers, how many such nodes there are and how many finished() it.
struct TransitionSummary {
  uint64_t ring_version = 0;
  std::size_t receivers = 0;
  std::size_t receivers_done = 0;
};
std::optional<TransitionSummary> transition_summary(const std::vector<NodeTransfers>& nodes);

// "transition to ring version V: K of M receivers done" or "no transition in progress".
std::string transition_line(const std::optional<TransitionSummary>& summary);

// id, status, up, ring version, partitions: one row per member.
std::string ring_members_table(const std::vector<proto::MemberInfo>& members);

nlohmann::json transition_json(const std::optional<TransitionSummary>& summary);
nlohmann::json node_transfers_json(const NodeTransfers& node);
nlohmann::json ring_members_json(const std::vector<proto::MemberInfo>& members);

}  // namespace qkv::client
