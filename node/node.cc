#include "node/node.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/mutation.h"
#include "node/entry_version.h"
#include "node/storage/storage.h"
#include "node/wire/replica_codec.h"

namespace qkv::node {
namespace {

// The share of its remaining deadline a forward gives to one primary before trying the
// next: the first primary gets half, so a dead one still leaves time for another.
Duration forward_attempt_budget(Duration remaining, std::size_t attempts_left) {
  if (attempts_left <= 1) return remaining;
  return std::max(Duration(1), remaining / 2);
}

}  // namespace

std::vector<std::pair<std::string, uint64_t>> NodeCounters::to_list() const {
  return {{"client_requests", client_requests},
          {"invalid_requests", invalid_requests},
          {"forwarded", forwarded},
          {"forward_failovers", forward_failovers},
          {"forward_duplicates", forward_duplicates},
          {"coordinated_gets", coordinated_gets},
          {"coordinated_puts", coordinated_puts},
          {"replica_reads", replica_reads},
          {"replica_writes", replica_writes},
          {"read_repairs", read_repairs},
          {"hinted_writes", hinted_writes},
          {"coordinator_hints", coordinator_hints},
          {"unavailable", unavailable},
          {"storage_errors", storage_errors},
          {"storage_commits", storage_commits},
          {"storage_writes", storage_writes},
          {"ranges_dropped", ranges_dropped}};
}

Node::Node(NodeConfig config, std::shared_ptr<const ring::Ring> ring, storage::Storage& storage,
           Transport& transport, causal::Actor actor, TimePoint started,
           handoff::HintedHandoff* handoff, std::function<int64_t()> unix_ms)
    : config_(std::move(config)),
      ring_(std::move(ring)),
      storage_(storage),
      transport_(transport),
      actor_(std::move(actor)),
      started_(started),
      // High bits from the incarnation and the generation: a restarted node does not reuse
      // request ids, so its new forwards are never mistaken for duplicates of its old ones.
      next_id_((((actor_.incarnation ^ (config_.generation << 17)) * 0x9E3779B97F4A7C15ull) &
                ~0xFFFFFFFFull) |
               1),
      handoff_(handoff),
      unix_ms_(std::move(unix_ms)),
      now_(started),
      aae_(
          config_.anti_entropy, config_.node_id, config_.n, storage_, transport_,
          [this](ring::Token token, const std::string& key) { return load(token, key); },
          [this](ring::Token token, const std::string& key, const causal::SiblingSet& state) {
            return merge_locally(token, key, state);
          },
          [this] { return next_id_++; }, actor_.incarnation),
      transfer_(
          config_.transfer, config_.node_id, config_.n, storage_, transport_,
          [this](ring::Token token, const std::string& key, const causal::SiblingSet& state) {
            return merge_locally(token, key, state);
          },
          [this](uint32_t partition) { return !aae_.enabled() || aae_.tree(partition) != nullptr; },
          [this] { return next_id_++; }) {
  QKV_ASSERT(config_.validate().is_ok());
  set_ring(ring_);
}

void Node::set_ring(std::shared_ptr<const ring::Ring> ring, std::shared_ptr<const ring::Ring> next,
                    uint64_t version) {
  ring_ = std::move(ring);
  next = ring_ ? std::move(next) : nullptr;
  if (next && (!next_ring_ || *next != *next_ring_)) transition_started_unix_ms_ = unix_ms();
  next_ring_ = std::move(next);
  ring_version_ = version;
  aae_.set_ring(ring_, now_, next_ring_);
  transfer_.set_ring(ring_, next_ring_, version);
  transfer_.set_cleared(next_ring_ && ring_applied_ >= version);
  if (!ring_) return;
  auto is_primary_in = [&](const ring::Ring& r, uint32_t p) {
    return r.preference_list(r.first_token(p), config_.n).is_primary(config_.node_id);
  };
  std::set<uint32_t> replicated;
  for (uint32_t p = 0; p < ring_->partition_count(); ++p) {
    if (is_primary_in(*ring_, p) || (next_ring_ && is_primary_in(*next_ring_, p))) {
      replicated.insert(p);
    }
  }
  if (!held_scanned_) {
    // Ranges an earlier run held and did not get to delete (it stopped first): a seek each.
    held_scanned_ = true;
    for (uint32_t p = 0; p < ring_->partition_count(); ++p) {
      if (replicated.count(p)) continue;
      bool any = false;
      (void)storage_.scan(ring_->first_token(p), ring_->last_token(p),
                          [&](ring::Token, std::string_view, std::string_view) {
                            any = true;
                            return false;
                          });
      if (any) held_.insert(p);
    }
  }
  for (uint32_t p : held_) {
    if (!replicated.count(p)) drop_at_.try_emplace(p, version);
  }
  for (uint32_t p : replicated) {
    drop_at_.erase(p);
    held_.insert(p);
  }
  drop_ranges();
}

void Node::set_ring_applied(uint64_t version, TimePoint now) {
  now_ = now;
  ring_applied_ = version;
  transfer_.set_cleared(next_ring_ && version >= ring_version_);
  drop_ranges();
  end_event();
}

void Node::drop_ranges() {
  if (!ring_ || !std::any_of(drop_at_.begin(), drop_at_.end(),
                             [&](const auto& e) { return e.second <= ring_applied_; })) {
    return;
  }
  // Staged writes of a dropped range must not land after its delete.
  commit_writes();
  for (auto it = drop_at_.begin(); it != drop_at_.end();) {
    const uint32_t p = it->first;
    if (it->second > ring_applied_ ||
        !storage_.delete_range(ring_->first_token(p), ring_->last_token(p)).is_ok()) {
      ++it;  // a failed delete is tried again at the next ring news
      continue;
    }
    ++counters_.ranges_dropped;
    held_.erase(p);
    it = drop_at_.erase(it);
  }
}

std::vector<NodeId> Node::receivers_of(ring::Token token) const {
  if (!next_ring_) return {};
  std::vector<NodeId> now = ring_->preference_list(token, config_.n).primaries;
  std::vector<NodeId> out;
  for (NodeId& p : next_ring_->preference_list(token, config_.n).primaries) {
    if (std::find(now.begin(), now.end(), p) == now.end()) out.push_back(std::move(p));
  }
  return out;
}

bool Node::takes_writes_for(ring::Token token, bool primary) const {
  if (primary) return true;
  if (next_ring_ && next_ring_->preference_list(token, config_.n).is_primary(config_.node_id)) {
    return true;
  }
  return held_.count(ring_->partition_of(token)) > 0;
}

void Node::set_liveness(std::function<bool(const NodeId&)> is_up) {
  is_up_ = is_up;
  transfer_.set_liveness(is_up);
  aae_.set_liveness(std::move(is_up));
}

void Node::on_client_request(ClientId client, proto::ClientRequest request, TimePoint now) {
  now_ = now;
  ++counters_.client_requests;
  ReplyTo to{client, {}, 0, request.request_id};
  handle_request(std::move(to), std::move(request), /*forwarded=*/false, now);
  end_event();
}

Status Node::validate(const proto::ClientRequest& request) const {
  const Limits& limits = config_.limits;
  auto check_write = [&](const std::string& key, const std::string& context, uint8_t w) -> Status {
    QKV_RETURN_IF_ERROR(limits.check_key(key.size()));
    QKV_RETURN_IF_ERROR(limits.check_context(context.size()));
    QKV_RETURN_IF_ERROR(decode_context(context).status());
    return coordinator::resolve_quorum("w", w, config_.w, config_.n).status();
  };
  if (const auto* get = std::get_if<proto::GetRequest>(&request.op)) {
    QKV_RETURN_IF_ERROR(limits.check_key(get->key.size()));
    return coordinator::resolve_quorum("r", get->r, config_.r, config_.n).status();
  }
  if (const auto* put = std::get_if<proto::PutRequest>(&request.op)) {
    QKV_RETURN_IF_ERROR(limits.check_value(put->value.size()));
    return check_write(put->key, put->context, put->w);
  }
  if (const auto* del = std::get_if<proto::DeleteRequest>(&request.op)) {
    return check_write(del->key, del->context, del->w);
  }
  return Status::ok();
}

void Node::handle_request(ReplyTo reply_to, proto::ClientRequest request, bool forwarded,
                          TimePoint now) {
  if (std::holds_alternative<proto::RingRequest>(request.op)) {
    auto response = ring_response();
    response.request_id = reply_to.client_request_id;
    return reply(reply_to, std::move(response));
  }
  if (std::holds_alternative<proto::StatusRequest>(request.op)) {
    auto response = status_response(now);
    response.request_id = reply_to.client_request_id;
    return reply(reply_to, std::move(response));
  }
  if (const auto* repair = std::get_if<proto::RepairRequest>(&request.op)) {
    if (repair->partition && ring_ && *repair->partition >= ring_->partition_count()) {
      return reply_status(
          reply_to, Status::invalid_argument(fmt::format(
                        "partition {} does not exist: the ring has {} (0..{})", *repair->partition,
                        ring_->partition_count(), ring_->partition_count() - 1)));
    }
    if (!aae_.enabled()) {
      return reply_status(reply_to, Status::unavailable(fmt::format(
                                        "anti-entropy is off on {} (anti_entropy.enabled = false)",
                                        config_.node_id)));
    }
    proto::ClientResponse response;
    response.request_id = reply_to.client_request_id;
    response.body = proto::RepairResponse{aae_.start_repair(repair->partition)};
    return reply(reply_to, std::move(response));
  }
  if (Status s = validate(request); !s.is_ok()) {
    ++counters_.invalid_requests;
    return reply_status(reply_to, std::move(s));
  }
  if (!std::holds_alternative<proto::GetRequest>(request.op) &&
      !std::holds_alternative<proto::PutRequest>(request.op) &&
      !std::holds_alternative<proto::DeleteRequest>(request.op)) {
    // Members is answered by the driver, which knows the gossip view.
    return reply_status(reply_to, Status::invalid_argument(fmt::format(
                                      "'{}' is not answered here", proto::op_name(request.op))));
  }
  if (!ring_) {
    return reply_status(reply_to, Status::unavailable("this node has not learned the ring yet "
                                                      "(it is joining from its seeds)"));
  }
  if (const auto* get = std::get_if<proto::GetRequest>(&request.op); get && get->local) {
    return reply_local(reply_to, get->key);
  }
  Duration timeout = request.timeout_ms == 0
                         ? config_.request_timeout
                         : std::min(Duration(request.timeout_ms), config_.request_timeout_max);
  TimePoint deadline = now + timeout;

  const std::string& key = std::visit(
      [](const auto& op) -> const std::string& {
        using T = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<T, proto::GetRequest> ||
                      std::is_same_v<T, proto::PutRequest> ||
                      std::is_same_v<T, proto::DeleteRequest>) {
          return op.key;
        } else {
          static const std::string kNone;
          return kNone;
        }
      },
      request.op);
  ring::PreferenceList list = ring_->preference_list(ring::token_of(key), config_.n);
  // A forwarded request is coordinated here even if this node's ring disagreed, so a
  // request is never passed around in a loop.
  if (!list.is_primary(config_.node_id) && !forwarded) {
    // Primaries that are up first, in ring order; down ones are tried last.
    std::stable_partition(list.primaries.begin(), list.primaries.end(),
                          [&](const NodeId& p) { return is_up(p); });
    return start_forward(std::move(reply_to), std::move(request), std::move(list.primaries),
                         deadline, now);
  }
  if (const auto* get = std::get_if<proto::GetRequest>(&request.op)) {
    return coordinate_get(std::move(reply_to), *get, deadline);
  }
  if (!takes_writes_for(ring::token_of(key), list.is_primary(config_.node_id))) {
    // Forwarded by a node whose ring disagrees with ours, and we do not hold the key's range
    // (we dropped it, or never had it): coordinating from an empty state would reissue a
    // dot this node already used for the key. The client retries once the rings agree.
    return reply_status(reply_to,
                        Status::unavailable(fmt::format(
                            "{} is not a replica of the key in ring version {}: the forwarding "
                            "node's ring differs (a ring change is spreading); retry",
                            config_.node_id, ring_version_)));
  }
  coordinate_put(std::move(reply_to), request, now, deadline);
}

