// Limits and timings of qkvd's TCP transport (client port and peer port). Units are in
// the names (design.md §4.5): bytes, milliseconds. Values are copied into each
// FramedConnection, TcpServer and PeerLinks at construction.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qkv::net {

struct TransportOptions {
  // Largest frame (segment table + segments) a connection accepts from its peer; a larger
  // one is a frame error (invalid_argument naming this limit) and ends the connection.
  uint64_t frame_bytes_max = 32ull * 1024 * 1024;  // 32 MiB, as Limits::frame_bytes_max
  // Bytes a connection (or a connecting peer link) may hold queued for sending, in flight
  // included. A send that would exceed it fails with overloaded instead of queuing.
  uint64_t send_queue_bytes_max = 64ull * 1024 * 1024;  // 64 MiB
  // Free buffer space offered to each read: large reads take many frames per syscall.
  std::size_t read_chunk_bytes = 64 * 1024;  // 64 KiB
  // Deadline of one outbound connect attempt (resolve + TCP connect).
  uint32_t connect_timeout_ms = 1000;
  // Ceiling of the doubling backoff between outbound connect attempts to one peer.
  uint32_t reconnect_backoff_ms_max = 1000;
  // After a graceful close (close_after_flush) has flushed and shut down the sending side,
  // how long to keep draining the peer's bytes before closing. Draining avoids a TCP reset
  // that could destroy the last frame (e.g. an error frame) before the peer reads it.
  uint32_t close_linger_ms = 1000;
  // Silence bound of a connection (0: the OS defaults, which may take minutes). When set,
  // the socket gets TCP_USER_TIMEOUT of this many ms (sent data unacknowledged for longer
  // ends the connection) and TCP keepalive probing an idle connection after a third of it,
  // so a peer that vanished (a partition, a dead host) is noticed within about this long
  // even with nothing to send. qkvd sets it on peer sockets only (peer_silence_ms_max).
  uint32_t tcp_silence_ms_max = 0;
  // PeerLinks' application-level liveness probes (net/peer_links.h): a ping every
  // ping_interval_ms on every connected link (0: no pings); a link whose oldest
  // unanswered ping is older than peer_silence_ms_max is torn down and redialled.
  uint32_t ping_interval_ms = 250;
  uint32_t peer_silence_ms_max = 3000;
  // Deadline of one TLS handshake (with the plaintext check before it), either side.
  uint32_t tls_handshake_timeout_ms = 5000;
};

}  // namespace qkv::net
