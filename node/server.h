// Server: qkvd's driver. It runs the node host (node/host.h: the node core, its membership
// and hinted handoff) on one io_context thread, the core thread, with Asio for every socket
// and timer: a TCP server for clients, a TCP server for peers, outbound peer links, and a
// tick timer. It executes the core's effects (Transport), feeds it events and logs. It also
// serves the HTTP operations port (node/http_api.h) as the OpsView of the node
// (server_ops.cc).
//
// Threads: with io_threads > 1 the sockets of accepted client and peer connections and of
// the outbound peer links are served by io_threads - 1 I/O threads (net/io_threads.h):
// their reads, writes and TLS run there, while every frame is handled here, on the core
// thread, so the node core stays single-threaded. The HTTP port stays here.
//
// Thread-safety: none; construct, call and destroy on the io_context's thread.
#pragma once

#include <functional>
#include <map>
#include <memory>

#include "common/asio.h"
#include "common/clock.h"
#include "common/token_bucket.h"
#include "net/http_server.h"
#include "net/io_threads.h"
#include "net/peer_links.h"
#include "net/tcp_server.h"
#include "net/tls.h"
#include "node/access_control.h"
#include "node/daemon_config.h"
#include "node/host.h"
#include "node/http_api.h"
#include "node/storage_thread.h"

namespace qkv::node {

class Server final : public Transport, public OpsView {
 public:
  // `storage` and `clock` outlive the server. `boot` is what this start read from its disk
  // (node/host.h): the incarnation, the generation, and the ring it begins with.
  Server(boost::asio::io_context& io, const DaemonConfig& config, const Boot& boot,
         storage::Storage& storage, const Clock& clock);
  ~Server() override;

  // Listens on the client, peer and HTTP ports. Errors: io_error naming the address.
  Status start();
  uint16_t client_port() const { return client_server_.port(); }
  uint16_t peer_port() const { return peer_server_.port(); }
  uint16_t http_port() const { return http_server_ ? http_server_->port() : 0; }

  // Graceful stop: stops accepting clients, answers new requests on open connections with
  // unavailable, waits for in-flight requests (up to shutdown_drain), then closes every
  // connection and calls `done`.
  void shutdown(std::function<void()> done);

  const Node& node() const { return host_.node(); }
  // Called once when this node has left the ring: it owns and holds nothing, its hints are
  // delivered and its removed status has had a few gossip rounds to spread. qkvd then stops
  // as on SIGTERM.
  void set_on_removed(std::function<void()> f) { on_removed_ = std::move(f); }
  // Called once when membership says this node must not go on (Membership::fatal(): its
  // configured first ring disagrees with a cluster it met); it has logged why. qkvd then
  // stops as on SIGTERM and exits 2.
  void set_on_fatal(std::function<void()> f) { on_fatal_ = std::move(f); }

  // Anti-entropy trees across a clean restart (node/anti_entropy.h save_trees). At start:
  // installs the trees a clean stop saved (only if `after_clean_stop`), then clears them in
  // storage so that a crash from here on finds none and trees are rebuilt by a scan.
  // Errors: storage errors; a corrupt saved value is logged and ignored (trees rebuilt).
  Status load_saved_trees(bool after_clean_stop);
  // At a clean stop, after the drain: commits what is staged and saves the built trees.
  Status save_trees();
  const gossip::GossipCore& gossip() const { return host_.membership().gossip(); }
  // Wall-clock ms (hint ages, Merkle tree ages across restarts, metrics): the one place the
  // driver reads the wall clock.
  static int64_t unix_now_ms();

  // Transport (called by the node core).
  Status send(const NodeId& to, PeerMessage message) override;
  Status send_copy_of(const NodeId& to, const PeerMessage& message) override;
  void reply(ClientId client, proto::ClientResponse response) override;

  // OpsView (node/http_api.h; server_ops.cc).
  proto::StatusResponse status() const override;
  proto::MembersResponse members() const override;
  Result<proto::RingResponse> ring() const override;
  const Latencies& latencies() const override { return node_.latencies(); }
  std::string metrics() const override;
  std::vector<std::string> not_started() const override;
  std::vector<std::string> not_ready(bool settled) const override;