void Node::coordinate_put(ReplyTo reply_to, const proto::ClientRequest& request, TimePoint now,
                          TimePoint deadline) {
  ++counters_.coordinated_puts;
  const std::string* key;
  const std::string* context;
  std::optional<std::string> value;  // nullopt: a delete writes a tombstone
  uint8_t w_requested;
  bool primaries_only;
  if (const auto* put = std::get_if<proto::PutRequest>(&request.op)) {
    key = &put->key, context = &put->context, value = put->value, w_requested = put->w;
    primaries_only = put->primaries_only;
  } else {
    const auto& del = std::get<proto::DeleteRequest>(request.op);
    key = &del.key, context = &del.context, w_requested = del.w;
    primaries_only = del.primaries_only;
  }
  ring::Token token = ring::token_of(*key);
  ring::PreferenceList list = ring_->preference_list(token, config_.n);
  uint32_t w = coordinator::resolve_quorum("w", w_requested, config_.w, config_.n).value();
  if (rejected_for_too_few_replicas(reply_to, "write", "W", w, list.primaries.size())) return;
  auto local = load(token, *key);
  if (!local) return reply_status(reply_to, local.status());
  causal::SiblingSet current = local.value().value_or(causal::SiblingSet());
  causal::SiblingSet updated =
      current.update(decode_context(*context).value(), actor_, std::move(value));
  store(token, *key, local.value(), updated);

  // In a ring transition the key's receivers are replicas of the write too, and each one
  // raises the quorum by one (Cassandra's pending ranges): W + p acks among the old
  // primaries and the p receivers leave at least W in either table, so a read of R from
  // the old or the new primaries (R + W > N) still sees the write after the switch.
  std::vector<NodeId> replicas = list.primaries;
  if (!QKV_MUTATION(kWritesSkipReceivers)) {
    for (NodeId& receiver : receivers_of(token)) replicas.push_back(std::move(receiver));
  }
  const auto quorum = static_cast<uint32_t>(w + replicas.size() - list.primaries.size());
  PutOp op{coordinator::PutRound(replicas, quorum),
           *key,
           std::move(updated),
           !primaries_only,
           replicas,
           {},
           {},
           std::min(deadline, now + config_.request_timeout / 2)};
  // Fallbacks that are up first, in ring order; the others after them: when no up one is
  // left, a node believed down (perhaps wrongly, under load) is still worth a try.
  // A receiver is a replica already, never a stand-in.
  op.fallbacks_left = list.fallbacks;
  std::erase_if(op.fallbacks_left, [&](const NodeId& f) {
    return std::find(replicas.begin(), replicas.end(), f) != replicas.end();
  });
  std::stable_partition(op.fallbacks_left.begin(), op.fallbacks_left.end(),
                        [&](const NodeId& f) { return is_up(f); });
  // Sent on (and tracked) once this node's copy is committed.
  staged_puts_.push_back(StagedPut{std::move(reply_to), deadline, std::move(op)});
}

