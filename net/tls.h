// TLS for qkv's ports (issue 16, docs/security.md): OpenSSL 3 through Boost.Asio SSL.
//
// A TlsContextSource builds an asio::ssl::context from PEM files and rebuilds it when the
// files change, so a rotated certificate (a Kubernetes Secret update, cert-manager's
// renewal) is used by every connection made afterwards without a restart; connections
// already open keep the context they were made with (each holds its shared_ptr).
//
// Certificates name nodes (certificate_names): a peer's node id is taken from its
// certificate, never from what its messages claim.
//
// Thread-safety: none; qkvd uses one io_context thread. Contexts themselves may be shared
// by connections on that thread.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/status.h"

// <boost/asio/ssl.hpp> after common/asio.h (its include-order workaround).
#include <boost/asio/ssl.hpp>

namespace qkv::net {

// One end's TLS settings (qkvd's [tls] section; the client SDK's and qkvctl's --ca,
// --cert, --key).
struct TlsOptions {
  std::string cert_file;  // PEM: this end's certificate, then its chain; empty: present none
  std::string key_file;   // PEM: the private key of cert_file (unencrypted)
  // PEM bundle of the CAs trusted to sign the other end's certificate. Empty: a server
  // verifies no client certificates; a client uses the system's default trust store.
  std::string ca_file;
  // The oldest protocol accepted: "1.3" (the default) or "1.2".
  std::string min_version = "1.3";
  // Server: refuse a client that presents no certificate signed by ca_file (mutual TLS,
  // what the peer port always requires). Clients always verify the server.
  bool require_client_cert = false;
};

enum class TlsRole { kServer, kClient };

// A context built from `options`' files. Errors: invalid_argument naming the setting and
// file and OpenSSL's reason ("tls cert_file /x/tls.crt: No such file or directory"; "the
// key in key_file ... does not match the certificate in cert_file ..."); a server without
// cert_file or key_file.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(TlsRole role,
                                                                    const TlsOptions& options);

// A context that follows its files.
class TlsContextSource {
 public:
  // Errors: as make_tls_context.
  static Result<std::unique_ptr<TlsContextSource>> load(TlsRole role, TlsOptions options);

  // The context for new connections. Never null.
  const std::shared_ptr<boost::asio::ssl::context>& current() const { return context_; }

  // Rebuilds the context when any file's modification time or size changed since the last
  // load. Returns true when it did; an error when the new files do not load (e.g. a key
  // written before its certificate during a rotation), in which case the old context stays
  // in use and the next call tries again.
  Result<bool> reload_if_changed();

 private:
  TlsContextSource(TlsRole role, TlsOptions options) : role_(role), options_(std::move(options)) {}
  // (modification time ns, size) of each file, "" for a file not set or not readable.
  std::string fingerprint() const;

  TlsRole role_;
  TlsOptions options_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::string fingerprint_;
};

// The names a certificate gives its subject, in order: the <id> of each URI SAN
// "urn:qkv:node:<id>", each DNS SAN, and the first label of each DNS SAN; the subject's
// CN only when the certificate has no DNS or URI SAN (RFC 6125 §6.4.4). A wildcard label
// names nothing.
std::vector<std::string> certificate_names(X509* certificate);

// Whether `certificate` names `node_id` (certificate_names holds it). A node's
// certificate may thus name it "urn:qkv:node:n1", "n1", or in Kubernetes
// "qkv-0.qkv.default.svc.cluster.local" for node "qkv-0".
bool certificate_names_node(X509* certificate, std::string_view node_id);

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
using TlsHandshakeHandler = std::function<void(Result<TlsStream> stream)>;

// Server side of a TLS connection on an accepted socket. A client whose first byte is not
// a TLS handshake record speaks plaintext: it is sent `plaintext_refusal` (when not empty:
// one frame telling it to use TLS), and `done` gets unavailable ("... spoke plaintext to
// a TLS port"). A handshake that fails (untrusted or expired certificate, none where one
// is required, an old protocol) or takes longer than `timeout_ms` ends the same way, with
// OpenSSL's reason. `done` runs exactly once, on the socket's executor.
void accept_tls(boost::asio::ip::tcp::socket socket,
                std::shared_ptr<boost::asio::ssl::context> context, uint32_t timeout_ms,
                std::shared_ptr<const std::vector<std::byte>> plaintext_refusal,
                TlsHandshakeHandler done);

// Client side on a connected socket: verifies the server's certificate chain against the
// context's CAs and that it names `server_name` — for a host name or IP address
// (RFC 6125: DNS or IP SAN; sent as SNI when a name), or with `server_is_node` set, a
// node id (certificate_names_node: peers authenticate each other by node id; an empty
// id accepts any certificate the CAs signed). Errors as accept_tls.
void connect_tls(boost::asio::ip::tcp::socket socket,
                 std::shared_ptr<boost::asio::ssl::context> context, std::string server_name,
                 bool server_is_node, uint32_t timeout_ms, TlsHandshakeHandler done);

}  // namespace qkv::net
