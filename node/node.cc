#include "node/node.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "node/deadline.h"
#include "node/snapshot.h"

namespace qkv::node {

Node::Node(NodeConfig config, std::shared_ptr<const ring::Ring> ring, storage::Storage& storage,
           Transport& transport, causal::Actor actor, TimePoint started,
           handoff::HintedHandoff* handoff, std::function<int64_t()> unix_ms)
    : config_(std::move(config)),
      storage_(storage),
      actor_(std::move(actor)),
      started_(started),
      now_(started),
      unix_ms_(std::move(unix_ms)),
      held_(config_.node_id, config_.n, storage),
      liveness_(config_.node_id),
      in_flight_(actor_.incarnation, config_.generation),
      replier_(config_.node_id, transport, counters_, latencies_),
      replica_(config_, storage, transport, held_, handoff, counters_, unix_ms_,
               Replica::Hooks{config_.anti_entropy.enabled,
                              [this](ring::Token token, std::optional<antientropy::Hash128> before,
                                     std::optional<antientropy::Hash128> after) {
                                aae_.on_write(token, before, after);
                              },
                              [this] { transfer_.on_commit_failed(); }, &latencies_,
                              [this](ring::Token token, const std::string& key, int64_t dead_from) {
                                reaper_.on_tombstone(token, key,
                                                     std::max(dead_from, this->unix_ms()));
                              }}),
      aae_(config_.anti_entropy, config_.node_id, config_.n, storage, transport, replica_,
           in_flight_, actor_.incarnation),
      transfer_(
          config_.transfer, config_.node_id, config_.n, storage, transport, replica_,
          [this](uint32_t partition) { return !aae_.enabled() || aae_.tree(partition) != nullptr; },
          in_flight_),
      puts_(config_, actor_, transport, in_flight_, replier_, replica_, held_, liveness_, handoff,
            counters_, unix_ms_),
      gets_(config_, transport, in_flight_, replier_, replica_, held_, liveness_, counters_,
            unix_ms_),
      conditional_(config_, replica_, held_, gets_, puts_, replier_, counters_, unix_ms_,
                   [this] { return now_; }),
      forwarder_(config_, transport, in_flight_, replier_, counters_, unix_ms_),
      hints_(config_.node_id, transport, in_flight_, handoff, liveness_, held_, unix_ms_),
      reaper_(config_, actor_, storage, transport, in_flight_, replica_, held_, liveness_,
              counters_) {
  QKV_ASSERT(config_.validate().is_ok());
  set_ring(std::move(ring));
}

void Node::set_ring(std::shared_ptr<const ring::Ring> ring, std::shared_ptr<const ring::Ring> next,
                    uint64_t version, std::vector<NodeId> removed) {
  held_.set_ring(std::move(ring), std::move(next), version, unix_ms());
  aae_.set_ring(held_.ring(), now_, held_.next_ring());
  transfer_.set_ring(held_.ring(), held_.next_ring(), version, std::move(removed));
  transfer_.set_cleared(held_.next_ring() && held_.applied() >= version);
  drop_ranges();
}

void Node::set_ring_applied(uint64_t version, TimePoint now) {
  now_ = now;
  held_.set_applied(version);
  transfer_.set_cleared(held_.next_ring() && version >= held_.version());
  drop_ranges();
  end_event();
}

void Node::drop_ranges() {
  if (!held_.drop_due()) return;
  commit_now();  // staged writes of a dropped range must not land after its delete
  // The dropped keys' dots live on in clients' contexts: new writes must count above them.
  counters_.ranges_dropped += held_.drop_ranges([this](ring::Token first, ring::Token last) {
    return replica_.raise_reap_floor(first, last, actor_);
  });
  replica_.forget_versions();  // the cache must not outlive what it caches
}

void Node::set_liveness(std::function<bool(const NodeId&)> is_up) {
  liveness_.set(is_up);
  transfer_.set_liveness(is_up);
  aae_.set_liveness(std::move(is_up));
}

void Node::on_client_request(ClientId client, proto::ClientRequest request, TimePoint now) {
  now_ = now;
  ++counters_.client_requests;
  ReplyTo to{client, {}, 0, request.request_id};
  to.received_us = latencies_.now_us();
  if (is_key_request(request)) {
    // Load shedding: a fast, typed refusal instead of a queue that ends in timeouts.
    Status room = config_.limits.check_client_requests_in_flight(client_requests_in_flight());
    if (!room.is_ok()) {
      ++counters_.overloaded;
      replier_.reply_status(to, std::move(room));
      return end_event();
    }
  }
  handle_request(std::move(to), std::move(request), /*forwarded=*/false, now);
  end_event();
}

void Node::handle_request(ReplyTo reply_to, proto::ClientRequest request, bool forwarded,
                          TimePoint now) {
  if (std::holds_alternative<proto::RingRequest>(request.op) ||
      std::holds_alternative<proto::StatusRequest>(request.op) ||
      std::holds_alternative<proto::RepairRequest>(request.op) ||
      std::holds_alternative<proto::SnapshotRequest>(request.op)) {
    return handle_admin_request(reply_to, request, now);
  }
  if (!is_key_request(request)) {
    // Members is answered by the driver, which knows the gossip view.
    return replier_.reply_status(
        reply_to, Status::invalid_argument(
                      fmt::format("'{}' is not answered here", proto::op_name(request.op))));
  }
  auto parsed = parse_key_request(std::move(request), config_);
  if (!parsed) {
    ++counters_.invalid_requests;
    return replier_.reply_status(reply_to, parsed.status());
  }
  if (!held_.ring()) {
    return replier_.reply_status(reply_to,
                                 Status::unavailable("this node has not learned the ring yet "
                                                     "(it is joining from its seeds)"));
  }
  handle_key_request(std::move(reply_to), std::move(parsed).value(), forwarded, now);
}

void Node::handle_admin_request(const ReplyTo& reply_to, const proto::ClientRequest& request,
                                TimePoint now) {
  proto::ClientResponse response;
  if (std::holds_alternative<proto::RingRequest>(request.op)) {
    response = ring_response(held_.ring().get(), config_.n);
  } else if (std::holds_alternative<proto::StatusRequest>(request.op)) {
    response.body = status(now);
  } else if (const auto* snapshot = std::get_if<proto::SnapshotRequest>(&request.op)) {
    auto taken = snapshot_of_storage(*snapshot);
    if (!taken) return replier_.reply_status(reply_to, taken.status());
    response.body = std::move(taken).value();
  } else {
    const auto& repair = std::get<proto::RepairRequest>(request.op);
    const ring::Ring* ring = held_.ring().get();
    if (repair.partition && ring && *repair.partition >= ring->partition_count()) {
      return replier_.reply_status(
          reply_to, Status::invalid_argument(fmt::format(
                        "partition {} does not exist: the ring has {} (0..{})", *repair.partition,
                        ring->partition_count(), ring->partition_count() - 1)));
    }
    if (!aae_.enabled()) {
      return replier_.reply_status(
          reply_to,
          Status::unavailable(fmt::format(
              "anti-entropy is off on {} (anti_entropy.enabled = false)", config_.node_id)));
    }
    response.body = proto::RepairResponse{aae_.start_repair(repair.partition)};
  }
  response.request_id = reply_to.client_request_id;
  replier_.reply(reply_to, std::move(response));
}

Result<proto::SnapshotResponse> Node::snapshot_of_storage(const proto::SnapshotRequest& request) {
  auto path = snapshot_path(config_.snapshot_dir, request.dir, config_.node_id, unix_ms());
  if (!path) return path.status();
  // Writes staged in an open batch are not acknowledged yet: the snapshot may leave them out.
  return take_snapshot(storage_, *path, unix_ms());
}

proto::StatusResponse Node::status(TimePoint now) const {
  proto::ClientResponse response =
      status_response(StatusInputs{config_, actor_, now - started_, held_, counters_,
                                   in_flight_.size(), client_requests_in_flight(), aae_, transfer_,
                                   extra_counters_ ? extra_counters_() : CounterList{}});
  return std::get<proto::StatusResponse>(std::move(response.body));
}

void Node::handle_key_request(ReplyTo reply_to, KeyRequest request, bool forwarded, TimePoint now) {
  if (request.local) return gets_.reply_local(reply_to, request);
  request.locate(*held_.ring(), config_, now);
  const bool primary = request.list.is_primary(config_.node_id);
  const bool conditional = request.condition != proto::WriteCondition::kNone;
  if (conditional && !forwarded) {
    // Conditional writers of a key meet at one coordinator (node/coordinator/
    // conditional_write.h). Only that one is tried: another would not serialize them.
    std::optional<NodeId> first = first_up_primary(request.list, liveness_);
    if (!first) {
      return replier_.reply_status(
          reply_to, Status::unavailable(fmt::format(
                        "conditional write: no primary of the key is up ({} all down), and "
                        "only its first primary that is up may coordinate it",
                        fmt::join(request.list.primaries, ", "))));
    }
    if (*first != config_.node_id) {
      reply_to.measured = Measured::kForward;
      return forwarder_.start(std::move(reply_to), std::move(request), {*first}, now);
    }
  }
  // A forwarded request is coordinated here even if this node's ring disagreed, so a
  // request is never passed around in a loop.
  if (!primary && !forwarded) {
    // Primaries that are up first, in ring order; down ones are tried last.
    std::vector<NodeId> primaries = request.list.primaries;
    std::stable_partition(primaries.begin(), primaries.end(),
                          [&](const NodeId& p) { return liveness_.is_up(p); });
    reply_to.measured = Measured::kForward;
    return forwarder_.start(std::move(reply_to), std::move(request), std::move(primaries), now);
  }
  if (!request.is_write()) {
    reply_to.measured = Measured::kGet;
    return gets_.start(std::move(reply_to), request, now);
  }
  if (!held_.takes_writes_for(request.token, primary)) {
    // Forwarded by a node whose ring disagrees with ours, and we do not hold the key's range
    // (we dropped it, or never had it): coordinating from an empty state would reissue a
    // dot this node already used for the key. The client retries once the rings agree.
    return replier_.reply_status(
        reply_to, Status::unavailable(fmt::format(
                      "{} is not a replica of the key in ring version {}: the forwarding node's "
                      "ring differs (a ring change is spreading); retry",
                      config_.node_id, held_.version())));
  }
  reply_to.measured = Measured::kPut;
  if (conditional) return conditional_.start(std::move(reply_to), request, now);
  puts_.start(std::move(reply_to), std::move(request), now);
}

void Node::on_peer_message(PeerMessage message, TimePoint now) {
  now_ = now;
  if (expired(message)) return end_event();
  std::visit(
      [&](auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, TreeRequest> || std::is_same_v<T, TreeReply> ||
                      std::is_same_v<T, SegmentRequest> || std::is_same_v<T, SegmentReply> ||
                      std::is_same_v<T, KeysRequest> || std::is_same_v<T, KeysReply>) {
          aae_.on_message(message, now, unix_ms());
        } else if constexpr (std::is_same_v<T, TransferRequest> ||
                             std::is_same_v<T, TransferReply>) {
          transfer_.on_message(message, now);
        } else if constexpr (std::is_same_v<T, ReplicaRead>) {
          replica_.on_read(message, body);
        } else if constexpr (std::is_same_v<T, ReplicaWrite>) {
          replica_.on_write(message, std::move(body));
        } else if constexpr (std::is_same_v<T, ReplicaReadReply>) {
          if (body.digest && body.status.is_ok()) {  // only gets ask for digests
            return gets_.on_digest(message.request_id, message.from, *body.digest, now);
          }
          on_round_reply(message.request_id, message.from, body.status, std::move(body.state));
        } else if constexpr (std::is_same_v<T, ReplicaWriteAck>) {
          on_round_reply(message.request_id, message.from, body.status, std::nullopt);
        } else if constexpr (std::is_same_v<T, ReplicaReap>) {
          reaper_.on_reap(message, body);
        } else if constexpr (std::is_same_v<T, Forward>) {
          if (!forwarder_.first_time(message.from, message.request_id, now)) {
            ++counters_.forward_duplicates;
            return;
          }
          ReplyTo to{std::nullopt, message.from, message.request_id, body.request.request_id};
          to.received_us = latencies_.now_us();
          handle_request(std::move(to), std::move(body.request), /*forwarded=*/true, now);
        } else if constexpr (std::is_same_v<T, ForwardReply>) {
          forwarder_.on_reply(message.request_id, std::move(body.response));
        }  // Gossip and link probes go to the driver (node/membership.h), never here.
      },
      message.body);
  end_event();
}

