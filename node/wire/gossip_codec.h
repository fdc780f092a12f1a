// Gossip messages (gossip/messages.h) to and from Cap'n Proto (proto/gossip.capnp), as
// members of the PeerMessage union. Readers validate node ids; they never throw (the
// caller, replica_codec.cc, guards the whole decode).
#pragma once

#include "gossip/messages.h"
#include "proto/replica.capnp.h"

namespace qkv::node {

void fill_gossip(wire::PeerMessage::Builder b, const gossip::Message& message);
// REQUIRES: r.which() is GOSSIP_SYN, GOSSIP_ACK or GOSSIP_ACK2.
Result<gossip::Message> read_gossip(wire::PeerMessage::Reader r);
// A ring table (also what qkvd persists, node/wire/replica_codec.h encode_ring_state).
void fill_ring(wire::RingState::Builder b, const gossip::RingState& ring);
Result<gossip::RingState> read_ring(wire::RingState::Reader r);

}  // namespace qkv::node
