// qkvd's [tls]: contexts for the client port, the peer port and the peer links, their
// rotation, and the check that a peer is who its messages say (docs/security.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "node/log_writer.h"
#include "node/server.h"
#include "proto/client_codec.h"

namespace qkv::node {
namespace {

// What a plaintext client reads from a TLS client port before it is closed: an answer to
// request 0 (as for a frame error), so the SDK and qkvctl print the reason.
std::vector<std::byte> plaintext_refusal() {
  auto frame = proto::encode(proto::ClientResponse{
      0,
      Status::unavailable("this port speaks TLS only: connect with TLS (qkvctl --ca FILE, or "
                          "the SDK's tls options; docs/security.md)"),
      {}});
  std::vector<std::byte> bytes(frame.size() * sizeof(capnp::word));
  std::memcpy(bytes.data(), frame.begin(), bytes.size());
  return bytes;
}

}  // namespace

Status Server::start_tls() {
  const TlsConfig& tls = config_.tls;
  if (!tls.enabled()) return Status::ok();
  net::TlsOptions options{tls.cert_file, tls.key_file, tls.ca_file, tls.min_version, false};
  auto load = [&](net::TlsRole role, bool require_client_cert,
                  std::unique_ptr<net::TlsContextSource>& out) -> Status {
    options.require_client_cert = require_client_cert;
    auto source = net::TlsContextSource::load(role, options);
    if (!source) return source.status();
    out = std::move(source).value();
    return Status::ok();
  };
  QKV_RETURN_IF_ERROR(load(net::TlsRole::kServer, tls.client_auth == "require", tls_client_port_));
  QKV_RETURN_IF_ERROR(load(net::TlsRole::kServer, true, tls_peer_port_));
  QKV_RETURN_IF_ERROR(load(net::TlsRole::kClient, false, tls_peer_links_));
  // The HTTP port never requires a client certificate: the kubelet's probes and most
  // scrapers present none ([auth] asks for HTTP Basic credentials instead).
  QKV_RETURN_IF_ERROR(load(net::TlsRole::kServer, false, tls_http_port_));
  auto on_failure = [this](const char* port) {
    return [this, port](const Status& status) {
      // Anyone can fail handshakes as fast as they connect: the log gets a burst, then a
      // line a second naming how many were left out (the counters count them all).
      tls_failure_log_.refill(clock_.now());
      if (!tls_failure_log_.try_take()) {
        ++tls_failures_unlogged_;
        return;
      }
      log_event(LogEvent::warn("tls_handshake_failed")
                    .with("port", port)
                    .with("error", status)
                    .with("unlogged_before", std::exchange(tls_failures_unlogged_, 0)));
    };
  };
  client_server_.set_tls([this] { return tls_client_port_->current(); }, plaintext_refusal(),
                         on_failure("client"));
  peer_server_.set_tls([this] { return tls_peer_port_->current(); }, {}, on_failure("peer"));
  peer_links_.set_tls([this] { return tls_peer_links_->current(); }, &Server::node_of_link);
  if (http_server_) {
    http_server_->set_tls([this] { return tls_http_port_->current(); }, on_failure("http"));
  }
  log_event(LogEvent::info("tls_on")
                .with("cert_file", tls.cert_file)
                .with("ca_file", tls.ca_file)
                .with("min_version", tls.min_version)
                .with("client_auth", tls.client_auth));
  arm_tls_reload();
  return Status::ok();
}

void Server::arm_tls_reload() {
  tls_reload_timer_.expires_after(std::chrono::milliseconds(config_.tls.reload_interval_ms));
  tls_reload_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    // One failure is enough to log: all four read the same files.
    Status failed = Status::ok();
    bool reloaded = false;
    for (auto* source : {&tls_client_port_, &tls_peer_port_, &tls_peer_links_, &tls_http_port_}) {
      auto result = (*source)->reload_if_changed();
      if (!result) failed = result.status();
      reloaded = reloaded || (result.is_ok() && *result);
    }
    if (reloaded) {
      ++tls_reloads_;
      log_event(LogEvent::info("tls_reloaded").with("cert_file", config_.tls.cert_file));
    }
    if (!failed.is_ok()) {
      log_event(LogEvent::warn("tls_reload_failed")
                    .with("error", failed)
                    .with("action", "keeping the previous certificate; retrying"));
    }
    arm_tls_reload();
  });
}

bool Server::sender_authenticated(const net::Connection& connection, const NodeId& claimed) {
  if (!connection.is_tls()) return true;
  const auto& names = connection.peer_names();
  if (std::find(names.begin(), names.end(), claimed) != names.end()) return true;
  ++peer_sender_refusals_;
  log_event(LogEvent::warn("peer_sender_refused")
                .with("claimed", claimed)
                .with("certificate_names", fmt::format("{}", fmt::join(names, ",")))
                .with("remote", connection.remote_endpoint())
                .with("action", "message dropped, connection closed"));
  return false;
}

}  // namespace qkv::node
