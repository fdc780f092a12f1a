// The effects of the node core, executed by a driver: qkvd's Asio driver (node/server.h),
// the unit tests' in-memory transport, and the deterministic simulation.
#pragma once

#include <cstdint>

#include "common/node_id.h"
#include "node/wire/peer_message.h"
#include "proto/client_api.h"

namespace qkv::node {

// Identifies one client connection at the driver.
using ClientId = uint64_t;

class Transport {
 public:
  virtual ~Transport() = default;
  // Best effort, asynchronous. Ok: handed to the network (it may still be lost; rounds
  // have deadlines). An error: it was certainly not sent (e.g. the peer's link is backing
  // off after a refused connect), so the core may act on that at once. A connect that
  // fails later is reported through Node::on_peer_unreachable.
  virtual Status send(const NodeId& to, PeerMessage message) = 0;
  // As send(), of a message the caller keeps (a coordinator's replica write, sent to each
  // replica in turn). The default copies it; a transport that encodes at once (qkvd's
  // Server) encodes it where it is, sparing a copy of its state per replica.
  virtual Status send_copy_of(const NodeId& to, const PeerMessage& message) {
    return send(to, message);
  }
  // Sends a response to a client connection; dropped if the connection is gone.
  virtual void reply(ClientId client, proto::ClientResponse response) = 0;
};

}  // namespace qkv::node