bool Node::expired(const PeerMessage& message) {
  if (!past_deadline(message.deadline_unix_ms, unix_ms(), config_.clock_skew_max)) return false;
  // Its sender has given up on it: a forward's client has its answer, a coordinator its
  // outcome, a hint will be delivered again. Never start it now (Cassandra's dropped
  // mutations).
  if (std::holds_alternative<Forward>(message.body)) ++counters_.forwards_expired;
  if (std::holds_alternative<ReplicaWrite>(message.body)) ++counters_.replica_writes_expired;
  if (std::holds_alternative<ReplicaRead>(message.body)) ++counters_.replica_reads_expired;
  return true;
}

void Node::on_round_reply(uint64_t id, const NodeId& from, const Status& status,
                          std::optional<causal::SiblingSet> state) {
  if (hints_.on_ack(id, status)) return;
  if (reaper_.on_reply(id, from, status, state, now_, unix_ms())) return;
  const InFlight::Entry* entry = in_flight_.find(id);
  if (!entry) return;  // answered already, or expired
  if (entry->kind == RequestKind::kPut) return puts_.on_reply(id, from, status, now_);
  if (entry->kind == RequestKind::kGet) {
    return gets_.on_reply(id, from, status, std::move(state), now_);
  }
  // A forward does not take replica replies.
}

