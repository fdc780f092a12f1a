#include "client/ring_admin_output.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "client/repair_output.h"
#include "proto/client_json.h"

namespace qkv::client {
namespace {

const char* kind_word(proto::RingChangeKind kind) {
  switch (kind) {
    case proto::RingChangeKind::kJoin:
      return "join";
    case proto::RingChangeKind::kLeave:
      return "leave";
    case proto::RingChangeKind::kReplace:
      return "replace";
    case proto::RingChangeKind::kRebalance:
      return "rebalance";
    case proto::RingChangeKind::kRemove:
      return "remove";
  }
  return "?";
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string plan_id_text(uint64_t plan_id) {
  return fmt::format("{:#018x}", plan_id);
}

Result<uint64_t> parse_plan_id(std::string_view text) {
  auto bad = [&](const char* why) {
    return Status::invalid_argument(fmt::format(
        "--plan-id '{}': {}; give the id `qkvctl ring plan` printed (0x and hex digits)", text,
        why));
  };
  bool hex = text.starts_with("0x") || text.starts_with("0X");
  std::string_view digits = hex ? text.substr(2) : text;
  if (digits.empty()) return bad("no digits");
  uint64_t base = hex ? 16 : 10;
  uint64_t value = 0;
  for (char c : digits) {
    int d = hex ? hex_digit(c) : (c >= '0' && c <= '9' ? c - '0' : -1);
    if (d < 0) return bad(hex ? "not a hex digit" : "not a number (hex ids start with 0x)");
    if (value > (UINT64_MAX - static_cast<uint64_t>(d)) / base) return bad("over 64 bits");
    value = value * base + static_cast<uint64_t>(d);
  }
  return value;
}

std::string describe_change(proto::RingChangeKind kind, const std::string& node,
                            const std::string& replacement) {
  switch (kind) {
    case proto::RingChangeKind::kReplace:
      return fmt::format("replace {} with {}", node, replacement);
    case proto::RingChangeKind::kRebalance:
      return "rebalance";
    default:
      return fmt::format("{} {}", kind_word(kind), node);
  }
}

std::string staged_change(const proto::RingAdminRequest& request,
                          const std::vector<std::string>& staged) {
  std::string own = describe_change(request.kind, request.node, request.replacement);
  if (std::find(staged.begin(), staged.end(), own) != staged.end()) return own;
  std::string prefix = fmt::format("{} ", kind_word(request.kind));
  for (auto it = staged.rbegin(); it != staged.rend(); ++it) {
    if (it->starts_with(prefix)) return *it;
  }
  return own;
}

std::string staged_list_text(const std::vector<std::string>& staged) {
  if (staged.empty()) return "staged changes: none\n";
  std::string out = fmt::format("staged changes ({}):\n", staged.size());
  for (const auto& change : staged) out += fmt::format("  {}\n", change);
  return out;
}

std::string stage_text(const proto::RingAdminRequest& request,
                       const proto::RingAdminResponse& response) {
  return fmt::format("staged: {} (claimant {}); run `qkvctl ring plan`\n{}",
                     staged_change(request, response.staged), response.claimant,
                     staged_list_text(response.staged));
}

std::string transfers_table(const std::vector<proto::RingTransfer>& transfers, std::size_t limit) {
  std::string out = fmt::format("{:>9}  {}\n", "partition", "from -> to");
  std::size_t shown = limit == 0 ? transfers.size() : std::min(limit, transfers.size());
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& t = transfers[i];
    out += fmt::format("{:>9}  {} -> {}\n", t.partition, t.from.empty() ? "-" : t.from, t.to);
  }
  if (shown < transfers.size()) {
    out += fmt::format("... {} more (--all lists every one)\n", transfers.size() - shown);
  }
  return out;
}

std::string ownership_table(const std::vector<proto::Ownership>& ownership) {
  std::string out = fmt::format("{:<16} {:>7} {:>7} {:>7}\n", "node", "before", "after", "change");
  for (const auto& o : ownership) {
    int64_t change = int64_t{o.after} - int64_t{o.before};
    out += fmt::format("{:<16} {:>7} {:>7} {:>7}\n", o.node, o.before, o.after,
                       change > 0 ? fmt::format("+{}", change) : fmt::format("{}", change));
  }
  return out;
}

std::string plan_summary_line(const proto::RingAdminResponse& plan) {
  return fmt::format(
      "{} transfer{}, {} partition{} change owner, balance max/mean {:.2f}, ~{} keys / {} to "
      "move (estimate), plan id {}",
      plan.transfers.size(), plan.transfers.size() == 1 ? "" : "s", plan.moved,
      plan.moved == 1 ? "" : "s", plan.balance, count_text(plan.estimated_keys),
      byte_size_text(plan.estimated_bytes), plan_id_text(plan.plan_id));
}

std::string violations_line(const proto::RingAdminResponse& plan) {
  std::vector<std::string> parts;
  if (plan.spacing_violations > 0) {
    parts.push_back(
        fmt::format("{} spacing (partitions whose next n owners are not distinct nodes)",
                    plan.spacing_violations));
  }
  if (plan.zone_violations > 0) {
    parts.push_back(
        fmt::format("{} zone (partitions whose primaries span fewer zones than they "
                    "could)",
                    plan.zone_violations));
  }
  if (parts.empty()) return "";
  return fmt::format("violations: {}", fmt::join(parts, ", "));
}

std::string commit_command(const std::vector<std::string>& cluster, uint64_t plan_id) {
  return fmt::format("qkvctl --cluster {} ring commit --plan-id {}", fmt::join(cluster, ","),
                     plan_id_text(plan_id));
}

std::string plan_text(const proto::RingAdminResponse& plan, const std::vector<std::string>& cluster,
                      bool all) {
  std::string out =
      fmt::format("claimant {}, plan from ring version {}\n", plan.claimant, plan.from_version);
  out += staged_list_text(plan.staged);
  out += "\n";
  if (plan.transfers.empty()) {
    out += "no key ranges to transfer\n";
  } else {
    out += transfers_table(plan.transfers, all ? 0 : kPlanTransfersShown);
  }
  out += fmt::format("\n{}\n{}\n", ownership_table(plan.ownership), plan_summary_line(plan));
  std::string violations = violations_line(plan);
  if (!violations.empty()) out += fmt::format("{}\n", violations);
  out += fmt::format("to commit it: {}\n", commit_command(cluster, plan.plan_id));
  return out;
}

std::string commit_text(const proto::RingAdminResponse& committed) {
  return fmt::format(
      "committed plan {} as ring version {}; transfers start once every node has the new ring: "
      "watch with `qkvctl ring status`",
      plan_id_text(committed.plan_id), committed.ring_version);
}

std::string cancel_text(const proto::RingAdminResponse& cancelled) {
  if (cancelled.ring_version == 0) return "cancelled the staged changes";
  return fmt::format("cancelled the transition; ring version {} keeps the old owners",
                     cancelled.ring_version);
}

nlohmann::json ring_admin_json(const proto::RingAdminResponse& r) {
  nlohmann::json transfers = nlohmann::json::array();
  for (const auto& t : r.transfers) {
    transfers.push_back({{"partition", t.partition}, {"from", t.from}, {"to", t.to}});
  }
  nlohmann::json ownership = nlohmann::json::array();
  for (const auto& o : r.ownership) {
    ownership.push_back({{"node", o.node}, {"before", o.before}, {"after", o.after}});
  }
  return {{"claimant", r.claimant},
          {"claimant_address", r.claimant_address},
          {"staged", r.staged},
          {"plan_id", plan_id_text(r.plan_id)},
          {"from_version", r.from_version},
          {"transfers", std::move(transfers)},
          {"ownership", std::move(ownership)},
          {"moved", r.moved},
          {"balance", r.balance},
          {"spacing_violations", r.spacing_violations},
          {"zone_violations", r.zone_violations},
          {"ring_version", r.ring_version},
          {"estimated_keys", r.estimated_keys},
          {"estimated_bytes", r.estimated_bytes}};
}

// ---- ring status ----

std::vector<proto::MemberInfo> merge_member_views(
    const std::vector<proto::MembersResponse>& views) {
  std::map<std::string, proto::MemberInfo> merged;  // ordered: sorted output
  for (const auto& view : views) {
    for (const auto& m : view.members) {
      auto [it, inserted] = merged.try_emplace(m.id, m);
      if (inserted) continue;
      proto::MemberInfo& kept = it->second;
      kept.ring_version = std::max(kept.ring_version, m.ring_version);
      kept.transfers_done = std::max(kept.transfers_done, m.transfers_done);
      kept.up = kept.up || m.up;
    }
  }
  std::vector<proto::MemberInfo> out;
  out.reserve(merged.size());
  for (auto& [id, m] : merged) out.push_back(std::move(m));
  return out;
}

std::size_t NodeTransfers::ranges_done() const {
  return static_cast<std::size_t>(std::count_if(
      transfers.begin(), transfers.end(), [](const proto::TransferProgress& t) { return t.done; }));
}

bool NodeTransfers::finished(uint64_t version) const {
  return (version != 0 && transfers_done >= version) ||
         (!transfers.empty() && ranges_done() == transfers.size());
}

std::string progress_bar(uint64_t done, uint64_t total, std::size_t width) {
  std::size_t filled = width;
  if (total > 0 && done < total) {
    filled = static_cast<std::size_t>(static_cast<double>(done) / static_cast<double>(total) *
                                      static_cast<double>(width));
    filled = std::min(filled, width - std::min<std::size_t>(width, 1));  // full only when done
  }
  std::string bar;
  bar.reserve(width + 2);
  bar.push_back('[');
  bar.append(filled, '#');
  bar.append(width - filled, '.');
  bar.push_back(']');
  return bar;
}

std::string eta_text(int64_t elapsed_ms, uint64_t done, uint64_t total) {
  if (done >= total) return "0s";
  if (done == 0 || elapsed_ms <= 0) return "--";
  double left_ms = static_cast<double>(elapsed_ms) * static_cast<double>(total - done) /
                   static_cast<double>(done);
  return age_text(static_cast<int64_t>(left_ms));
}

std::string rate_text(uint64_t bytes, int64_t elapsed_ms) {
  if (elapsed_ms <= 0) return "--";
  double per_second = static_cast<double>(bytes) * 1000.0 / static_cast<double>(elapsed_ms);
  return fmt::format("{}/s", byte_size_text(static_cast<uint64_t>(per_second)));
}

std::string transfer_progress_line(const NodeTransfers& node, int64_t now_unix_ms) {
  uint64_t keys = 0, bytes = 0;
  for (const auto& t : node.transfers) {
    keys += t.keys;
    bytes += t.bytes;
  }
  std::size_t done = node.ranges_done(), total = node.transfers.size();
  // Unknown start (0) or a start ahead of this host's clock: no pace to show.
  int64_t elapsed_ms = node.transfer_started_unix_ms == 0
                           ? 0
                           : now_unix_ms - static_cast<int64_t>(node.transfer_started_unix_ms);
  return fmt::format("{}  {} {}/{} ranges  {} keys  {}  {}  ETA {}",
                     node.node_id.empty() ? node.address : node.node_id, progress_bar(done, total),
                     done, total, count_text(keys), byte_size_text(bytes),
                     rate_text(bytes, elapsed_ms), eta_text(elapsed_ms, done, total));
}

std::optional<TransitionSummary> transition_summary(const std::vector<NodeTransfers>& nodes) {
  TransitionSummary summary;
  for (const auto& n : nodes) {
    if (n.transfers.empty()) continue;
    ++summary.receivers;
    summary.ring_version = std::max(summary.ring_version, n.ring_version);
  }
  if (summary.receivers == 0) return std::nullopt;
  for (const auto& n : nodes) {
    if (!n.transfers.empty() && n.finished(summary.ring_version)) ++summary.receivers_done;
  }
  return summary;
}

std::string transition_line(const std::optional<TransitionSummary>& summary) {
  if (!summary) return "no transition in progress";
  return fmt::format("transition to ring version {}: {} of {} receivers done",
                     summary->ring_version, summary->receivers_done, summary->receivers);
}

std::string ring_members_table(const std::vector<proto::MemberInfo>& members) {
  std::string out = fmt::format("{:<16} {:<8} {:<5} {:>12} {:>10}\n", "id", "status", "state",
                                "ring version", "partitions");
  for (const auto& m : members) {
    out += fmt::format("{:<16} {:<8} {:<5} {:>12} {:>10}\n", m.id, m.status, m.up ? "up" : "down",
                       m.ring_version, m.partitions);
  }
  return out;
}

nlohmann::json transition_json(const std::optional<TransitionSummary>& summary) {
  if (!summary) return nullptr;
  return {{"ring_version", summary->ring_version},
          {"receivers", summary->receivers},
          {"receivers_done", summary->receivers_done}};
}

nlohmann::json node_transfers_json(const NodeTransfers& node) {
  nlohmann::json transfers = proto::transfers_json(node.transfers);
  return {{"node_id", node.node_id},
          {"address", node.address},
          {"ring_version", node.ring_version},
          {"transfers_done", node.transfers_done},
          {"transfer_started_unix_ms", node.transfer_started_unix_ms},
          {"transfers", std::move(transfers)}};
}

nlohmann::json ring_members_json(const std::vector<proto::MemberInfo>& members) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : members) {
    list.push_back({{"id", m.id},
                    {"status", m.status},
                    {"up", m.up},
                    {"ring_version", m.ring_version},
                    {"transfers_done", m.transfers_done},
                    {"partitions", m.partitions},
                    {"client_address", m.client_address}});
  }
  return list;
}

}  // namespace qkv::client
