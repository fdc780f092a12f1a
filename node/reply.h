// Replier: answers a request where its answer goes (node/in_flight.h ReplyTo) — to a local
// client through the driver, or back to the node that forwarded it as a ForwardReply.
//
// Thread-safety: none (the node core's thread).
#pragma once

#include <utility>

#include "node/in_flight.h"
#include "node/node_transport.h"
#include "node/status.h"

namespace qkv::node {

class Replier {
 public:
  // `transport`, `counters` and `latencies` outlive this.
  Replier(NodeId self, Transport& transport, NodeCounters& counters, Latencies& latencies)
      : self_(std::move(self)), transport_(transport), counters_(counters), latencies_(latencies) {}

  void reply(const ReplyTo& to, proto::ClientResponse response) {
    latencies_.on_answer(to.measured, to.received_us, response.status.code());
    if (to.client) {
      // Counted where the client hears it, so a forwarded request counts once.
      if (response.status.code() == StatusCode::kUnavailable) ++counters_.unavailable;
      return transport_.reply(*to.client, std::move(response));
    }
    (void)transport_.send(
        to.peer, PeerMessage{self_, to.peer_request_id, ForwardReply{std::move(response)}});
  }
  // The histograms answers are measured into (node/latencies.h).
  Latencies& latencies() { return latencies_; }
  // An answer with no body: the status alone (an error, usually).
  void reply_status(const ReplyTo& to, Status status) {
    proto::ClientResponse response;
    response.request_id = to.client_request_id;
    response.status = std::move(status);
    reply(to, std::move(response));
  }

 private:
  NodeId self_;
  Transport& transport_;
  NodeCounters& counters_;
  Latencies& latencies_;
};

}  // namespace qkv::node
