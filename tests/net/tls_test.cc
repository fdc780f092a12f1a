// TLS on qkv's ports (net/tls.h): handshakes that succeed and the ones a server or client
// must refuse, certificates naming nodes, and rotation of the files without a restart.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "net/tcp_server.h"
#include "net/tls.h"
#include "tests/net/transport_test_util.h"
#include "tests/tls/test_certs.h"

namespace qkv::net {
namespace {

using testing::connect_client;
using testing::decode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::make_frame;
using testing::run_until;

// One set of certificates for the whole binary (openssl takes a moment per key).
qkv::testing::TestCerts& certs() {
  static qkv::testing::TestCerts certs(fmt::format(
      "{}/qkv-tls-test-{}", std::filesystem::temp_directory_path().string(), ::getpid()));
  return certs;
}

TlsOptions server_options(const qkv::testing::CertFiles& files, bool require_client_cert) {
  TlsOptions o;
  o.cert_file = files.cert;
  o.key_file = files.key;
  o.ca_file = certs().ca();
  o.require_client_cert = require_client_cert;
  return o;
}

// A TLS server on 127.0.0.1 echoing nothing: it records frames and handshake failures.
struct TlsServer {
  TlsServer(asio::io_context& io, TlsOptions options) {
    auto loaded = TlsContextSource::load(TlsRole::kServer, std::move(options));
    EXPECT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    source = std::move(loaded).value();
    server = std::make_unique<TcpServer>(
        io, "127.0.0.1", 0, TransportOptions{}, [this](std::shared_ptr<Connection> c) {
          c->set_on_frame([this](auto f) { received.push_back(decode(f).request_id); });
          accepted = c;
        });
    server->set_tls([this] { return source->current(); }, {std::byte{'n'}, std::byte{'o'}},
                    [this](const Status& s) { failures.push_back(s); });
    EXPECT_TRUE(server->listen().is_ok());
  }
  std::unique_ptr<TlsContextSource> source;
  std::unique_ptr<TcpServer> server;
  std::shared_ptr<Connection> accepted;
  std::vector<uint64_t> received;
  std::vector<Status> failures;
};

// Connects with TLS (client role) to `port`, verifying `name`; the outcome.
Result<std::shared_ptr<FramedConnection>> dial(asio::io_context& io, uint16_t port,
                                               const TlsOptions& client, const std::string& name,
                                               bool name_is_node = false) {
  auto context = make_tls_context(TlsRole::kClient, client);
  if (!context) return context.status();
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  std::optional<Result<TlsStream>> outcome;
  connect_tls(std::move(socket), *context, name, name_is_node, 5000,
              [&](Result<TlsStream> s) { outcome.emplace(std::move(s)); });
  if (!run_until(io, [&] { return outcome.has_value(); })) return Status::timeout("no outcome");
  if (!*outcome) return outcome->status();
  return FramedConnection::create(std::move(*outcome).value(), *context, TransportOptions{});
}

TlsOptions client_options(std::optional<qkv::testing::CertFiles> files = std::nullopt) {
  TlsOptions o;
  o.ca_file = certs().ca();
  if (files) {
    o.cert_file = files->cert;
    o.key_file = files->key;
  }
  return o;
}

TEST(TlsTest, FramesFlowOverTlsAndTheServerSeesTheClientCertificatesNames) {
  asio::io_context io;
  TlsServer server(io, server_options(certs().node("n1"), /*require_client_cert=*/true));
  auto client = dial(io, server.server->port(), client_options(certs().node("n2")), "127.0.0.1");
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  (*client)->start();
  EXPECT_TRUE((*client)->is_tls());
  for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE((*client)->send(make_frame(i, 1000)).is_ok());
  ASSERT_TRUE(run_until(io, [&] { return server.received.size() == 20; }));
  for (uint64_t i = 0; i < 20; ++i) EXPECT_EQ(server.received[i], i);
  EXPECT_THAT(server.accepted->peer_names(), ElementsAre("n2", "localhost"));
  EXPECT_THAT((*client)->peer_names(), ElementsAre("n1", "localhost"));
}

TEST(TlsTest, APlaintextClientIsToldAndClosedAndTheServerServesOn) {
  asio::io_context io;
  TlsServer server(io, server_options(certs().node("n1"), false));
  asio::ip::tcp::socket plain(io);
  plain.connect({asio::ip::make_address("127.0.0.1"), server.server->port()});
  auto frame = make_frame(7, 10);
  asio::write(plain, asio::buffer(frame.begin(), testing::frame_bytes(frame)));
  // The refusal the server was given, then end of stream (read while the server runs).
  std::string got(64, '\0');
  std::optional<boost::system::error_code> ended;
  std::size_t n = 0;
  asio::async_read(plain, asio::buffer(got),
                   [&](const boost::system::error_code& ec, std::size_t k) {
                     ended = ec;
                     n = k;
                   });
  ASSERT_TRUE(run_until(io, [&] { return ended.has_value(); }));
  EXPECT_EQ(got.substr(0, n), "no");
  EXPECT_EQ(*ended, asio::error::eof);
  ASSERT_TRUE(run_until(io, [&] { return !server.failures.empty(); }));
  EXPECT_THAT(server.failures[0].message(), HasSubstr("spoke plaintext to a TLS port"));
  EXPECT_TRUE(server.received.empty()) << "nothing a plaintext client sent is delivered";
  EXPECT_TRUE(dial(io, server.server->port(), client_options(), "127.0.0.1").is_ok());
}

TEST(TlsTest, ClientsRefuseAnExpiredAForeignOrAWronglyNamedServer) {
  asio::io_context io;
  TlsServer expired(io, server_options(certs().expired_node("n1"), false));
  auto to_expired = dial(io, expired.server->port(), client_options(), "127.0.0.1");
  ASSERT_FALSE(to_expired.is_ok());
  EXPECT_THAT(to_expired.status().message(), HasSubstr("certificate has expired"));

  TlsServer foreign(io, server_options(certs().foreign_node("n1"), false));
  auto to_foreign = dial(io, foreign.server->port(), client_options(), "127.0.0.1");
  ASSERT_FALSE(to_foreign.is_ok());
  EXPECT_THAT(to_foreign.status().message(), HasSubstr("certificate verify failed"));

  TlsServer n1(io, server_options(certs().node("n1"), false));
  EXPECT_TRUE(dial(io, n1.server->port(), client_options(), "n1", /*name_is_node=*/true).is_ok());
  auto not_n2 = dial(io, n1.server->port(), client_options(), "n2", /*name_is_node=*/true);
  ASSERT_FALSE(not_n2.is_ok()) << "a peer link to n2 must not accept n1's certificate";
  EXPECT_FALSE(dial(io, n1.server->port(), client_options(), "10.1.2.3").is_ok())
      << "the certificate names 127.0.0.1, not this address";
}

TEST(TlsTest, AServerRequiringClientCertificatesRefusesNoneAndForeignOnes) {
  asio::io_context io;
  TlsServer server(io, server_options(certs().node("n1"), /*require_client_cert=*/true));
  // TLS 1.3 clients finish their side before the server checks theirs: the server's
  // refusal shows as a closed connection on the client and a failure on the server.
  auto anonymous = dial(io, server.server->port(), client_options(), "127.0.0.1");
  if (anonymous.is_ok()) (*anonymous)->start();
  ASSERT_TRUE(run_until(io, [&] { return server.failures.size() == 1; }));
  EXPECT_THAT(server.failures[0].message(), HasSubstr("peer did not return a certificate"));
  auto foreign =
      dial(io, server.server->port(), client_options(certs().foreign_node("n2")), "127.0.0.1");
  if (foreign.is_ok()) (*foreign)->start();
  ASSERT_TRUE(run_until(io, [&] { return server.failures.size() == 2; }));
  EXPECT_THAT(server.failures[1].message(), HasSubstr("certificate verify failed"));
  EXPECT_EQ(server.server->tls_handshake_failures(), 2u);
  EXPECT_TRUE(server.received.empty());
}

TEST(TlsTest, CertificateNamesComeFromSansThenTheCommonName) {
  asio::io_context io;
  TlsServer n1(io, server_options(certs().node("n1"), false));
  auto client = dial(io, n1.server->port(), client_options(), "127.0.0.1");
  ASSERT_TRUE(client.is_ok());
  EXPECT_THAT((*client)->peer_names(), ElementsAre("n1", "localhost"))
      << "the URI SAN's node id, the DNS SAN; the CN is ignored when SANs exist";
  TlsServer user(io, server_options(certs().client("alice"), false));
  // A certificate without SANs names its CN (the client certificate of a user).
  auto to_user = dial(io, user.server->port(), client_options(), "alice", /*name_is_node=*/true);
  ASSERT_TRUE(to_user.is_ok()) << to_user.status().to_string();
  EXPECT_THAT((*to_user)->peer_names(), ElementsAre("alice"));
}

TEST(TlsTest, RotatedFilesAreUsedForNewConnectionsAndABadPairKeepsTheOldContext) {
  asio::io_context io;
  const std::string dir = std::filesystem::temp_directory_path().string() +
                          fmt::format("/qkv-tls-rotate-{}", ::getpid());
  std::filesystem::create_directories(dir);
  qkv::testing::CertFiles live{dir + "/tls.crt", dir + "/tls.key"};
  const auto expired = certs().expired_node("n1");
  std::filesystem::copy_file(expired.cert, live.cert);
  std::filesystem::copy_file(expired.key, live.key);
  TlsServer server(io, server_options(live, false));
  EXPECT_FALSE(dial(io, server.server->port(), client_options(), "127.0.0.1").is_ok());
  EXPECT_EQ(server.source->reload_if_changed().value(), false) << "nothing changed yet";

  // Half a rotation: a new certificate beside the old key does not load; the old stays.
  std::filesystem::copy_file(certs().node("n1").cert, live.cert,
                             std::filesystem::copy_options::overwrite_existing);
  auto half = server.source->reload_if_changed();
  ASSERT_FALSE(half.is_ok());
  EXPECT_THAT(half.status().message(), HasSubstr("does not match"));
  // The whole rotation: the next call loads it, and new connections get the new one.
  std::filesystem::copy_file(certs().node("n1").key, live.key,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(server.source->reload_if_changed().value(), true);
  auto rotated = dial(io, server.server->port(), client_options(), "127.0.0.1");
  EXPECT_TRUE(rotated.is_ok()) << rotated.status().to_string();
  std::filesystem::remove_all(dir);
}

TEST(TlsTest, BadFilesAndSettingsGetErrorsNamingThem) {
  TlsOptions o = client_options(certs().node("n1"));
  o.cert_file = "/nonexistent/tls.crt";
  auto missing = make_tls_context(TlsRole::kClient, o);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_THAT(missing.status().message(),
              HasSubstr("tls cert_file /nonexistent/tls.crt: No such file or directory"));
  o = client_options(certs().node("n1"));
  o.cert_file = certs().node("n1").key;  // a key where a certificate belongs
  EXPECT_THAT(make_tls_context(TlsRole::kClient, o).status().message(),
              HasSubstr("not a PEM certificate"));
  o = client_options();
  o.min_version = "1.1";
  EXPECT_THAT(make_tls_context(TlsRole::kClient, o).status().message(),
              HasSubstr("min_version '1.1'"));
  EXPECT_THAT(make_tls_context(TlsRole::kServer, client_options()).status().message(),
              HasSubstr("a server needs cert_file and key_file"));
}

}  // namespace
}  // namespace qkv::net