void Node::send_put_round(StagedPut staged) {
  uint64_t id = next_id_++;
  TimePoint first_alarm = staged.op.sloppy ? staged.op.sloppy_at : staged.deadline;
  track(id,
        Pending{std::move(staged.reply_to), staged.deadline, first_alarm, std::move(staged.op)});
  PutOp& put = std::get<PutOp>(pending_.at(id).op);
  for (const NodeId& replica : put.primaries) {
    if (replica == config_.node_id) put.round.on_reply(replica, Status::ok());
  }
  std::vector<NodeId> replicas = put.primaries;
  for (const NodeId& replica : replicas) {
    if (replica == config_.node_id) continue;
    Status sent =
        !is_up(replica)
            ? Status::unavailable(replica + " is down")
            : transport_.send(replica,
                              PeerMessage{config_.node_id, id,
                                          ReplicaWrite{std::get<PutOp>(pending_.at(id).op).key,
                                                       std::get<PutOp>(pending_.at(id).op).state,
                                                       {}}});
    if (!sent.is_ok()) on_put_reply_only(id, replica, sent);
  }
  if (pending_.count(id)) progress_put(id);
}

void Node::on_put_reply_only(uint64_t id, const NodeId& from, const Status& status) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  PutOp& put = std::get<PutOp>(it->second.op);
  put.round.on_reply(from, status);
  if (!status.is_ok()) {
    auto standing = put.standing_in.find(from);
    if (standing != put.standing_in.end()) {
      stand_in_for(id, put, standing->second);
    } else if (std::find(put.primaries.begin(), put.primaries.end(), from) != put.primaries.end()) {
      if (put.sloppy) {
        stand_in_for(id, put, from);
      } else {
        keep_hint(put, from);
      }
    }
  }
}

