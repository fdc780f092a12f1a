#include "proto/ring_admin_codec.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "proto/bytes.h"

namespace qkv::proto {

void fill(wire::RingAdminRequest::Builder b, const RingAdminRequest& request) {
  b.setAction(static_cast<wire::RingAction>(request.action));
  b.setKind(static_cast<wire::RingChangeKind>(request.kind));
  if (!request.node.empty()) b.setNode(request.node);
  if (!request.replacement.empty()) b.setReplacement(request.replacement);
  b.setPlanId(request.plan_id);
  b.setForce(request.force);
}

Result<RingAdminRequest> read(wire::RingAdminRequest::Reader r) {
  auto action = static_cast<uint16_t>(r.getAction());
  auto kind = static_cast<uint16_t>(r.getKind());
  if (action > static_cast<uint16_t>(RingAction::kCancel)) {
    return Status::invalid_argument(fmt::format("unknown ring admin action {}", action));
  }
  if (kind > static_cast<uint16_t>(RingChangeKind::kRemove)) {
    return Status::invalid_argument(fmt::format("unknown ring change kind {}", kind));
  }
  RingAdminRequest out;
  out.action = static_cast<RingAction>(action);
  out.kind = static_cast<RingChangeKind>(kind);
  out.node = std::string(to_view(r.getNode()));
  out.replacement = std::string(to_view(r.getReplacement()));
  out.plan_id = r.getPlanId();
  out.force = r.getForce();
  return out;
}

void fill(wire::RingAdminResponse::Builder b, const RingAdminResponse& response) {
  b.setClaimant(response.claimant);
  b.setClaimantAddress(response.claimant_address);
  auto staged = b.initStaged(response.staged.size());
  for (std::size_t i = 0; i < response.staged.size(); ++i) staged.set(i, response.staged[i]);
  b.setPlanId(response.plan_id);
  b.setFromVersion(response.from_version);
  auto transfers = b.initTransfers(response.transfers.size());
  for (std::size_t i = 0; i < response.transfers.size(); ++i) {
    transfers[i].setPartition(response.transfers[i].partition);
    transfers[i].setFrom(response.transfers[i].from);
    transfers[i].setTo(response.transfers[i].to);
  }
  auto ownership = b.initOwnership(response.ownership.size());
  for (std::size_t i = 0; i < response.ownership.size(); ++i) {
    ownership[i].setNode(response.ownership[i].node);
    ownership[i].setBefore(response.ownership[i].before);
    ownership[i].setAfter(response.ownership[i].after);
  }
  b.setMoved(response.moved);
  b.setBalance(response.balance);
  b.setSpacingViolations(response.spacing_violations);
  b.setZoneViolations(response.zone_violations);
  b.setRingVersion(response.ring_version);
  b.setEstimatedKeys(response.estimated_keys);
  b.setEstimatedBytes(response.estimated_bytes);
}

Result<RingAdminResponse> read(wire::RingAdminResponse::Reader r) {
  RingAdminResponse out;
  out.claimant = std::string(to_view(r.getClaimant()));
  out.claimant_address = std::string(to_view(r.getClaimantAddress()));
  out.staged.reserve(r.getStaged().size());
  for (auto s : r.getStaged()) out.staged.emplace_back(to_view(s));
  out.plan_id = r.getPlanId();
  out.from_version = r.getFromVersion();
  out.transfers.reserve(r.getTransfers().size());
  for (auto t : r.getTransfers()) {
    out.transfers.push_back(RingTransfer{t.getPartition(), std::string(to_view(t.getFrom())),
                                         std::string(to_view(t.getTo()))});
  }
  out.ownership.reserve(r.getOwnership().size());
  for (auto o : r.getOwnership()) {
    out.ownership.push_back(
        Ownership{std::string(to_view(o.getNode())), o.getBefore(), o.getAfter()});
  }
  out.moved = r.getMoved();
  out.balance = r.getBalance();
  out.spacing_violations = r.getSpacingViolations();
  out.zone_violations = r.getZoneViolations();
  out.ring_version = r.getRingVersion();
  out.estimated_keys = r.getEstimatedKeys();
  out.estimated_bytes = r.getEstimatedBytes();
  // Readers print and divide by it.
  if (!std::isfinite(out.balance) || out.balance < 0) {
    return Status::corruption(
        fmt::format("ring plan with balance {}: it must be a finite number >= 0", out.balance));
  }
  return out;
}

void fill_transfers(capnp::List<wire::TransferProgress>::Builder b,
                    const std::vector<TransferProgress>& transfers) {
  for (std::size_t i = 0; i < transfers.size(); ++i) {
    const TransferProgress& t = transfers[i];
    auto e = b[i];
    e.setPartition(t.partition);
    e.setSource(t.source);
    e.setKeys(t.keys);
    e.setBytes(t.bytes);
    e.setDone(t.done);
    e.setActive(t.active);
  }
}

std::vector<TransferProgress> read_transfers(capnp::List<wire::TransferProgress>::Reader r) {
  std::vector<TransferProgress> out;
  out.reserve(r.size());
  for (auto t : r) {
    out.push_back(TransferProgress{t.getPartition(), std::string(to_view(t.getSource())),
                                   t.getKeys(), t.getBytes(), t.getDone(), t.getActive()});
  }
  return out;
}

}  // namespace qkv::proto