 private:
  void on_client_connection(std::shared_ptr<net::Connection> connection);
  void on_client_frame(ClientId id, kj::ArrayPtr<const capnp::word> frame);
  // Writes an answer to a client connection (dropped if it is gone); reply() is this for
  // answers to counted requests, this alone for the Server's own refusals.
  void send_to_client(ClientId client, proto::ClientResponse response);
  void on_peer_connection(std::shared_ptr<net::Connection> connection);
  // Sets the address of `id`'s links (replica traffic, and background: see server.cc).
  void set_peer_address(const NodeId& id, const std::string& host, uint16_t port);
  // Link liveness probes (net/peer_links.h): pings out, pongs back to peer_links_.
  void set_up_link_probes();
  // Ok, or the overloaded refusal of a key request on connection `id` (counted): while
  // shedding (in_flight_max), over client_requests_per_connection_max in flight,
  // client_requests_per_second_max, or its user's requests_per_second_max (admit_user).
  Status admit(ClientId id);
  Status admit_user(ClientId id);
  // Opens a group-commit batch in the node for the rest of this io_context turn.
  void batch_writes();
  // The storage thread's write ended: the node takes its status and goes on.
  void on_commit_done();
  // Pauses reading every client connection when the node has limits.in_flight_max requests
  // in flight that no local client waits for (Node::in_flight_unawaited), and resumes once
  // it is back under 3/4 of it. After each io turn and tick. A pause that lasts
  // limits.client_pause_ms_max turns into shedding: connections are read again and admit()
  // refuses their key requests until the node is back under 3/4.
  void backpressure();
  void pause_clients();
  void resume_clients();
  void set_clients_reading(bool reading);
  void arm_tick();
  // [tls] (node/server_tls.cc): loads the contexts and turns TLS on for the client port,
  // the peer port (mutual TLS), the peer links and the HTTP port; then checks the files for
  // rotation every reload_interval_ms. Errors name the file and OpenSSL's reason.
  Status start_tls();
  void arm_tls_reload();
  // Over TLS, whether `connection`'s certificate names `claimed` (the sender a peer
  // message names); a mismatch is logged and counted. Always true over plain TCP.
  bool sender_authenticated(const net::Connection& connection, const NodeId& claimed);
  // [auth] (node/server_auth.cc): loads the users file and checks it for changes every
  // reload_interval_ms. Errors name the file and the bad entry.
  Status start_auth();
  void arm_auth_reload();
  // Answers an AuthenticateRequest: the connection becomes the user, or gets
  // unauthenticated (counted, logged at a bounded rate).
  void authenticate(ClientId id, uint64_t request_id, const proto::AuthenticateRequest& request);
  // Ok, or the refusal of `request` on connection `id`: unauthenticated without a user,
  // permission_denied without the grant. Admin requests are audit-logged either way.
  Status check_access(ClientId id, const proto::ClientRequest& request);
  // The HTTP port's gate: with [auth], every path but the health probes needs HTTP Basic
  // credentials of a user; without, the request is served as is.
  net::HttpResponse serve_http_request(const net::HttpRequest& request);
  // The user `request`'s HTTP Basic credentials log in as; unauthenticated without them or
  // when wrong (counted, logged at a bounded rate), overloaded past the check budget.
  // REQUIRES: authenticator_.
  Result<std::string> http_user(const net::HttpRequest& request);
  // The HTTP port (server_http_kv.cc): its options (the head fits a key of key_bytes_max,
  // /v1/kv/ bodies follow value_bytes_max), every request's entry, and the key-value API,
  // which takes the client port's path (auth, grants, admission, the node core) under a
  // ClientId per HTTP connection.
  static net::HttpOptions http_options(const Limits& limits);
  void on_http_request(net::HttpRequest request, net::HttpServer::Respond respond);
  void serve_http_kv(const net::HttpRequest& request, net::HttpServer::Respond respond);
  ClientId http_client(uint64_t connection);
  void on_http_close(uint64_t connection);
  // Writes `response` to the HTTP request of `client` waiting for it; false if `client` is
  // not an HTTP one waiting.
  bool answer_http(ClientId client, const proto::ClientResponse& response);
  // Whether a refusal (permission_denied, auth_failed) may be logged now: a burst of 10,
  // then one a second; the others are counted in refusals_unlogged_.
  bool refusal_to_log();
  // The node a peer link ("n2", "bg:n2") dials; "" for a gossip link ("@" + address).
  static NodeId node_of_link(const NodeId& link);
  void send_gossip(std::vector<gossip::Outgoing> outgoing);
  void learn_address(const gossip::NodeState& state);
  std::vector<std::pair<std::string, uint64_t>> extra_counters() const;
  // Logs what the cores queued, and hint deliveries and read repairs once a second.
  void log_progress();
  void drain_step(TimePoint until, std::function<void()> done);
  // Keeps a link open to every member, once per gossip interval: a member that dies then
  // breaks it and is convicted at once, whatever gossip peers it was picking.
  void open_member_links(TimePoint now);