void Node::on_put_reply(uint64_t id, const NodeId& from, const Status& status) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  PutOp& put = std::get<PutOp>(it->second.op);
  put.round.on_reply(from, status);
  if (!status.is_ok()) {
    auto standing = put.standing_in.find(from);
    if (standing != put.standing_in.end()) {
      stand_in_for(id, put, standing->second);  // a fallback failed: the next one
    } else if (std::find(put.primaries.begin(), put.primaries.end(), from) != put.primaries.end()) {
      if (put.sloppy) {
        stand_in_for(id, put, from);
      } else {
        keep_hint(put, from);  // no stand-in may count (PW), but the primary gets its copy
      }
    }
  }
  progress_put(id);
}

void Node::stand_in_for(uint64_t id, PutOp& put, const NodeId& primary) {
  while (!put.fallbacks_left.empty()) {
    NodeId fallback = put.fallbacks_left.front();
    put.fallbacks_left.erase(put.fallbacks_left.begin());
    put.round.add_replica(fallback);
    put.standing_in[fallback] = primary;
    ++counters_.hinted_writes;
    Status sent = transport_.send(
        fallback, PeerMessage{config_.node_id, id, ReplicaWrite{put.key, put.state, primary}});
    if (sent.is_ok()) return;
    put.round.on_reply(fallback, sent);
  }
  keep_hint(put, primary);
}

void Node::keep_hint(PutOp& put, const NodeId& primary) {
  // Every primary that misses a write gets it later, however many failed at once: with no
  // fallback left to stand in (a small cluster, or several nodes down), the coordinator
  // keeps the hint itself, as Cassandra's coordinator does for every down replica. It does
  // not count towards W (the coordinator has answered for itself already).
  if (!handoff_ || primary == config_.node_id || !put.hinted_here.insert(primary).second) return;
  Status kept = handoff_->store(primary, ring::token_of(put.key), put.key, put.state,
                                unix_ms_ ? unix_ms_() : 0);
  if (kept.is_ok()) ++counters_.coordinator_hints;  // a failure is counted by the handoff
}

bool Node::rejected_for_too_few_replicas(const ReplyTo& reply_to, const char* kind,
                                         const char* name, uint32_t quorum, std::size_t replicas) {
  // Only when the cluster has fewer members than n: no amount of waiting meets the quorum.
  if (quorum <= replicas) return false;
  reply_status(reply_to, Status::unavailable(fmt::format(
                             "{} quorum not met: the cluster has {} replicas for the key, {}={} "
                             "required",
                             kind, replicas, name, quorum)));
  return true;
}

void Node::reply_local(const ReplyTo& reply_to, const std::string& key) {
  auto local = load(ring::token_of(key), key);
  if (!local) return reply_status(reply_to, local.status());
  causal::SiblingSet state = local.value().value_or(causal::SiblingSet());
  proto::ClientResponse response;
  response.request_id = reply_to.client_request_id;
  proto::GetResponse body{state.values(), encode_context(state.version_vector())};
  if (body.values.empty()) response.status = Status::not_found("key not found on this node");
  response.body = std::move(body);
  reply(reply_to, std::move(response));
}

void Node::coordinate_get(ReplyTo reply_to, const proto::GetRequest& get, TimePoint deadline) {
  ++counters_.coordinated_gets;
  ring::Token token = ring::token_of(get.key);
  std::vector<NodeId> replicas = ring_->preference_list(token, config_.n).primaries;
  uint32_t r = coordinator::resolve_quorum("r", get.r, config_.r, config_.n).value();
  if (rejected_for_too_few_replicas(reply_to, "read", "R", r, replicas.size())) return;
  coordinator::GetRound round(replicas, r);
  if (std::find(replicas.begin(), replicas.end(), config_.node_id) != replicas.end()) {
    auto local = load(token, get.key);
    if (local) {
      round.on_reply(config_.node_id, Status::ok(), std::move(local).value());
    } else {
      round.on_reply(config_.node_id, local.status(), std::nullopt);
    }
  }
  uint64_t id = next_id_++;
  for (const NodeId& replica : replicas) {
    if (replica == config_.node_id) continue;
    if (!is_up(replica)) {
      round.on_reply(replica, Status::unavailable(replica + " is down"), std::nullopt);
      continue;
    }
    Status sent = transport_.send(replica, PeerMessage{config_.node_id, id, ReplicaRead{get.key}});
    if (!sent.is_ok()) round.on_reply(replica, sent, std::nullopt);
  }
  track(id, Pending{std::move(reply_to), deadline, deadline, GetOp{std::move(round), get.key}});
  progress_get(id);
}

void Node::start_forward(ReplyTo reply_to, proto::ClientRequest request,
                         std::vector<NodeId> primaries, TimePoint deadline, TimePoint now) {
  ++counters_.forwarded;
  bool is_write = !std::holds_alternative<proto::GetRequest>(request.op);
  uint64_t id = next_id_++;
  track(id,
        Pending{std::move(reply_to), deadline, deadline,
                ForwardOp{std::move(request), std::move(primaries), 0, deadline, {}, is_write}});
  send_forward_attempt(id, pending_.at(id), now);
}

