// Issue 16: three real qkvd with [tls] on, each with its own certificate from one cluster
// CA. Clients that must be refused are, with a clear error; a peer is who its certificate
// says, not who its messages claim; rotating the files under load drops no request.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "net/framed_connection.h"
#include "net/tls.h"
#include "node/wire/replica_codec.h"
#include "tests/common/http_get.h"
#include "tests/integration/process_cluster.h"
#include "tests/tls/test_certs.h"

namespace qkv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class TlsClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<ProcessCluster>(3);
    certs_ = std::make_unique<TestCerts>(cluster_->dir() + "/certs");
    for (int i = 0; i < 3; ++i) {
      files_.push_back(certs_->node(cluster_->id_of(i)));
      const std::string path = fmt::format("{}/tls-{}.toml", cluster_->dir(), i);
      std::ofstream(path) << fmt::format(
          "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nca_file = \"{}\"\n"
          "reload_interval_ms = 200\n",
          files_[i].cert, files_[i].key, certs_->ca());
      cluster_->set_node_flags(i, {"--config", path});
    }
    cluster_->set_client_tls(client::TlsOptions{certs_->ca(), "", "", "1.3"});
    cluster_->start_all();
  }

  client::Client client_with(std::optional<client::TlsOptions> tls) {
    client::Options options;
    options.nodes = {cluster_->client_address(0)};
    options.timeout_ms = 3000;
    options.tls = std::move(tls);
    return client::Client(options);
  }

  std::unique_ptr<ProcessCluster> cluster_;
  std::unique_ptr<TestCerts> certs_;
  std::vector<CertFiles> files_;
};

TEST_F(TlsClusterTest, ServesOverTlsAndRefusesPlaintextAndUntrustingClientsClearly) {
  auto tls = cluster_->client_of(0);
  ASSERT_TRUE(tls.put("k", "v", "", {3, 0}).is_ok()) << "W=3: every replica wrote over mTLS";
  auto got = cluster_->client_of(2).get("k", {3, 0});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_THAT(got->values, UnorderedElementsAre("v"));

  Status plain = client_with(std::nullopt).put("p", "v").status();
  ASSERT_FALSE(plain.is_ok());
  EXPECT_THAT(plain.message(), HasSubstr("this port speaks TLS only"));

  auto untrusting = client_with(client::TlsOptions{certs_->foreign_ca(), "", "", "1.3"}).get("k");
  ASSERT_FALSE(untrusting.is_ok());
  EXPECT_THAT(untrusting.status().message(), HasSubstr("certificate verify failed"));

  auto missing = client_with(client::TlsOptions{"/nonexistent/ca.crt", "", "", "1.3"}).get("k");
  EXPECT_THAT(missing.status().message(), HasSubstr("tls ca_file /nonexistent/ca.crt"));

  EXPECT_GE(node_counter(*cluster_, 0, "client_tls_handshake_failures"), 2u);
  // A flood of failed handshakes is counted in full but logged at a bounded rate.
  for (int i = 0; i < 30; ++i) (void)client_with(std::nullopt).get("x");
  ASSERT_TRUE(
      wait_for([&] { return node_counter(*cluster_, 0, "client_tls_handshake_failures") >= 32; },
               std::chrono::seconds(10)));
  const std::string log = cluster_->log_of(0);
  std::size_t lines = 0;
  for (auto at = log.find("event=tls_handshake_failed"); at != std::string::npos;
       at = log.find("event=tls_handshake_failed", at + 1)) {
    ++lines;
  }
  EXPECT_LE(lines, 20u) << "a burst of 10, then about a line a second";
  // The HTTP port speaks TLS too; a plaintext request is told so.
  HttpCall https;
  https.ca_file = certs_->ca();
  auto metrics = http_call(cluster_->http_address(0), "/metrics", https);
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->status, 200u);
  auto plain_http = http_request(cluster_->http_address(0), "/metrics");
  ASSERT_TRUE(plain_http.has_value());
  EXPECT_EQ(plain_http->status, 400u);
  EXPECT_THAT(plain_http->body, HasSubstr("this port speaks TLS only: use https://"));

  auto p = cluster_->client_of(0).get("p", {3, 0});
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_TRUE(p->values.empty()) << "nothing the plaintext client sent was applied";
  EXPECT_TRUE(cluster_->client_of(1).get("k").is_ok()) << "the cluster keeps serving";
}

