// What qkvctl judges from the cluster's ring answers, before or after acting:
//   - whether a ring change has settled (`ring status --wait` polls until it has), and the
//     progress line it shows meanwhile;
//   - how many ring members a leave would leave (`node leave` refuses, without --force, to
//     go below N, the replicas per key).
//
// When a ring change has settled (node/claimant.h, node/transfer.h): a commit issues ring
// version V with next owners (a transition); every member applies it; receivers pull their
// ranges; once all have, the claimant issues V+1 with the new owners only, and every member
// applies that. So the change is done when every member that is up answers its own status
// at one ring version and none is in a transition (StatusResponse::transfer_started_unix_ms
// is 0: no next ring). Down members do not count (they hold up nothing in the cluster
// either); an up member whose status did not answer keeps the change unsettled, as its state
// is unknown.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/ring_admin_output.h"
#include "proto/client_api.h"

namespace qkv::client {

struct RingSettling {
  bool settled = false;
  uint64_t ring_version = 0;            // the newest any up member has applied
  std::size_t members_up = 0;           // up members (merged views)
  bool in_transition = false;           // some member answered that it has a next ring
  std::size_t ranges_done = 0;          // inbound ranges copied, over every receiver
  std::size_t ranges_total = 0;         // inbound ranges of the receivers that answered
  std::vector<std::string> behind;      // up members on an older ring version, by id
  std::vector<std::string> unanswered;  // up members whose status did not answer, by id
};

// `members`: merge_member_views of the --cluster nodes' views; `nodes`: the statuses of the
// up members that answered (ring status's gathering).
RingSettling ring_settling(const std::vector<proto::MemberInfo>& members,
                           const std::vector<NodeTransfers>& nodes);

// "[=========>          ]": `width` characters between brackets, done/total of them '=' with
// the last a '>' while not done; all '=' when done >= total (total 0 included).
std::string arrow_bar(uint64_t done, uint64_t total, std::size_t width = 20);

// What `ring status --wait` shows while it waits, e.g.
// "[=====>              ] 12/64 ranges transferred, ring version 7"
// with ", waiting for n4 to apply it" / ", no status from n3" where members lag, or
// "ring version 7 on every member: done" once settled.
std::string settling_line(const RingSettling& settling);

// {"settled":..,"ring_version":..,"members_up":..,"in_transition":..,"ranges_done":..,
//  "ranges_total":..,"behind":[..],"unanswered":[..]}
nlohmann::json settling_json(const RingSettling& settling);

// How many ring members `node` leaving would leave: the nodes owning partitions after the
// staged changes (`plan`, the claimant's plan of them, when it has one) or else now (`ring`),
// without `node`.
std::size_t members_after_leave(const proto::RingResponse& ring,
                                const std::optional<proto::RingAdminResponse>& plan,
                                const std::string& node);

// Why a leave of `node` needs --force, or nullopt when `members_after` >= n:
// "n3 leaving leaves 2 ring members, fewer than n=3 replicas per key: keys would have 2
// replicas, and quorums over 2 (r, w, pr) could never be met"
std::optional<std::string> leave_below_n(const std::string& node, std::size_t members_after,
                                         uint32_t n);

}  // namespace qkv::client
