#include "net/tls.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "common/file_fingerprint.h"

namespace qkv::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

// The file can be opened for reading; else why not, in the OS's words.
Status check_readable(std::string_view setting, const std::string& file) {
  if (FILE* f = std::fopen(file.c_str(), "r")) {
    std::fclose(f);
    return Status::ok();
  }
  return Status::invalid_argument(
      fmt::format("tls {} {}: {}", setting, file, std::strerror(errno)));
}

// OpenSSL's reason for the error `ec` reports (asio's message is often only "PEM lib").
std::string reason(const boost::system::error_code& ec) {
  std::string out = ec.message();
  const char* lib_reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  if (lib_reason != nullptr && out.find(lib_reason) == std::string::npos) {
    out += fmt::format(" ({})", lib_reason);
  }
  return out;
}

Status load_files(ssl::context& context, const TlsOptions& o) {
  boost::system::error_code ec;
  if (!o.cert_file.empty()) {
    QKV_RETURN_IF_ERROR(check_readable("cert_file", o.cert_file));
    QKV_RETURN_IF_ERROR(check_readable("key_file", o.key_file));
    if (context.use_certificate_chain_file(o.cert_file, ec); ec) {
      return Status::invalid_argument(
          fmt::format("tls cert_file {}: not a PEM certificate: {}", o.cert_file, reason(ec)));
    }
    if (context.use_private_key_file(o.key_file, ssl::context::pem, ec);
        ec &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) {
      return Status::invalid_argument(
          fmt::format("tls: the key in key_file {} does not match the certificate in cert_file {}",
                      o.key_file, o.cert_file));
    } else if (ec) {
      return Status::invalid_argument(
          fmt::format("tls key_file {}: not a PEM private key: {}", o.key_file, reason(ec)));
    }
    if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
      ERR_clear_error();
      return Status::invalid_argument(
          fmt::format("tls: the key in key_file {} does not match the certificate in cert_file {}",
                      o.key_file, o.cert_file));
    }
  }
  if (!o.ca_file.empty()) {
    QKV_RETURN_IF_ERROR(check_readable("ca_file", o.ca_file));
    if (context.load_verify_file(o.ca_file, ec); ec) {
      return Status::invalid_argument(
          fmt::format("tls ca_file {}: no PEM certificate in it: {}", o.ca_file, reason(ec)));
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_context(TlsRole role, const TlsOptions& o) {
  if (o.min_version != "1.3" && o.min_version != "1.2") {
    return Status::invalid_argument(
        fmt::format("tls min_version '{}': must be \"1.3\" or \"1.2\"", o.min_version));
  }
  if (o.cert_file.empty() != o.key_file.empty()) {
    return Status::invalid_argument("tls: cert_file and key_file go together: set both or neither");
  }
  if (role == TlsRole::kServer && o.cert_file.empty()) {
    return Status::invalid_argument("tls: a server needs cert_file and key_file");
  }
  if (role == TlsRole::kServer && o.require_client_cert && o.ca_file.empty()) {
    return Status::invalid_argument(
        "tls: verifying client certificates needs ca_file (the CA that signs them)");
  }
  auto context = std::make_shared<ssl::context>(
      role == TlsRole::kServer ? ssl::context::tls_server : ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, o.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  QKV_RETURN_IF_ERROR(load_files(*context, o));
  boost::system::error_code ec;
  if (role == TlsRole::kClient) {
    if (o.ca_file.empty()) context->set_default_verify_paths(ec);
    context->set_verify_mode(ssl::verify_peer, ec);
  } else if (o.require_client_cert) {
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  } else {
    context->set_verify_mode(ssl::verify_none, ec);
  }
  return context;
}

Result<std::unique_ptr<TlsContextSource>> TlsContextSource::load(TlsRole role, TlsOptions options) {
  std::unique_ptr<TlsContextSource> source(new TlsContextSource(role, std::move(options)));
  source->fingerprint_ = source->fingerprint();
  auto context = make_tls_context(role, source->options_);
  if (!context.is_ok()) return context.status();
  source->context_ = std::move(context).value();
  return source;
}

std::string TlsContextSource::fingerprint() const {
  std::string out;
  for (const std::string* file : {&options_.cert_file, &options_.key_file, &options_.ca_file}) {
    out += file_fingerprint(*file) + ";";
  }
  return out;
}

Result<bool> TlsContextSource::reload_if_changed() {
  std::string now = fingerprint();
  if (now == fingerprint_) return false;
  auto context = make_tls_context(role_, options_);
  if (!context.is_ok()) return context.status();  // fingerprint_ unchanged: retried next call
  context_ = std::move(context).value();
  fingerprint_ = std::move(now);
  return true;
}

std::vector<std::string> certificate_names(X509* certificate) {
  std::vector<std::string> names;
  if (certificate == nullptr) return names;
  constexpr std::string_view kNodeUri = "urn:qkv:node:";
  bool has_san = false;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  std::vector<std::string> dns;
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type != GEN_DNS && name->type != GEN_URI) continue;
    has_san = true;
    const ASN1_IA5STRING* text =
        name->type == GEN_DNS ? name->d.dNSName : name->d.uniformResourceIdentifier;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                      static_cast<std::size_t>(ASN1_STRING_length(text)));
    if (value.find('\0') != std::string::npos) continue;  // an embedded NUL: a forgery
    if (name->type == GEN_URI) {
      if (value.starts_with(kNodeUri) && value.size() > kNodeUri.size()) {
        names.push_back(value.substr(kNodeUri.size()));
      }
    } else {
      dns.push_back(std::move(value));
    }
  }
  GENERAL_NAMES_free(sans);
  for (const auto& d : dns) {
    if (d.find('*') == std::string::npos) names.push_back(d);
  }
  for (const auto& d : dns) {
    std::string first = d.substr(0, d.find('.'));
    if (first != d && !first.empty() && first.find('*') == std::string::npos) {
      names.push_back(std::move(first));
    }
  }
  if (!has_san) {
    X509_NAME* subject = X509_get_subject_name(certificate);
    char cn[256];
    const int n = X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof cn);
    if (n > 0 && static_cast<std::size_t>(n) == std::strlen(cn)) names.emplace_back(cn, n);
  }
  return names;
}

