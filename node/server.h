// Server: qkvd's driver. It runs the node core on one io_context thread, with Asio for
// every socket and timer: a TCP server for clients, a TCP server for peers, outbound peer
// links, and a tick timer. It executes the core's effects (Transport) and feeds it events.
//
// Thread-safety: none; construct, call and destroy on the io_context's thread.
#pragma once

#include <functional>
#include <map>
#include <memory>

#include "common/asio.h"
#include "common/clock.h"
#include "gossip/gossip_core.h"
#include "node/claimant.h"
#include "node/daemon_config.h"
#include "node/handoff/hinted_handoff.h"
#include "node/node.h"
#include "node/transport/peer_links.h"
#include "node/transport/tcp_server.h"

namespace qkv::node {

// The ring the last run applied (meta key "ring"); version 0 if none was saved.
// Errors: storage errors, corruption.
Result<gossip::RingState> load_saved_ring(storage::Storage& storage);
// True if this node owned partitions and has not left since (meta key "ring_member").
bool was_ring_member(storage::Storage& storage);

class Server final : public Transport {
 public:
  // `storage` and `clock` outlive the server. `ring` is the initial ring (the one saved by
  // the last run, else the configured members' claim; version 0 for a node joining from
  // seeds); `generation` grows at every start.
  Server(boost::asio::io_context& io, const DaemonConfig& config, gossip::RingState ring,
         storage::Storage& storage, const Clock& clock, causal::Actor actor, uint64_t generation);
  ~Server() override;

  // Listens on the client and peer ports. Errors: io_error naming the address.
  Status start();
  uint16_t client_port() const { return client_server_.port(); }
  uint16_t peer_port() const { return peer_server_.port(); }

  // Graceful stop: stops accepting clients, answers new requests on open connections with
  // unavailable, waits for in-flight requests (up to shutdown_drain), then closes every
  // connection and calls `done`.
  void shutdown(std::function<void()> done);

  const Node& node() const { return node_; }
  // Called once when this node has left the ring: it owns and holds nothing, its hints are
  // delivered and its removed status has had a few gossip rounds to spread. qkvd then stops
  // as on SIGTERM.
  void set_on_removed(std::function<void()> f) { on_removed_ = std::move(f); }

  // Anti-entropy trees across a clean restart (node/anti_entropy.h save_trees). At start:
  // installs the trees a clean stop saved (only if `after_clean_stop`), then clears them in
  // storage so that a crash from here on finds none and trees are rebuilt by a scan.
  // Errors: storage errors; a corrupt saved value is logged and ignored (trees rebuilt).
  Status load_saved_trees(bool after_clean_stop);
  // At a clean stop, after the drain: commits what is staged and saves the built trees.
  Status save_trees();
  const gossip::GossipCore& gossip() const { return gossip_; }

  // Transport (called by the node core).
  Status send(const NodeId& to, PeerMessage message) override;
  void reply(ClientId client, proto::ClientResponse response) override;

 private:
  void on_client_connection(std::shared_ptr<transport::FramedConnection> connection);
  void on_client_frame(ClientId id, kj::ArrayPtr<const capnp::word> frame);
  void on_peer_connection(std::shared_ptr<transport::FramedConnection> connection);
  // Opens a group-commit batch in the node for the rest of this io_context turn.
  void batch_writes();
  void arm_tick();
  void send_gossip(std::vector<gossip::Outgoing> outgoing);
  void on_gossip_events();
  // The ring (server_ring.cc): gossip's ring to the core and to storage; the own status;
  // transfer progress and applied versions; the claimant; leaving.
  void apply_ring();
  void update_own_status();
  void update_ring_progress(TimePoint now);
  void publish_ring(gossip::RingState ring);
  void maybe_exit(TimePoint now);
  proto::ClientResponse ring_admin(uint64_t request_id, const proto::RingAdminRequest& request);
  void fill_plan(proto::RingAdminResponse& body, const RingPlan& plan);
  void learn_address(const gossip::NodeState& state);
  proto::MembersResponse members_response() const;
  std::vector<std::pair<std::string, uint64_t>> extra_counters() const;
  void log_progress();
  void drain_step(TimePoint until, std::function<void()> done);
  // Keeps a link open to every member, once per gossip interval: a member that dies then
  // breaks it and is convicted at once, whatever gossip peers it was picking.
  void open_member_links(TimePoint now);

  boost::asio::io_context& io_;
  const DaemonConfig& config_;
  const Clock& clock_;
  storage::Storage& storage_;
  handoff::HintedHandoff handoff_;
  gossip::GossipCore gossip_;
  Node node_;
  Claimant claimant_;
  bool was_member_ = false;  // this node has owned partitions (a leave ends in removal)
  std::optional<TimePoint> removed_at_;
  std::function<void()> on_removed_;
  TimePoint ring_progress_due_{};
  uint64_t last_applied_ = UINT64_MAX;
  std::map<std::string, uint64_t> membership_counters_;  // node_up, node_down, ...
  TimePoint last_progress_log_{};
  TimePoint next_links_check_{};  // when open_member_links() runs next
  uint64_t logged_delivered_ = 0, logged_repairs_ = 0;
  transport::TransportOptions transport_options_;
  transport::TcpServer client_server_;
  transport::TcpServer peer_server_;
  transport::PeerLinks peer_links_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer drain_timer_;
  std::map<ClientId, std::shared_ptr<transport::FramedConnection>> clients_;
  ClientId next_client_id_ = 1;
  bool shutting_down_ = false;
};

}  // namespace qkv::node