// Opens a TLS connection to node 0's peer port presenting `files`, sends `first` (if any)
// and one LinkPing claiming to be `from`, and reports whether the pong came back (false:
// closed unanswered). Node 0 handles a connection's frames in order: a pong means `first`
// was handled.
std::optional<bool> ping_as(const ProcessCluster& cluster, const TestCerts& certs,
                            const CertFiles& files, const std::string& from,
                            std::optional<node::PeerMessage> first = std::nullopt) {
  boost::asio::io_context io;
  auto context = net::make_tls_context(net::TlsRole::kClient,
                                       net::TlsOptions{files.cert, files.key, certs.ca(), "1.3"});
  if (!context) return std::nullopt;
  const std::string peer = cluster.peer_address(0);
  const auto colon = peer.rfind(':');
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address(peer.substr(0, colon)),
                  static_cast<uint16_t>(std::stoi(peer.substr(colon + 1)))});
  std::shared_ptr<net::FramedConnection> connection;
  bool failed = false;
  net::connect_tls(std::move(socket), *context, cluster.id_of(0), /*server_is_node=*/true, 3000,
                   [&](Result<net::TlsStream> stream) {
                     if (!stream) {
                       failed = true;
                       return;
                     }
                     connection =
                         net::FramedConnection::create(std::move(stream).value(), *context, {});
                   });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!connection && !failed && std::chrono::steady_clock::now() < until) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
  if (!connection) return false;
  bool ponged = false, closed = false;
  connection->set_on_frame([&](kj::ArrayPtr<const capnp::word> frame) {
    auto message = node::decode_peer_message(frame);
    ponged = message.is_ok() && std::holds_alternative<node::LinkPong>(message->body);
  });
  connection->set_on_close([&] { closed = true; });
  connection->start();
  if (first) (void)connection->send(node::encode(*first));
  (void)connection->send(node::encode(node::PeerMessage{from, 7, node::LinkPing{}}));
  while (!ponged && !closed && std::chrono::steady_clock::now() < until) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
  connection->close();
  return ponged;
}

TEST_F(TlsClusterTest, APeerIsWhoItsCertificateNamesNotWhoItsMessagesClaim) {
  // n4 holds a valid certificate from the cluster CA. Claiming to be n2 gets its message
  // dropped and its connection closed; as itself it is answered.
  const CertFiles n4 = certs_->node("n4");
  EXPECT_EQ(ping_as(*cluster_, *certs_, n4, "n2"), std::optional<bool>(false));
  EXPECT_GE(node_counter(*cluster_, 0, "peer_sender_refusals"), 1u);
  EXPECT_THAT(cluster_->log_of(0), HasSubstr("event=peer_sender_refused"));
  EXPECT_EQ(ping_as(*cluster_, *certs_, n4, "n4"), std::optional<bool>(true));
  // A node of another cluster (another CA) does not get past the handshake.
  EXPECT_EQ(ping_as(*cluster_, *certs_, certs_->foreign_node("n2"), "n2"),
            std::optional<bool>(false));
  EXPECT_GE(node_counter(*cluster_, 0, "peer_port_tls_handshake_failures"), 1u);
  EXPECT_TRUE(cluster_->client_of(0).put("after", "v", "", {3, 0}).is_ok())
      << "the cluster keeps serving, its own peers unaffected";
}

TEST_F(TlsClusterTest, ARingFromANodeThatIsNotAMemberIsRefused) {
  // n4 holds a valid certificate from the cluster CA but owns nothing: the ring it sends,
  // of a higher version and handing every partition to itself, is dropped.
  auto before = cluster_->client_of(0).node_status(0);
  ASSERT_TRUE(before.is_ok());
  auto ring = cluster_->client_of(0).ring();
  ASSERT_TRUE(ring.is_ok());
  auto members = cluster_->client_of(0).members();
  ASSERT_TRUE(members.is_ok());
  gossip::RingState forged;
  forged.version = before->ring_version + 100;
  forged.n = ring->n;
  forged.owners.assign(ring->partition_count, "n4");
  forged.claimant = "n4";
  forged.cluster_id = members->cluster_id;
  gossip::Ack2 ack2;
  ack2.ring = forged;
  EXPECT_EQ(ping_as(*cluster_, *certs_, certs_->node("n4"), "n4",
                    node::PeerMessage{"n4", 0, node::Gossip{ack2}}),
            std::optional<bool>(true));
  EXPECT_GE(node_counter(*cluster_, 0, "rings_refused"), 1u);
  EXPECT_TRUE(wait_for(
      [&] { return cluster_->log_of(0).find("event=ring_refused from=n4") != std::string::npos; },
      std::chrono::seconds(5)));
  auto after = cluster_->client_of(0).node_status(0);
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(after->ring_version, before->ring_version);
  auto ring_after = cluster_->client_of(0).ring();
  ASSERT_TRUE(ring_after.is_ok());
  EXPECT_EQ(ring_after->owners, ring->owners);
  EXPECT_TRUE(cluster_->client_of(0).put("after", "v", "", {3, 0}).is_ok())
      << "the cluster keeps serving";
}