bool certificate_names_node(X509* certificate, std::string_view node_id) {
  if (node_id.empty()) return false;
  for (const auto& name : certificate_names(certificate)) {
    if (name == node_id) return true;
  }
  return false;
}

namespace {

// One handshake's state: the stream, its deadline, and the handler (run once).
struct Handshake : std::enable_shared_from_this<Handshake> {
  Handshake(asio::ip::tcp::socket socket, std::shared_ptr<ssl::context> ctx,
            TlsHandshakeHandler handler)
      : context(std::move(ctx)),
        stream(std::move(socket), *context),
        timer(stream.get_executor()),
        done(std::move(handler)),
        peer(endpoint_of(stream.next_layer())) {}

  static std::string endpoint_of(const asio::ip::tcp::socket& socket) {
    boost::system::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    return ec ? std::string("(unknown peer)") : fmt::format("{}", endpoint.address().to_string());
  }

  void arm(uint32_t timeout_ms) {
    timer.expires_after(std::chrono::milliseconds(timeout_ms));
    timer.async_wait([self = shared_from_this(), timeout_ms](const boost::system::error_code& ec) {
      if (ec) return;
      self->fail(Status::timeout(
          fmt::format("TLS handshake with {} took longer than {} ms", self->peer, timeout_ms)));
    });
  }

  void fail(Status status) {
    if (!done) return;
    boost::system::error_code ignored;
    stream.next_layer().close(ignored);
    timer.cancel();
    std::exchange(done, nullptr)(std::move(status));
  }

