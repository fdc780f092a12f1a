// PeerLinks: qkvd's outbound links to the other nodes, one TCP connection per peer NodeId.
//
// A link connects lazily, on the first send(); frames sent while it connects are queued
// (bounded by send_queue_bytes_max) and flushed, in order, once connected. Delivery is best
// effort: when a connect attempt fails (or times out after connect_timeout_ms) or an
// established link breaks, the frames queued for it are dropped (callers have their own
// deadlines: quorum rounds time out, hints cover writes) and the link backs off. The first
// backoff is kReconnectBackoffMsInitial, doubling per failure up to reconnect_backoff_ms_max;
// a success resets it. Sends during a backoff fail fast with unavailable; the first send
// after it reconnects (or open(), which qkvd calls for every member once a gossip round).
//
// Silent links: TCP alone may take minutes to notice a peer that stopped answering (a
// partition drops packets; Linux doubles its retransmission timer up to 120 s), and never
// notices a paused process whose kernel still acknowledges. So, once set_ping() is called,
// every connected link carries an application-level ping every ping_interval_ms, which the
// peer answers on the same connection; the owner hands each answer to on_pong(). A link
// whose oldest unanswered ping is older than peer_silence_ms_max is torn down as a broken
// one is (counted in links_silent; the unreachable handler is told) and redialled, so a
// link that went silent is replaced within seconds of the network healing. Connections
// also get TransportOptions::tcp_silence_ms_max (TCP_USER_TIMEOUT and keepalive) when set.
//
// Replies travel on the other node's own outbound link (to our peer port), so frames that
// arrive on an outbound link are only passed to the optional frame handler.
//
// Threads: with set_io_threads() each connected socket moves to an I/O thread (its TLS
// handshake runs there too), and the link keeps a ThreadedConnection (net/io_threads.h).
//
// Thread-safety: none. Construct, call and destroy on the io_context's one thread; handlers
// run there too. No locks are taken or needed.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/asio.h"
#include "common/node_id.h"
#include "common/status.h"
#include "net/connection.h"
#include "net/framed_connection.h"
#include "net/io_threads.h"
#include "net/tls.h"
#include "net/transport_options.h"

namespace qkv::net {

namespace asio = boost::asio;

// The first backoff after a failure (then doubling, up to reconnect_backoff_ms_max).
inline constexpr uint32_t kReconnectBackoffMsInitial = 50;

class PeerLinks {
 public:
  // A frame that arrived on the outbound link to `from`; valid only during the call.
  using FrameHandler =
      std::function<void(const NodeId& from, kj::ArrayPtr<const capnp::word> frame)>;

  struct Counters {
    uint64_t frames_sent = 0;     // frames handed to a connected link's FramedConnection
    uint64_t frames_dropped = 0;  // frames queued while connecting, dropped by a failure
                                  // or close_all() (frames a broken connection still held
                                  // are not counted)
    uint64_t connects = 0;        // connect attempts that succeeded
    uint64_t connect_failures = 0;
    uint64_t links_broken = 0;  // established links that closed (not by close_all)
    uint64_t links_silent = 0;  // links torn down: a ping unanswered for peer_silence_ms_max
    uint64_t pings_sent = 0;
    uint64_t tls_handshake_failures = 0;  // connects whose TLS handshake failed (also
                                          // counted in connect_failures)
  };

  PeerLinks(asio::io_context& io, TransportOptions options);
  ~PeerLinks();  // close_all()

  PeerLinks(const PeerLinks&) = delete;
  PeerLinks& operator=(const PeerLinks&) = delete;

  // Where `id` listens (its peer port). `host` is an IP address or a name (resolved on each
  // connect). Changing the address of a known peer closes its link (queued frames are
  // dropped) and resets its backoff; setting the same address again does nothing.
  void set_address(const NodeId& id, std::string host, uint16_t port);

  // Optional: frames arriving on outbound links. Without it they are discarded.
  void set_on_frame(FrameHandler handler) { on_frame_ = std::move(handler); }

  // Optional: called when a link to a peer goes down: a connect attempt failed
  // (`never_sent`: the frames queued for it were dropped unsent, so callers may retry them
  // elsewhere) or an established connection broke (`never_sent` false: frames sent on it may
  // have arrived). Either way the peer is unreachable now, which a failure detector may take
  // as direct evidence. Runs from an Asio completion handler, never inside send().
  using UnreachableHandler =
      std::function<void(const NodeId& peer, const std::string& why, bool never_sent)>;
  void set_on_unreachable(UnreachableHandler handler) { on_unreachable_ = std::move(handler); }