void Node::on_peer_unreachable(const NodeId& peer, TimePoint now) {
  now_ = now;
  aae_.on_peer_unreachable(peer, unix_ms());
  transfer_.on_peer_unreachable(peer, now);
  puts_.on_peer_unreachable(peer);
  gets_.on_peer_unreachable(peer);
  forwarder_.on_peer_unreachable(peer, now);
  hints_.on_peer_unreachable(peer);
  reaper_.on_peer_unreachable(peer, unix_ms());
  end_event();
}

void Node::on_peer_link_broke(const NodeId& peer, TimePoint now) {
  now_ = now;
  hints_.on_peer_unreachable(peer);
  end_event();
}

void Node::on_tick(TimePoint now) {
  now_ = now;
  if (held_.ring()) hints_.deliver(now);
  if (commit_in_flight_ && aae_.build_due(now)) finish_commit(committer_->wait());
  aae_.on_tick(now, unix_ms());
  // A range is reported received only once what it joined is in storage.
  if (transfer_.completion_due()) commit_now();
  transfer_.on_tick(now);
  reaper_.on_tick(now, unix_ms());
  while (auto id = in_flight_.pop_due(now)) on_alarm(*id, now);
  end_event();
}

void Node::on_alarm(uint64_t id, TimePoint now) {
  const InFlight::Entry* entry = in_flight_.find(id);
  if (!entry) return;
  switch (entry->kind) {
    case RequestKind::kPut:
      return puts_.on_alarm(id, now);
    case RequestKind::kGet:
      return gets_.on_alarm(id, now);
    case RequestKind::kForward:
      return forwarder_.on_alarm(id, now);
  }
}