void Node::send_forward_attempt(uint64_t id, Pending& pending, TimePoint now) {
  auto& fwd = std::get<ForwardOp>(pending.op);
  Duration remaining = std::max(Duration(1), pending.deadline - now);
  // A write gets one timed attempt: after a silence it may have been applied, and
  // coordinating it again elsewhere would write it twice under two dots (a duplicate
  // sibling that can outlive a later write's context). A read may be retried anywhere.
  Duration budget = fwd.is_write
                        ? remaining
                        : forward_attempt_budget(remaining, fwd.primaries.size() - fwd.attempt);
  fwd.attempt_deadline = now + budget;
  // The primary must answer inside this attempt's budget: give it 90% of it.
  proto::ClientRequest request = fwd.request;
  request.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(1, budget.count() * 9 / 10));
  rearm(id, pending, fwd.attempt_deadline);
  Status sent = transport_.send(fwd.primaries[fwd.attempt],
                                PeerMessage{config_.node_id, id, Forward{std::move(request)}});
  // Certainly not sent: safe to try the next primary, even for a write. (Tail call:
  // it may erase `pending`.)
  if (!sent.is_ok()) forward_failed_attempt(id, sent.message(), /*maybe_delivered=*/false, now);
}

void Node::forward_failed_attempt(uint64_t id, std::string why, bool maybe_delivered,
                                  TimePoint now) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto& fwd = std::get<ForwardOp>(it->second.op);
  fwd.failures.push_back(fmt::format("{}: {}", fwd.primaries[fwd.attempt], why));
  ++fwd.attempt;
  bool retry_safe = !(fwd.is_write && maybe_delivered);
  if (retry_safe && fwd.attempt < fwd.primaries.size() && now < it->second.deadline) {
    ++counters_.forward_failovers;
    return send_forward_attempt(id, it->second, now);
  }
  std::string tried;
  for (const auto& f : fwd.failures) tried += (tried.empty() ? "" : "; ") + f;
  ReplyTo to = it->second.reply_to;
  deadlines_.erase({it->second.armed, id});
  pending_.erase(it);
  if (!retry_safe) {
    return reply_status(to, Status::unavailable(fmt::format(
                                "the forwarded write got no answer ({}); it may have been "
                                "applied, so it was not sent to another primary (that could add "
                                "a duplicate sibling): read the key to see its outcome",
                                tried)));
  }
  reply_status(to, Status::unavailable(fmt::format(
                       "no primary of the key answered the forwarded request ({})", tried)));
}

void Node::on_peer_message(PeerMessage message, TimePoint now) {
  now_ = now;
  if (std::holds_alternative<TreeRequest>(message.body) ||
      std::holds_alternative<TreeReply>(message.body) ||
      std::holds_alternative<SegmentRequest>(message.body) ||
      std::holds_alternative<SegmentReply>(message.body) ||
      std::holds_alternative<KeysRequest>(message.body) ||
      std::holds_alternative<KeysReply>(message.body)) {
    aae_.on_message(message, now, unix_ms());
    return end_event();
  }
  if (std::holds_alternative<TransferRequest>(message.body) ||
      std::holds_alternative<TransferReply>(message.body)) {
    transfer_.on_message(message, now);
    return end_event();
  }
  std::visit(
      [&](auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, ReplicaRead>) {
          on_replica_read(message, body);
        } else if constexpr (std::is_same_v<T, ReplicaWrite>) {
          on_replica_write(message, body);
        } else if constexpr (std::is_same_v<T, ReplicaReadReply>) {
          on_round_reply(message.request_id, message.from, body.status, std::move(body.state));
        } else if constexpr (std::is_same_v<T, ReplicaWriteAck>) {
          on_round_reply(message.request_id, message.from, body.status, std::nullopt);
        } else if constexpr (std::is_same_v<T, Forward>) {
          if (!first_time_forward(message.from, message.request_id, now)) {
            ++counters_.forward_duplicates;
            return;
          }
          ReplyTo to{std::nullopt, message.from, message.request_id, body.request.request_id};
          handle_request(std::move(to), std::move(body.request), /*forwarded=*/true, now);
        } else if constexpr (std::is_same_v<T, ForwardReply>) {
          on_forward_reply(message.request_id, std::move(body.response));
        }  // Gossip goes to the gossip core (node/server.cc), never here.
      },
      message.body);
  end_event();
}

bool Node::first_time_forward(const NodeId& from, uint64_t request_id, TimePoint now) {
  while (!forwards_seen_expiry_.empty() && (forwards_seen_expiry_.begin()->first <= now ||
                                            forwards_seen_.size() > kForwardsSeenMax)) {
    forwards_seen_.erase(forwards_seen_expiry_.begin()->second);
    forwards_seen_expiry_.erase(forwards_seen_expiry_.begin());
  }
  auto key = std::make_pair(from, request_id);
  TimePoint expiry = now + config_.request_timeout_max;
  if (!forwards_seen_.emplace(key, expiry).second) return false;
  forwards_seen_expiry_.insert({expiry, key});
  return true;
}

void Node::on_replica_read(const PeerMessage& message, const ReplicaRead& read) {
  ++counters_.replica_reads;
  ReplicaReadReply reply;
  auto local = load(ring::token_of(read.key), read.key);
  if (local) {
    reply.state = std::move(local).value();
  } else {
    reply.status = local.status();
  }
  (void)transport_.send(message.from,
                        PeerMessage{config_.node_id, message.request_id, std::move(reply)});
}

