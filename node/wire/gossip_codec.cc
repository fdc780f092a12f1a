#include "node/wire/gossip_codec.h"

#include <fmt/format.h>

#include <algorithm>

#include "proto/bytes.h"

namespace qkv::node {
namespace {

using proto::to_view;

// Versions on the wire (proto/gossip.capnp): `version` is the heartbeat, the one number
// nodes from before contentVersion order by (so they still see every heartbeat);
// `contentVersion` the content version, 0 (unset) read as `version`: what such nodes send
// and relay, whose content is current as of that heartbeat.
void fill(wire::NodeState::Builder b, const gossip::NodeState& s) {
  b.setId(s.id);
  b.setGeneration(s.generation);
  b.setVersion(s.beat());
  b.setContentVersion(s.version);
  b.setPeerAddress(s.peer_address);
  b.setClientAddress(s.client_address);
  b.setHttpAddress(s.http_address);
  b.setZone(s.zone);
  b.setStatus(static_cast<wire::MemberStatus>(s.status));
  b.setRingVersion(s.ring_version);
  b.setTransfersDone(s.transfers_done);
  b.setClusterId(s.cluster_id);
}

Result<gossip::NodeState> read(wire::NodeState::Reader r) {
  gossip::NodeState s;
  s.id = std::string(to_view(r.getId()));
  QKV_RETURN_IF_ERROR(validate_node_id(s.id));
  s.generation = r.getGeneration();
  s.heartbeat = r.getVersion();
  s.version = r.getContentVersion() != 0 ? r.getContentVersion() : s.heartbeat;
  s.heartbeat = s.beat();  // a content version past the heartbeat: the heartbeat is that far
  s.peer_address = std::string(to_view(r.getPeerAddress()));
  s.client_address = std::string(to_view(r.getClientAddress()));
  s.http_address = std::string(to_view(r.getHttpAddress()));
  s.zone = std::string(to_view(r.getZone()));
  auto status = static_cast<uint16_t>(r.getStatus());
  if (status > static_cast<uint16_t>(gossip::Status::kRemoved)) {
    return Status::corruption(fmt::format("unknown member status {}", status));
  }
  s.status = static_cast<gossip::Status>(status);
  s.ring_version = r.getRingVersion();
  s.transfers_done = r.getTransfersDone();
  s.cluster_id = r.getClusterId();
  return s;
}

template <typename List>
void fill_states(List list, const std::vector<gossip::NodeState>& states) {
  for (std::size_t i = 0; i < states.size(); ++i) fill(list[i], states[i]);
}

template <typename List>
Status read_states(List list, std::vector<gossip::NodeState>& out) {
  for (auto s : list) {
    auto state = read(s);
    if (!state) return state.status();
    out.push_back(std::move(state).value());
  }
  return Status::ok();
}

template <typename List>
void fill_digests(List list, const std::vector<gossip::Digest>& digests) {
  for (std::size_t i = 0; i < digests.size(); ++i) {
    list[i].setId(digests[i].id);
    list[i].setGeneration(digests[i].generation);
    list[i].setVersion(std::max(digests[i].heartbeat, digests[i].version));
    list[i].setContentVersion(digests[i].version);
  }
}

template <typename List>
Status read_digests(List list, std::vector<gossip::Digest>& out) {
  for (auto d : list) {
    const uint64_t content = d.getContentVersion() != 0 ? d.getContentVersion() : d.getVersion();
    gossip::Digest digest{std::string(to_view(d.getId())), d.getGeneration(), content,
                          std::max(d.getVersion(), content)};
    QKV_RETURN_IF_ERROR(validate_node_id(digest.id));
    out.push_back(std::move(digest));
  }
  return Status::ok();
}

template <typename List>
void fill_heartbeats(List list, const std::vector<gossip::Heartbeat>& heartbeats) {
  for (std::size_t i = 0; i < heartbeats.size(); ++i) {
    list[i].setId(heartbeats[i].id);
    list[i].setGeneration(heartbeats[i].generation);
    list[i].setHeartbeat(heartbeats[i].heartbeat);
  }
}

template <typename List>
Status read_heartbeats(List list, std::vector<gossip::Heartbeat>& out) {
  for (auto h : list) {
    gossip::Heartbeat heartbeat{std::string(to_view(h.getId())), h.getGeneration(),
                                h.getHeartbeat()};
    QKV_RETURN_IF_ERROR(validate_node_id(heartbeat.id));
    out.push_back(std::move(heartbeat));
  }
  return Status::ok();
}

}  // namespace

void fill_ring(wire::RingState::Builder b, const gossip::RingState& ring) {
  b.setVersion(ring.version);
  b.setN(ring.n);
  auto owners = b.initOwners(ring.owners.size());
  for (std::size_t i = 0; i < ring.owners.size(); ++i) owners.set(i, ring.owners[i]);
  auto next = b.initNextOwners(ring.next_owners.size());
  for (std::size_t i = 0; i < ring.next_owners.size(); ++i) next.set(i, ring.next_owners[i]);
  b.setClaimant(ring.claimant);
  b.setClusterId(ring.cluster_id);
  if (!ring.removed.empty()) {
    auto removed = b.initRemoved(ring.removed.size());
    for (std::size_t i = 0; i < ring.removed.size(); ++i) removed.set(i, ring.removed[i]);
  }
}

Result<gossip::RingState> read_ring(wire::RingState::Reader r) {
  gossip::RingState ring{r.getVersion(), r.getN(), {}, {}, {}, r.getClusterId()};
  for (auto o : r.getOwners()) {
    ring.owners.emplace_back(to_view(o));
    QKV_RETURN_IF_ERROR(validate_node_id(ring.owners.back()));
  }
  for (auto o : r.getNextOwners()) {
    ring.next_owners.emplace_back(to_view(o));
    QKV_RETURN_IF_ERROR(validate_node_id(ring.next_owners.back()));
  }
  if (!ring.next_owners.empty() && ring.next_owners.size() != ring.owners.size()) {
    return Status::corruption(fmt::format("a ring transition from {} to {} partitions",
                                          ring.owners.size(), ring.next_owners.size()));
  }
  ring.claimant = std::string(to_view(r.getClaimant()));
  if (!ring.claimant.empty()) QKV_RETURN_IF_ERROR(validate_node_id(ring.claimant));
  for (auto o : r.getRemoved()) {
    ring.removed.emplace_back(to_view(o));
    QKV_RETURN_IF_ERROR(validate_node_id(ring.removed.back()));
  }
  // A ring table must have a power-of-two size (ring/ring.h); anything else is not a ring.
  std::size_t q = ring.owners.size();
  if (ring.version != 0 && (q == 0 || (q & (q - 1)) != 0 || q > (1u << 16))) {
    return Status::corruption(fmt::format("a ring of {} partitions is not a power of two", q));
  }
  return ring;
}

void fill_gossip(wire::PeerMessage::Builder b, const gossip::Message& message) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, gossip::Syn>) {
          auto syn = b.initGossipSyn();
          fill(syn.initSender(), m.sender);
          fill_digests(syn.initDigests(m.digests.size()), m.digests);
          syn.setRingVersion(m.ring_version);
          syn.setHeartbeatEntries(m.heartbeat_entries);
          syn.setRingHash(m.ring_hash);
        } else if constexpr (std::is_same_v<T, gossip::Ack>) {
          auto ack = b.initGossipAck();
          fill(ack.initSender(), m.sender);
          fill_states(ack.initStates(m.states.size()), m.states);
          fill_digests(ack.initRequests(m.requests.size()), m.requests);
          ack.setHasRing(m.ring.has_value());
          if (m.ring) fill_ring(ack.initRing(), *m.ring);
          ack.setWantRing(m.want_ring);
          fill_heartbeats(ack.initHeartbeats(m.heartbeats.size()), m.heartbeats);
          fill_digests(ack.initHeartbeatRequests(m.heartbeat_requests.size()),
                       m.heartbeat_requests);
          ack.setHeartbeatEntries(m.heartbeat_entries);
          ack.setRingVersion(m.ring_version);
          ack.setRingHash(m.ring_hash);
        } else {
          auto ack2 = b.initGossipAck2();
          fill_states(ack2.initStates(m.states.size()), m.states);
          ack2.setHasRing(m.ring.has_value());
          if (m.ring) fill_ring(ack2.initRing(), *m.ring);
          fill_heartbeats(ack2.initHeartbeats(m.heartbeats.size()), m.heartbeats);
        }
      },
      message);
}