void Node::commit_batch() {
  batch_open_ = false;
  commit_writes();
}

void Node::commit_writes() {
  // What waits may stage more (a failed put's answer does not, but stay safe): loop. With a
  // committer, the next commit starts at the end of the one in flight (on_commit_done).
  while (!commit_in_flight_ && (replica_.has_staged() || puts_.has_staged())) {
    std::vector<storage::WriteOp> ops = replica_.start_commit();
    puts_.on_commit_started();
    if (committer_ && !ops.empty()) {
      committer_->submit(std::move(ops));
      commit_in_flight_ = true;
    } else {
      // Only acks wait (the states they joined with are committed), or no pipeline.
      finish_commit(ops.empty() ? Status::ok() : storage_.write(ops));
    }
  }
}

void Node::finish_commit(Status committed) {
  commit_in_flight_ = false;
  replica_.finish_commit(committed);
  puts_.on_committed(committed);
  if (committer_ && !committed.is_ok()) {
    // Staged while the failed batch was in flight, and maybe built on its states. (Without
    // a committer nothing is staged during a commit: it is written before the event ends.)
    replica_.discard_staged(committed);
    puts_.discard_staged(committed);
  }
}

void Node::set_committer(Committer* committer) {
  QKV_ASSERT(!commit_in_flight_);
  committer_ = committer;
}

void Node::on_commit_done(TimePoint now) {
  if (!commit_in_flight_) return;
  std::optional<Status> committed = committer_->poll();
  if (!committed) return;
  now_ = now;
  finish_commit(std::move(*committed));
  end_event();  // the next commit starts, unless a batch is open (it starts at its end)
}

void Node::commit_now() {
  for (;;) {
    if (commit_in_flight_) finish_commit(committer_->wait());
    if (!replica_.has_staged() && !puts_.has_staged()) return;
    commit_writes();
  }
}

}  // namespace qkv::node