void Node::on_replica_write(const PeerMessage& message, const ReplicaWrite& write) {
  ++counters_.replica_writes;
  ring::Token token = ring::token_of(write.key);
  auto send_ack = [&](Status status) {
    (void)transport_.send(message.from, PeerMessage{config_.node_id, message.request_id,
                                                    ReplicaWriteAck{std::move(status)}});
  };
  if (!ring_) return send_ack(Status::unavailable("this node has not learned the ring yet"));
  bool primary = ring_->preference_list(token, config_.n).is_primary(config_.node_id);
  if (!primary && !write.hint_for.empty()) {
    // A fallback for a down or silent primary (sloppy quorum, Dynamo 4.6): keep a hint.
    if (!handoff_) return send_ack(Status::unavailable("this node keeps no hints"));
    return send_ack(
        handoff_->store(write.hint_for, token, write.key, write.state, unix_ms_ ? unix_ms_() : 0));
  }
  if (!takes_writes_for(token, primary)) {
    return send_ack(
        Status::invalid_argument(fmt::format("{} is not a replica of the key (partition {})",
                                             config_.node_id, ring_->partition_of(token))));
  }
  if (Status s = merge_locally(token, write.key, write.state); !s.is_ok()) return send_ack(s);
  // Acked once committed (even when nothing changed: what it joined with may be staged).
  staged_acks_.push_back(StagedAck{message.from, message.request_id});
}

Status Node::merge_locally(ring::Token token, const std::string& key,
                           const causal::SiblingSet& state) {
  auto local = load(token, key);
  if (!local) return local.status();
  if (!local.value()) {
    store(token, key, local.value(), state);
    return Status::ok();
  }
  causal::SiblingSet joined = causal::SiblingSet::join(*local.value(), state);
  if (joined == *local.value()) return Status::ok();  // nothing new: idempotent
  store(token, key, local.value(), std::move(joined));
  return Status::ok();
}

void Node::on_round_reply(uint64_t id, const NodeId& from, const Status& status,
                          std::optional<causal::SiblingSet> state) {
  if (auto delivery = hint_deliveries_.find(id); delivery != hint_deliveries_.end()) {
    if (handoff_) handoff_->on_ack(delivery->second.delivery_id, status);
    hint_deliveries_.erase(delivery);
    return;
  }
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // answered already, or expired
  if (std::holds_alternative<PutOp>(it->second.op)) return on_put_reply(id, from, status);
  if (auto* get = std::get_if<GetOp>(&it->second.op)) {
    get->round.on_reply(from, status, std::move(state));
    return progress_get(id);
  }
  // A forward does not take replica replies.
}

void Node::on_forward_reply(uint64_t id, proto::ClientResponse response) {
  auto it = pending_.find(id);
  if (it == pending_.end() || !std::holds_alternative<ForwardOp>(it->second.op)) return;
  ReplyTo to = it->second.reply_to;
  deadlines_.erase({it->second.armed, id});
  pending_.erase(it);
  reply(to, std::move(response));
}

void Node::on_peer_unreachable(const NodeId& peer, TimePoint now) {
  now_ = now;
  aae_.on_peer_unreachable(peer, unix_ms());
  transfer_.on_peer_unreachable(peer, now);
  std::vector<uint64_t> forwards;
  std::vector<uint64_t> puts;
  std::vector<uint64_t> gets;
  Status unreachable = Status::unavailable(fmt::format("{} is unreachable", peer));
  for (auto& [id, pending] : pending_) {
    if (auto* fwd = std::get_if<ForwardOp>(&pending.op)) {
      if (fwd->primaries[fwd->attempt] == peer) forwards.push_back(id);
    } else if (std::holds_alternative<PutOp>(pending.op)) {
      puts.push_back(id);
    } else if (auto* get = std::get_if<GetOp>(&pending.op)) {
      get->round.on_reply(peer, unreachable, std::nullopt);
      gets.push_back(id);
    }
  }
  for (uint64_t id : puts) on_put_reply(id, peer, unreachable);
  for (uint64_t id : gets) progress_get(id);
  // The notice is about the link, not about one message: a forward sent before the link
  // broke may have arrived, so a write is not sent elsewhere (a read may be).
  for (uint64_t id : forwards) {
    forward_failed_attempt(id, "unreachable", /*maybe_delivered=*/true, now);
  }
  end_event();
}

void Node::on_tick(TimePoint now) {
  now_ = now;
  deliver_hints(now);
  aae_.on_tick(now, unix_ms());
  transfer_.on_tick(now);
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    uint64_t id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    expire(id, now);
  }
  end_event();
}

void Node::deliver_hints(TimePoint now) {
  if (!handoff_ || !ring_) return;
  const Duration forget_after = handoff_->config().delivery_timeout;
  std::erase_if(hint_deliveries_,
                [&](const auto& e) { return now - e.second.sent > forget_after; });
  int64_t unix_ms = unix_ms_ ? unix_ms_() : 0;
  auto deliveries = handoff_->due(
      now, unix_ms, [this](const NodeId& node) { return node != config_.node_id && is_up(node); });
  for (auto& d : deliveries) {
    uint64_t id = next_id_++;
    Status sent = transport_.send(
        d.target, PeerMessage{config_.node_id, id, ReplicaWrite{d.key, std::move(d.state), {}}});
    if (!sent.is_ok()) {
      handoff_->on_ack(d.id, sent);
      continue;
    }
    hint_deliveries_.emplace(id, HintDelivery{d.id, now});
  }
}

