#include "node/host.h"

#include <algorithm>

#include "gossip/ring_identity.h"
#include "node/incarnation.h"
#include "ring/ring.h"

namespace qkv::node {

Result<Boot> boot(storage::Storage& storage, const std::function<uint64_t()>& random,
                  int64_t wall_ms, const gossip::RingState& first_ring) {
  Boot out;
  auto incarnation = open_incarnation(storage, random);
  if (!incarnation) return incarnation.status();
  out.incarnation = incarnation->incarnation;
  out.after_unclean = incarnation->after_unclean;
  out.restored = incarnation->restored;
  out.previous_incarnation = incarnation->previous;
  auto generation = next_generation(storage, wall_ms);
  if (!generation) return generation.status();
  out.generation = *generation;
  auto saved = load_saved_ring(storage);
  if (!saved) return saved.status();
  out.ring_saved = saved->version != 0;
  if (out.ring_saved) {
    out.ring = std::move(saved).value();
  } else {
    out.first_ring = first_ring;  // made later, if no cluster disagrees (node/first_ring.h)
  }
  return out;
}

Result<gossip::RingState> first_ring(std::vector<NodeId> members, uint32_t partitions, uint32_t n) {
  if (members.empty()) return Status::invalid_argument("the first ring needs members");
  NodeId claimant = *std::min_element(members.begin(), members.end());
  const uint64_t cluster_id = gossip::first_cluster_id(members, partitions, n);
  auto ring = ring::Ring::claim(std::move(members), partitions, n);
  if (!ring) return ring.status();
  return gossip::RingState{1, n, ring->owners(), {}, std::move(claimant), cluster_id};
}

gossip::NodeState initial_self(const NodeId& id, uint64_t generation, std::string peer_address,
                               std::string client_address, std::string zone, bool has_ring,
                               std::string http_address) {
  gossip::NodeState state;
  state.id = id;
  state.generation = generation;
  state.version = 1;
  state.peer_address = std::move(peer_address);
  state.client_address = std::move(client_address);
  state.http_address = std::move(http_address);
  state.zone = std::move(zone);
  // A node that knows the ring serves; one joining from seeds waits to learn it.
  state.status = has_ring ? gossip::Status::kNormal : gossip::Status::kJoining;
  return state;
}

namespace {

// A fresh initial member states the cluster its first ring will make before it makes it,
// so gossip refuses it and it refuses nodes of another cluster (gossip_core.h).
gossip::NodeState self_of(gossip::NodeState self, const Boot& boot) {
  if (boot.ring.version == 0) self.cluster_id = boot.first_ring.cluster_id;
  return self;
}

}  // namespace

NodeHost::NodeHost(HostConfig config, const Boot& boot, storage::Storage& storage,
                   Transport& transport, const Clock& clock, std::function<int64_t()> unix_ms)
    : clock_(clock),
      transport_(transport),
      handoff_(config.handoff, storage),
      node_(config.node, nullptr, storage, transport,
            causal::Actor{config.node.node_id, boot.incarnation}, clock.now(),
            config.hinted_handoff ? &handoff_ : nullptr, std::move(unix_ms)),
      membership_(std::move(config.gossip), self_of(std::move(config.self), boot), boot.ring,
                  boot.incarnation ^ boot.generation, node_, storage, &handoff_, clock) {
  if (boot.ring.version == 0 && boot.first_ring.version != 0) {
    membership_.set_first_ring(boot.first_ring);
  }
  membership_.set_auto_join(config.auto_join);
}

std::vector<gossip::Outgoing> NodeHost::on_tick() {
  node_.on_tick(clock_.now());
  auto outgoing = membership_.on_tick();
  // A failed send is asked again after the auto-join retry.
  for (auto& [to, message] : membership_.take_peer_messages()) {
    (void)transport_.send(to, std::move(message));
  }
  return outgoing;
}

std::vector<gossip::Outgoing> NodeHost::on_peer_message(PeerMessage message) {
  if (auto* g = std::get_if<Gossip>(&message.body)) {
    return membership_.on_gossip(message.from, std::move(g->message));
  }
  if (on_peer_ring_admin(message)) return {};
  node_.on_peer_message(std::move(message), clock_.now());
  return {};
}

bool NodeHost::on_peer_ring_admin(PeerMessage& message) {
  if (auto* reply = std::get_if<ForwardReply>(&message.body)) {
    return membership_.on_peer_ring_admin_reply(message.request_id, reply->response);
  }
  auto* forward = std::get_if<Forward>(&message.body);
  if (!forward) return false;
  const auto* admin = std::get_if<proto::RingAdminRequest>(&forward->request.op);
  if (!admin) return false;
  proto::ClientResponse answer =
      membership_.peer_ring_admin(message.from, forward->request.request_id, *admin);
  (void)transport_.send(message.from,
                        PeerMessage{membership_.gossip().self().id, message.request_id,
                                    ForwardReply{std::move(answer)}});
  return true;
}

void NodeHost::on_client_request(ClientId client, proto::ClientRequest request) {
  if (std::holds_alternative<proto::MembersRequest>(request.op)) {
    return transport_.reply(client, proto::ClientResponse{request.request_id, Status::ok(),
                                                          membership_.members_response()});
  }
  if (const auto* admin = std::get_if<proto::RingAdminRequest>(&request.op)) {
    return transport_.reply(client, membership_.ring_admin(request.request_id, *admin));
  }
  node_.on_client_request(client, std::move(request), clock_.now());
}

void NodeHost::on_peer_unreachable(const NodeId& peer, bool never_sent) {
  membership_.convict(peer);
  if (never_sent) {
    node_.on_peer_unreachable(peer, clock_.now());
  } else {
    node_.on_peer_link_broke(peer, clock_.now());
  }
}

}  // namespace qkv::node