Result<gossip::Message> read_gossip(wire::PeerMessage::Reader r) {
  switch (r.which()) {
    case wire::PeerMessage::GOSSIP_SYN: {
      auto syn = r.getGossipSyn();
      gossip::Syn out;
      auto sender = read(syn.getSender());
      if (!sender) return sender.status();
      out.sender = std::move(sender).value();
      QKV_RETURN_IF_ERROR(read_digests(syn.getDigests(), out.digests));
      out.ring_version = syn.getRingVersion();
      out.heartbeat_entries = syn.getHeartbeatEntries();
      out.ring_hash = syn.getRingHash();
      return gossip::Message(std::move(out));
    }
    case wire::PeerMessage::GOSSIP_ACK: {
      auto ack = r.getGossipAck();
      gossip::Ack out;
      auto sender = read(ack.getSender());
      if (!sender) return sender.status();
      out.sender = std::move(sender).value();
      QKV_RETURN_IF_ERROR(read_states(ack.getStates(), out.states));
      QKV_RETURN_IF_ERROR(read_digests(ack.getRequests(), out.requests));
      if (ack.getHasRing()) {
        auto ring = read_ring(ack.getRing());
        if (!ring) return ring.status();
        out.ring = std::move(ring).value();
      }
      out.want_ring = ack.getWantRing();
      QKV_RETURN_IF_ERROR(read_heartbeats(ack.getHeartbeats(), out.heartbeats));
      QKV_RETURN_IF_ERROR(read_digests(ack.getHeartbeatRequests(), out.heartbeat_requests));
      out.heartbeat_entries = ack.getHeartbeatEntries();
      out.ring_version = ack.getRingVersion();
      out.ring_hash = ack.getRingHash();
      return gossip::Message(std::move(out));
    }
    default: {
      auto ack2 = r.getGossipAck2();
      gossip::Ack2 out;
      QKV_RETURN_IF_ERROR(read_states(ack2.getStates(), out.states));
      QKV_RETURN_IF_ERROR(read_heartbeats(ack2.getHeartbeats(), out.heartbeats));
      if (ack2.getHasRing()) {
        auto ring = read_ring(ack2.getRing());
        if (!ring) return ring.status();
        out.ring = std::move(ring).value();
      }
      return gossip::Message(std::move(out));
    }
  }
}

}  // namespace qkv::node