void Node::expire(uint64_t id, TimePoint now) {
  // on_tick already removed the deadline entry; progress_*() and forward_failed_attempt()
  // erase or rearm it, so both are safe to call here.
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& pending = it->second;
  if (std::holds_alternative<ForwardOp>(pending.op)) {
    return forward_failed_attempt(id, "no answer in time", /*maybe_delivered=*/true, now);
  }
  if (auto* get = std::get_if<GetOp>(&pending.op)) {
    get->round.on_timeout();
    return progress_get(id);
  }
  PutOp& put = std::get<PutOp>(pending.op);
  if (now < pending.deadline) {
    // The sloppy alarm: primaries still silent get a fallback holding a hint for them.
    rearm(id, pending, pending.deadline);
    std::vector<NodeId> silent;
    for (const NodeId& p : put.round.waiting()) {
      bool covered = std::any_of(put.standing_in.begin(), put.standing_in.end(),
                                 [&](const auto& e) { return e.second == p; });
      bool primary =
          std::find(put.primaries.begin(), put.primaries.end(), p) != put.primaries.end();
      if (primary && !covered) silent.push_back(p);
    }
    for (const NodeId& p : silent) stand_in_for(id, put, p);
    return;
  }
  // The deadline: whoever has not acked may never have got the write; the primary it was
  // meant for gets a hint here (a duplicate of one a silent fallback keeps is harmless).
  for (const NodeId& silent : put.round.waiting()) {
    auto standing = put.standing_in.find(silent);
    NodeId primary = standing != put.standing_in.end() ? standing->second : silent;
    bool covered = std::any_of(put.standing_in.begin(), put.standing_in.end(), [&](const auto& e) {
      return e.second == primary && put.round.acked(e.first);
    });
    if (!covered) keep_hint(put, primary);
  }
  put.round.on_timeout();
  progress_put(id);
}

void Node::progress_put(uint64_t id) {
  auto it = pending_.find(id);
  QKV_ASSERT(it != pending_.end());
  PutOp& put = std::get<PutOp>(it->second.op);
  if (!put.answered && put.round.outcome() != coordinator::Outcome::kPending) {
    put.answered = true;
    Status result = put.round.result();
    if (!result.is_ok()) {
      reply_status(it->second.reply_to, std::move(result));
    } else {
      // The new context covers what was written, so the client may write again unread.
      proto::ClientResponse response;
      response.request_id = it->second.reply_to.client_request_id;
      response.body = proto::PutResponse{encode_context(put.state.version_vector())};
      reply(it->second.reply_to, std::move(response));
    }
  }
  if (put.answered && put.round.complete()) {
    deadlines_.erase({it->second.armed, id});
    pending_.erase(it);
  }
}

void Node::progress_get(uint64_t id) {
  auto it = pending_.find(id);
  QKV_ASSERT(it != pending_.end());
  auto& get = std::get<GetOp>(it->second.op);
  const coordinator::GetRound& round = get.round;
  if (!get.answered && round.outcome() != coordinator::Outcome::kPending) {
    get.answered = true;
    proto::ClientResponse response;
    response.request_id = it->second.reply_to.client_request_id;
    response.status = round.result();
    if (response.status.is_ok()) {
      const causal::SiblingSet& merged = round.merged();
      proto::GetResponse body{merged.values(), encode_context(merged.version_vector())};
      if (body.values.empty()) response.status = Status::not_found("key not found");
      response.body = std::move(body);
    }
    reply(it->second.reply_to, std::move(response));
  }
  if (get.answered && round.complete()) {
    read_repair(get.key, round);
    deadlines_.erase({it->second.armed, id});
    pending_.erase(it);
  }
}

void Node::read_repair(const std::string& key, const coordinator::GetRound& round) {
  ring::Token token = ring::token_of(key);
  for (const NodeId& stale : round.stale_replicas()) {
    ++counters_.read_repairs;
    if (stale == config_.node_id) {
      // Not into a range this node has dropped since the get began (a ring change).
      if (!takes_writes_for(token,
                            ring_->preference_list(token, config_.n).is_primary(config_.node_id))) {
        continue;
      }
      (void)merge_locally(token, key, round.merged());  // a failure is counted in storage_errors
    } else {
      // Request id 0: no round waits for this ack (ids start at 1), so it is dropped.
      (void)transport_.send(stale,
                            PeerMessage{config_.node_id, 0, ReplicaWrite{key, round.merged(), {}}});
    }
  }
}

void Node::reply(const ReplyTo& to, proto::ClientResponse response) {
  if (to.client) {
    // Counted where the client hears it, so a forwarded request counts once.
    if (response.status.code() == StatusCode::kUnavailable) ++counters_.unavailable;
    return transport_.reply(*to.client, std::move(response));
  }
  (void)transport_.send(
      to.peer, PeerMessage{config_.node_id, to.peer_request_id, ForwardReply{std::move(response)}});
}

void Node::reply_status(const ReplyTo& to, Status status) {
  proto::ClientResponse response;
  response.request_id = to.client_request_id;
  response.status = std::move(status);
  reply(to, std::move(response));
}

void Node::track(uint64_t id, Pending pending) {
  deadlines_.insert({pending.armed, id});
  pending_.emplace(id, std::move(pending));
}

void Node::rearm(uint64_t id, Pending& pending, TimePoint at) {
  deadlines_.erase({pending.armed, id});
  pending.armed = at;
  deadlines_.insert({at, id});
}

std::optional<TimePoint> Node::next_deadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