TEST_F(TlsClusterTest, RotatingTheCertificateFilesUnderLoadDropsNoRequest) {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::vector<std::string> failures;
  std::thread writer([&] {
    // A new client (so new connections and handshakes) every few writes.
    for (int i = 0; !stop; ++i) {
      auto client = cluster_->client_of(i % 3);
      for (int j = 0; j < 5; ++j) {
        Status s = client.put(fmt::format("r{}-{}", i, j), "v", "", {2, 0}).status();
        if (s.is_ok()) {
          ++ok;
        } else {
          failures.push_back(s.to_string());
        }
      }
    }
  });
  for (int i = 0; i < 3; ++i) certs_->reissue_node(cluster_->id_of(i), files_[i]);
  ASSERT_TRUE(wait_for(
      [&] {
        for (int i = 0; i < 3; ++i) {
          if (node_counter(*cluster_, i, "tls_reloads") < 1) return false;
        }
        return true;
      },
      std::chrono::seconds(20)))
      << "every node loads its new certificate within reload_interval_ms";
  const int at_reload = ok.load();
  ASSERT_TRUE(wait_for([&] { return ok.load() >= at_reload + 30; }, std::chrono::seconds(20)));
  stop = true;
  writer.join();
  EXPECT_THAT(failures, ::testing::IsEmpty());
  EXPECT_GT(ok.load(), 30);
  EXPECT_THAT(cluster_->log_of(0), HasSubstr("event=tls_reloaded"));
}

// Mutual TLS on the client port with [auth]: a client certificate naming a user makes the
// connection that user, with no secret; one naming no user gets nothing done.
TEST(TlsAuthTest, AClientCertificateNamingAUserIsThatUser) {
  ProcessCluster cluster(3);
  TestCerts certs(cluster.dir() + "/certs");
  const std::string users = cluster.dir() + "/users.toml";
  std::ofstream(users) << "[users.reporting]\ngrants = [\"read\"]\n"
                          "[users.loader]\ngrants = [\"read\", \"write\"]\n";
  for (int i = 0; i < 3; ++i) {
    const CertFiles files = certs.node(cluster.id_of(i));
    const std::string path = fmt::format("{}/tls-{}.toml", cluster.dir(), i);
    std::ofstream(path) << fmt::format(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nca_file = \"{}\"\n"
        "client_auth = \"require\"\n[auth]\nusers_file = \"{}\"\n",
        files.cert, files.key, certs.ca(), users);
    cluster.set_node_flags(i, {"--config", path});
  }
  const CertFiles loader = certs.client("loader");
  cluster.set_client_tls(client::TlsOptions{certs.ca(), loader.cert, loader.key, "1.3"});
  cluster.start_all();
  ASSERT_TRUE(cluster.client_of(0).put("k", "v", "", {3, 0}).is_ok());

  auto as = [&](const CertFiles& files) {
    client::Options options;
    options.nodes = {cluster.client_address(1)};
    options.tls = client::TlsOptions{certs.ca(), files.cert, files.key, "1.3"};
    return client::Client(options);
  };
  auto reporting = as(certs.client("reporting"));
  auto got = reporting.get("k");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_THAT(got->values, UnorderedElementsAre("v"));
  EXPECT_EQ(reporting.put("k", "w", got->context).status().code(), StatusCode::kPermissionDenied);
  Status stranger = as(certs.client("stranger")).put("k", "w").status();
  EXPECT_EQ(stranger.code(), StatusCode::kUnauthenticated) << stranger.to_string();
}

}  // namespace
}  // namespace qkv::testing
