#include "node/auto_join.h"

#include <fmt/format.h>

#include <algorithm>

namespace qkv::node {

Status AutoJoinConfig::validate() const {
  if (quiet.count() <= 0) {
    return Status::invalid_argument(
        fmt::format("cluster.auto_join_quiet_ms is {}; it must be > 0", quiet.count()));
  }
  if (retry.count() <= 0) return Status::invalid_argument("the auto-join retry must be > 0");
  return Status::ok();
}

std::optional<JoinRequest> AutoJoin::due(TimePoint now, const NodeId& self,
                                         const gossip::RingState& ring, bool eligible) {
  auto in = [&](const std::vector<NodeId>& table) {
    return std::find(table.begin(), table.end(), self) != table.end();
  };
  if (!config_.enabled || !eligible || ring.version == 0 || ring.claimant.empty() ||
      ring.claimant == self || in(ring.owners) || in(ring.next_owners)) {
    return std::nullopt;
  }
  // One request at a time; an answer later than `retry` is given up on (the claimant may
  // be down, or the message lost).
  if (asked_once_ && now - last_request_ < config_.retry) return std::nullopt;
  awaited_ = kIdBit | next_id_++;
  asked_ = ring.claimant;
  last_request_ = now;
  asked_once_ = true;
  proto::RingAdminRequest stage;
  stage.action = proto::RingAction::kStage;
  stage.kind = proto::RingChangeKind::kJoin;
  stage.node = self;
  return JoinRequest{ring.claimant, awaited_, proto::ClientRequest{awaited_, 0, std::move(stage)}};
}

std::vector<LogEvent> AutoJoin::on_reply(uint64_t request_id,
                                         const proto::ClientResponse& response) {
  std::vector<LogEvent> out;
  if (request_id != awaited_ || awaited_ == 0) return out;
  awaited_ = 0;
  if (!response.status.is_ok()) {
    staged_at_.clear();
    if (response.status.message() != last_error_) {
      last_error_ = response.status.message();
      out.push_back(LogEvent::warn("auto_join_refused")
                        .with("claimant", asked_)
                        .with("error", response.status));
    }
    return out;
  }
  last_error_.clear();
  if (staged_at_ != asked_) {
    staged_at_ = asked_;
    out.push_back(LogEvent::info("auto_join_requested").with("claimant", asked_));
  }
  return out;
}

}  // namespace qkv::node
