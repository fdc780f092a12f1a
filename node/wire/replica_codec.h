// Encoding of peer messages, stored sibling sets and causal contexts (Cap'n Proto,
// proto/replica.capnp and proto/common.capnp).
//
// Every decoder reads untrusted bytes (network or disk): it sets reader limits from the
// input size, never throws, and returns corruption for bytes that do not decode or that
// break the sibling-set invariant (a sibling whose dot the version vector does not cover,
// or two siblings with one dot) — such bytes never reach causal::SiblingSet.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <string>
#include <string_view>

#include "causal/sibling_set.h"
#include "gossip/node_state.h"
#include "node/wire/peer_message.h"

namespace qkv::node {

kj::Array<capnp::word> encode(const PeerMessage& message);
Result<PeerMessage> decode_peer_message(kj::ArrayPtr<const capnp::word> frame);

// The stored form of a key's state (RocksDB data column family value).
// persisted: a Cap'n Proto SiblingSet message (proto/common.capnp), flat-array framed.
std::string encode_sibling_set(const causal::SiblingSet& state);
Result<causal::SiblingSet> decode_sibling_set(std::string_view bytes);

// The opaque causal context handed to clients: the version vector, Cap'n Proto encoded.
// An empty string is the empty context.
std::string encode_context(const causal::VersionVector& vv);
Result<causal::VersionVector> decode_context(std::string_view bytes);

// The ring as qkvd keeps it in its meta column family (a start loads the last ring it
// applied, so it never serves with an older one than it had). Errors: corruption.
std::string encode_ring_state(const gossip::RingState& ring);
Result<gossip::RingState> decode_ring_state(std::string_view bytes);

}  // namespace qkv::node