  void succeed() {
    if (!done) return;
    timer.cancel();
    std::exchange(done, nullptr)(std::move(stream));
  }

  void handshake(ssl::stream_base::handshake_type type) {
    stream.async_handshake(type, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) return self->succeed();
      if (!self->done) return;  // timed out already
      std::string why = reason(ec);
      // "certificate verify failed" says little: add what failed (expired, unknown CA...).
      const long verify = SSL_get_verify_result(self->stream.native_handle());
      if (verify != X509_V_OK) why += fmt::format(": {}", X509_verify_cert_error_string(verify));
      self->fail(
          Status::unavailable(fmt::format("TLS handshake with {} failed: {}", self->peer, why)));
    });
  }

  std::shared_ptr<ssl::context> context;
  TlsStream stream;
  asio::steady_timer timer;
  TlsHandshakeHandler done;
  std::string peer;
  std::byte first{};
  std::shared_ptr<const std::vector<std::byte>> refusal;
};

constexpr std::byte kTlsHandshakeRecord{0x16};  // RFC 8446 §5.1: ContentType handshake

}  // namespace

void accept_tls(asio::ip::tcp::socket socket, std::shared_ptr<ssl::context> context,
                uint32_t timeout_ms,
                std::shared_ptr<const std::vector<std::byte>> plaintext_refusal,
                TlsHandshakeHandler done) {
  auto h = std::make_shared<Handshake>(std::move(socket), std::move(context), std::move(done));
  h->refusal = std::move(plaintext_refusal);
  h->arm(timeout_ms);
  // Peek at the first byte: a TLS client starts with a handshake record.
  h->stream.next_layer().async_receive(
      asio::buffer(&h->first, 1), asio::socket_base::message_peek,
      [h](const boost::system::error_code& ec, std::size_t n) {
        if (!h->done) return;
        if (ec || n == 0) {
          return h->fail(Status::unavailable(
              fmt::format("connection from {} closed before its TLS handshake", h->peer)));
        }
        if (h->first == kTlsHandshakeRecord) return h->handshake(ssl::stream_base::server);
        Status why =
            Status::unavailable(fmt::format("{} spoke plaintext to a TLS port: refused", h->peer));
        if (!h->refusal || h->refusal->empty()) return h->fail(std::move(why));
        asio::async_write(h->stream.next_layer(), asio::buffer(*h->refusal),
                          [h, why](const boost::system::error_code&, std::size_t) {
                            boost::system::error_code ignored;
                            h->stream.next_layer().shutdown(asio::socket_base::shutdown_send,
                                                            ignored);
                            h->fail(why);
                          });
      });
}

void connect_tls(asio::ip::tcp::socket socket, std::shared_ptr<ssl::context> context,
                 std::string server_name, bool server_is_node, uint32_t timeout_ms,
                 TlsHandshakeHandler done) {
  auto h = std::make_shared<Handshake>(std::move(socket), std::move(context), std::move(done));
  boost::system::error_code ec;
  if (server_is_node) {
    h->stream.set_verify_callback(
        [name = server_name](bool preverified, ssl::verify_context& ctx) {
          // The chain is OpenSSL's to verify; the leaf (depth 0) must name the node.
          if (!preverified) return false;
          if (name.empty() || X509_STORE_CTX_get_error_depth(ctx.native_handle()) != 0) {
            return true;
          }
          return certificate_names_node(X509_STORE_CTX_get_current_cert(ctx.native_handle()), name);
        },
        ec);
  } else {
    h->stream.set_verify_callback(ssl::host_name_verification(server_name), ec);
    boost::system::error_code not_ip;
    asio::ip::make_address(server_name, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(h->stream.native_handle(), server_name.c_str());
  }
  h->arm(timeout_ms);
  h->handshake(ssl::stream_base::client);
}

}  // namespace qkv::net