Result<std::optional<causal::SiblingSet>> Node::load(ring::Token token, const std::string& key) {
  if (auto staged = staged_index_.find(key); staged != staged_index_.end()) {
    return std::optional<causal::SiblingSet>(staged_[staged->second].state);
  }
  auto bytes = storage_.get(token, key);
  if (!bytes) {
    ++counters_.storage_errors;
    return bytes.status();
  }
  if (!bytes.value()) return std::optional<causal::SiblingSet>();
  auto state = decode_sibling_set(*bytes.value());
  if (!state) {
    ++counters_.storage_errors;
    return state.status();
  }
  return std::optional<causal::SiblingSet>(std::move(state).value());
}

void Node::store(ring::Token token, const std::string& key,
                 const std::optional<causal::SiblingSet>& previous, causal::SiblingSet state) {
  // Only the latest state of a key is written: it was built on the earlier staged ones
  // (load reads them), so it holds their dots or covers them in its version vector.
  auto [at, inserted] = staged_index_.try_emplace(key, staged_.size());
  if (inserted) {
    // The tree holds the committed state's entry: the one read before the first staging.
    std::optional<antientropy::Hash128> before;
    if (previous && aae_.enabled()) before = entry_hash(key, *previous);
    staged_.push_back(StagedWrite{token, key, std::move(state), before});
  } else {
    staged_[at->second].state = std::move(state);
  }
}

void Node::commit_batch() {
  batch_open_ = false;
  commit_writes();
}

void Node::commit_writes() {
  // What waits may stage more (a failed put's answer does not, but stay safe): loop.
  while (!staged_.empty() || !staged_acks_.empty() || !staged_puts_.empty()) {
    Status committed = Status::ok();
    if (!staged_.empty()) {
      std::vector<StagedWrite> staged = std::move(staged_);
      staged_.clear();
      staged_index_.clear();
      std::vector<storage::WriteOp> ops;
      ops.reserve(staged.size());
      for (const auto& w : staged) {
        ops.push_back(storage::WriteOp{w.token, w.key, encode_sibling_set(w.state)});
      }
      committed = storage_.write(ops);
      ++counters_.storage_commits;
      counters_.storage_writes += ops.size();
      if (!committed.is_ok()) {
        ++counters_.storage_errors;
        transfer_.on_commit_failed();
      } else if (aae_.enabled()) {
        for (const auto& w : staged) {
          aae_.on_write(w.token, w.before, entry_hash(w.key, w.state));
        }
      }
    }
    auto acks = std::move(staged_acks_);
    auto puts = std::move(staged_puts_);
    staged_acks_.clear();
    staged_puts_.clear();
    for (auto& ack : acks) {
      (void)transport_.send(
          ack.to, PeerMessage{config_.node_id, ack.request_id, ReplicaWriteAck{committed}});
    }
    for (auto& put : puts) {
      if (committed.is_ok()) {
        send_put_round(std::move(put));
      } else {
        // As a failed single write did: the client has the error, no replica was sent it.
        reply_status(put.reply_to, committed);
      }
    }
  }
}

proto::ClientResponse Node::ring_response() const {
  proto::ClientResponse response;
  if (!ring_) {
    response.status = Status::unavailable("this node has not learned the ring yet");
    return response;
  }
  response.body = proto::RingResponse{ring_->partition_count(), static_cast<uint8_t>(config_.n),
                                      ring_->owners()};
  return response;
}

proto::ClientResponse Node::status_response(TimePoint now) const {
  proto::StatusResponse body;
  body.node_id = config_.node_id;
  body.incarnation = actor_.incarnation;
  body.version = config_.version;
  body.uptime_ms = static_cast<uint64_t>((now - started_).count());
  body.n = static_cast<uint8_t>(config_.n);
  body.r = static_cast<uint8_t>(config_.r);
  body.w = static_cast<uint8_t>(config_.w);
  if (ring_) body.members = ring_->members();
  body.counters = counters_.to_list();
  body.counters.emplace_back("in_flight", pending_.size());
  const AntiEntropyCounters& aae = aae_.counters();
  body.counters.insert(body.counters.end(), {{"aae_exchanges", aae.exchanges},
                                             {"aae_exchanges_failed", aae.exchanges_failed},
                                             {"aae_segments_differing", aae.segments_differing},
                                             {"aae_keys_compared", aae.keys_compared},
                                             {"aae_keys_repaired", aae.keys_repaired},
                                             {"aae_bytes_sent", aae.bytes_sent},
                                             {"aae_tree_builds", aae.tree_builds}});
  const TransferCounters& t = transfer_.counters();
  body.counters.insert(body.counters.end(), {{"ring_version", ring_version_},
                                             {"transfer_ranges_done", t.ranges_done},
                                             {"transfer_keys_received", t.keys_received},
                                             {"transfer_bytes_received", t.bytes_received},
                                             {"transfer_keys_sent", t.keys_sent},
                                             {"transfer_bytes_sent", t.bytes_sent},
                                             {"transfer_source_failures", t.source_failures}});
  body.repair = aae_.repair_progress();
  body.ring_version = ring_version_;
  if (next_ring_) {
    body.transfer_started_unix_ms = static_cast<uint64_t>(transition_started_unix_ms_);
    for (const InboundTransfer& in : transfer_.inbound()) {
      body.transfers.push_back(
          proto::TransferProgress{in.partition, in.source, in.keys, in.bytes, in.done, in.active});
    }
  }
  for (const auto& [partition, unix_ms] : aae_.last_exchanges()) {
    body.exchanges.push_back(proto::PartitionExchange{partition, unix_ms});
  }
  if (extra_counters_) {
    for (auto& c : extra_counters_()) body.counters.push_back(std::move(c));
  }
  proto::ClientResponse response;
  response.body = std::move(body);
  return response;
}

}  // namespace qkv::node