  boost::asio::io_context& io_;
  const DaemonConfig& config_;
  const Clock& clock_;
  storage::Storage& storage_;
  NodeHost host_;
  Node& node_;  // host_.node()
  std::function<void()> on_removed_;
  std::function<void()> on_fatal_;
  TimePoint last_progress_log_{};
  TimePoint next_links_check_{};  // when open_member_links() runs next
  uint64_t logged_delivered_ = 0, logged_repairs_ = 0;
  net::TransportOptions transport_options_;       // the client port
  net::TransportOptions peer_transport_options_;  // the peer port and links: silence bounds
  // [storage] commit_thread: writes the node's group commits (node/committer.h); null: the
  // core thread writes them.
  std::unique_ptr<StorageThread> storage_thread_;
  // Serve the client and peer sockets (io_threads - 1 of them; none: all here).
  // Declared before every connection so it is destroyed after them.
  net::IoThreads io_threads_;
  net::TcpServer client_server_;
  net::TcpServer peer_server_;
  net::PeerLinks peer_links_;
  std::unique_ptr<net::HttpServer> http_server_;  // null when http_listen is off
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer pause_timer_;  // client_pause_ms_max of the current pause
  // [tls]: null when off. The client port's, the peer port's (client certificates
  // required), the peer links' (client role) and the HTTP port's contexts, each following
  // the files.
  std::unique_ptr<net::TlsContextSource> tls_client_port_, tls_peer_port_, tls_peer_links_,
      tls_http_port_;
  boost::asio::steady_timer tls_reload_timer_;
  uint64_t peer_sender_refusals_ = 0;   // peer messages whose sender the certificate did not name
  TokenBucket tls_failure_log_{1, 10};  // tls_handshake_failed lines: 1 a second, bursts of 10
  uint64_t tls_failures_unlogged_ = 0;
  uint64_t tls_reloads_ = 0;
  std::unique_ptr<Authenticator> authenticator_;  // null without [auth]
  std::string users_fingerprint_;                 // common/file_fingerprint.h
  boost::asio::steady_timer auth_reload_timer_;
  std::map<ClientId, std::string> users_of_;  // connection -> the user it authenticated as
  TokenBucket refusal_log_{1, 10};            // access refusals logged: 1 a second, bursts of 10
  uint64_t refusals_unlogged_ = 0;
  uint64_t auth_failures_ = 0;             // logins refused (client and HTTP ports)
  uint64_t unauthenticated_refusals_ = 0;  // requests refused for want of a user
  uint64_t permission_denials_ = 0;        // requests refused for want of a grant
  uint64_t users_reloads_ = 0;
  std::map<ClientId, std::shared_ptr<net::Connection>> clients_;
  // Requests of each client connection not yet answered (client_requests_per_connection_max).
  std::map<ClientId, uint32_t> outstanding_;
  // Each connection's client_requests_per_second_max bucket (when that limit is set).
  std::map<ClientId, TokenBucket> rate_limits_;
  // Each user's requests_per_second_max bucket on this node (users with a limit that sent
  // a key request; a user the users file no longer has is dropped at the reload).
  struct UserRateLimit {
    uint32_t rate;
    TokenBucket bucket;
  };
  std::map<std::string, UserRateLimit, std::less<>> user_rate_limits_;
  uint64_t user_refusals_ = 0;          // key requests refused by admit() for a user's rate
  uint64_t connection_refusals_ = 0;    // key requests refused by admit() for a connection's limit
  uint64_t backpressure_refusals_ = 0;  // ... and while shedding_
  bool clients_paused_ = false;         // over in_flight_max: see backpressure()
  bool shedding_ = false;  // paused past client_pause_ms_max: read, and refuse key requests
  uint64_t client_read_pauses_ = 0;
  uint64_t client_shedding_spells_ = 0;  // pauses that turned into shedding
  ClientId next_client_id_ = 1;
  std::map<uint64_t, ClientId> http_clients_;  // HTTP connection -> its ClientId
  // HTTP key-value requests the node core has not answered yet (one per HTTP connection).
  std::map<ClientId, net::HttpServer::Respond> http_waiting_;
  bool shutting_down_ = false;
  bool started_ = false;  // start() succeeded: every port listens
};

}  // namespace qkv::node
