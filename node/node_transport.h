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
  // Best effort, asynchronous: a message that cannot be delivered is dropped (the driver
  // may tell the core through Node::on_peer_unreachable; rounds also have deadlines).
  virtual void send(const NodeId& to, PeerMessage message) = 0;
  // Sends a response to a client connection; dropped if the connection is gone.
  virtual void reply(ClientId client, proto::ClientResponse response) = 0;
};

}  // namespace qkv::node