  // TLS: from now on every link completes a client handshake (connect_tls in net/tls.h)
  // with the context `context()` returns at that moment, within connect_timeout_ms, and
  // verifies that the certificate names the node `node_of(link id)` ("": any certificate
  // from the context's CAs, for links known only by address). A failed handshake is a
  // failed connect (backoff; the unreachable handler hears OpenSSL's reason).
  using TlsContextFn = std::function<std::shared_ptr<asio::ssl::context>()>;
  void set_tls(TlsContextFn context, std::function<std::string(const NodeId& link)> node_of);

  // From now on connected sockets are served by `threads` (round-robin). Null or empty: on
  // this thread. `threads` outlives the links.
  void set_io_threads(IoThreads* threads) { io_threads_ = threads; }

  // Turns on liveness probes (see the top of this file): `make_ping(seq)` encodes a ping
  // whose answer the owner passes to on_pong(link, seq). No effect with ping_interval_ms 0.
  using PingMaker = std::function<kj::Array<capnp::word>(uint64_t seq)>;
  void set_ping(PingMaker make_ping);
  // The answer to ping `seq`, received on the outbound link `id`: answers that ping and
  // every earlier one. Unknown ids, links not connected and stale answers: no effect.
  void on_pong(const NodeId& id, uint64_t seq);

  // True while `id`'s link is connected and its oldest unanswered ping is older than
  // ping_interval_ms: a suspicion, long before peer_silence_ms_max tears the link down.
  // False for unknown ids, links not connected, and without pings.
  bool silent(const NodeId& id) const;

  // Queues `frame` (one whole framed message) for `to`, connecting if needed. Ok means
  // queued, not delivered. Errors (the frame is not queued):
  //   invalid_argument  `to` has no address (set_address was never called for it)
  //   unavailable       the link is backing off after a failure; the message names the
  //                     peer, its address, the last error and the time left
  //   overloaded        the link's queue would exceed send_queue_bytes_max
  Status send(const NodeId& to, kj::Array<capnp::word> frame);

  // Connects the link to `id` now if it is idle (never connected, or closed), so that a
  // peer's death shows as a broken connection at once (as a Riak node sees nodedown) rather
  // than only after a failure detector's silence. No effect on unknown ids, links connected
  // or connecting, or links backing off until their retry time.
  void open(const NodeId& id);

  // Evidence that `id` is up (it sent us a message on its own link): ends a backoff so
  // the next send() connects at once. Otherwise a restarted peer could not get replies
  // from us until our backoff ran out. Unknown ids and links not backing off: no effect.
  void peer_is_alive(const NodeId& id);

  // Closes every link and drops the frames queued for them; addresses are kept and backoffs
  // reset, so a later send() connects again. Idempotent.
  void close_all();

  const Counters& counters() const { return counters_; }
  // Bytes waiting to be sent on each link, by peer: queued while connecting, or queued and
  // in flight on the connection (what send_queue_bytes_max bounds). Links with none are
  // left out.
  std::map<NodeId, uint64_t> queued_bytes() const;

 private:
  struct Link;

  void connect(const std::shared_ptr<Link>& link);
  void on_connect_result(const std::shared_ptr<Link>& link, const boost::system::error_code& ec);
  void on_connected(const std::shared_ptr<Link>& link, std::shared_ptr<Connection> connection);
  // The connected socket goes to an I/O thread, which does the TLS handshake if any.
  void hand_to_io_thread(const std::shared_ptr<Link>& link);
  // Ends the link's attempt or connection (dropping its queue) and starts its next backoff.
  // `never_sent`: the link never connected, so its dropped frames never left (and the
  // unreachable handler is told).
  void back_off(const std::shared_ptr<Link>& link, const std::string& why, bool never_sent = true);
  void reset(Link& link);
  // A link whose backoff has run out becomes idle (the next send or open connects).
  void end_backoff_if_due(Link& link);
  Status unavailable(const Link& link) const;
  // Every ping_interval_ms: tears down silent links and pings the connected ones.
  void arm_probe();
  void probe();

  asio::io_context& io_;
  TransportOptions options_;
  FrameHandler on_frame_;
  UnreachableHandler on_unreachable_;
  Counters counters_;
  PingMaker make_ping_;
  TlsContextFn tls_context_;  // null: plain TCP
  IoThreads* io_threads_ = nullptr;
  std::function<std::string(const NodeId&)> tls_node_of_;
  uint64_t next_ping_seq_ = 1;
  asio::steady_timer probe_timer_;
  std::map<NodeId, std::shared_ptr<Link>> links_;  // ordered: close_all() is deterministic
  // Completion handlers hold a weak_ptr to this token and do nothing once it is gone.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace qkv::net
