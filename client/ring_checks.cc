#include "client/ring_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace qkv::client {

RingSettling ring_settling(const std::vector<proto::MemberInfo>& members,
                           const std::vector<NodeTransfers>& nodes) {
  RingSettling s;
  for (const auto& n : nodes) {
    s.in_transition = s.in_transition || n.transfer_started_unix_ms != 0;
    s.ranges_done += n.ranges_done();
    s.ranges_total += n.transfers.size();
  }
  for (const auto& m : members) {
    if (!m.up) continue;
    ++s.members_up;
    s.ring_version = std::max(s.ring_version, m.ring_version);
  }
  for (const auto& m : members) {
    if (!m.up) continue;
    bool answered = std::any_of(nodes.begin(), nodes.end(),
                                [&](const NodeTransfers& n) { return n.node_id == m.id; });
    if (!answered) {
      s.unanswered.push_back(m.id);
    } else if (m.ring_version < s.ring_version) {
      s.behind.push_back(m.id);
    }
  }
  s.settled = s.members_up > 0 && !s.in_transition && s.behind.empty() && s.unanswered.empty();
  return s;
}

std::string arrow_bar(uint64_t done, uint64_t total, std::size_t width) {
  std::string bar(width, ' ');
  if (total == 0 || done >= total) {
    bar.assign(width, '=');
  } else if (width > 0) {
    // At most width - 1 '='s then the '>': full only when done.
    auto filled = static_cast<std::size_t>(static_cast<double>(done) / static_cast<double>(total) *
                                           static_cast<double>(width));
    filled = std::min(filled, width - 1);
    std::fill_n(bar.begin(), filled, '=');
    bar[filled] = '>';
  }
  return "[" + bar + "]";
}

std::string settling_line(const RingSettling& s) {
  if (s.settled) return fmt::format("ring version {} on every member: done", s.ring_version);
  std::string line;
  if (s.in_transition || s.ranges_total > 0) {
    line = fmt::format("{} {}/{} ranges transferred, ring version {}",
                       arrow_bar(s.ranges_done, s.ranges_total), s.ranges_done, s.ranges_total,
                       s.ring_version);
  } else {
    line = fmt::format("ring version {}", s.ring_version);
  }
  if (!s.behind.empty()) {
    line += fmt::format(", waiting for {} to apply it", fmt::join(s.behind, ", "));
  }
  if (!s.unanswered.empty())
    line += fmt::format(", no status from {}", fmt::join(s.unanswered, ", "));
  if (s.members_up == 0) line += ", no member up";
  return line;
}

nlohmann::json settling_json(const RingSettling& s) {
  return {{"settled", s.settled},         {"ring_version", s.ring_version},
          {"members_up", s.members_up},   {"in_transition", s.in_transition},
          {"ranges_done", s.ranges_done}, {"ranges_total", s.ranges_total},
          {"behind", s.behind},           {"unanswered", s.unanswered}};
}

std::size_t members_after_leave(const proto::RingResponse& ring,
                                const std::optional<proto::RingAdminResponse>& plan,
                                const std::string& node) {
  std::set<std::string> members;
  if (plan) {
    for (const auto& o : plan->ownership) {
      if (o.after > 0) members.insert(o.node);
    }
  } else {
    members.insert(ring.owners.begin(), ring.owners.end());
  }
  members.erase(node);
  return members.size();
}

std::optional<std::string> leave_below_n(const std::string& node, std::size_t members_after,
                                         uint32_t n) {
  if (members_after >= n) return std::nullopt;
  return fmt::format(
      "{} leaving leaves {} ring member{}, fewer than n={} replicas per key: keys would have {} "
      "replica{}, and quorums over {} (r, w, pr) could never be met",
      node, members_after, members_after == 1 ? "" : "s", n, members_after,
      members_after == 1 ? "" : "s", members_after);
}

}  // namespace qkv::client
