// qkvd's config: what a valid file gives, and the clear error each mistake gets.
#include "node/daemon_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv::node {
namespace {

using ::testing::HasSubstr;

const char* kValid = R"(
node_id = "n1"
data_dir = "/tmp/qkv/n1"
client_listen = "127.0.0.1:7001"
peer_listen = "127.0.0.1:7101"

[cluster]
n = 3
r = 2
w = 2
partitions = 128
members = [
  { id = "n1", peer = "127.0.0.1:7101", client = "127.0.0.1:7001" },
  { id = "n2", peer = "127.0.0.1:7102", client = "127.0.0.1:7002" },
  { id = "n3", peer = "127.0.0.1:7103" },
]

[timeouts]
request_timeout_ms = 1500

[limits]
value_bytes_max = 1048576

[storage]
sync_writes = true
version_cache_bytes = 1048576
write_buffer_bytes = 16777216
)";

TEST(DaemonConfigTest, ParsesEverySection) {
  auto config = parse_daemon_config(kValid, "test.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_TRUE(config->validate().is_ok()) << config->validate().to_string();
  EXPECT_EQ(config->node.node_id, "n1");
  EXPECT_EQ(config->client_listen.port, 7001);
  EXPECT_EQ(config->partitions, 128u);
  ASSERT_EQ(config->members.size(), 3u);
  EXPECT_EQ(config->members[1].peer.to_string(), "127.0.0.1:7102");
  EXPECT_EQ(config->node.request_timeout, Duration(1500));
  EXPECT_EQ(config->node.limits.value_bytes_max, 1048576u);
  EXPECT_TRUE(config->sync_writes);
  EXPECT_EQ(config->node.version_cache_bytes, 1048576u);
  EXPECT_EQ(config->write_buffer_bytes, 16777216u);
  EXPECT_TRUE(config->commit_thread_or_default()) << "the pipeline hides the fsync";
}

TEST(DaemonConfigTest, DefaultsAreSafe) {
  DaemonConfig config;
  EXPECT_EQ(config.client_listen.host, "127.0.0.1") << "bind to loopback until told otherwise";
  EXPECT_FALSE(config.sync_writes);
  EXPECT_EQ(config.node.n, 3u);
  EXPECT_EQ(config.node.r, 2u);
  EXPECT_EQ(config.node.w, 2u);
  EXPECT_EQ(config.partitions, 256u);
}

Status error_of(const std::string& text) {
  auto config = parse_daemon_config(text, "bad.toml");
  if (!config) return config.status();
  return config->validate();
}

TEST(DaemonConfigTest, MistakesGetErrorsNamingTheKey) {
  std::string base = kValid;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = base;
    t.replace(t.find(from), from.size(), to);
    return error_of(t);
  };
  EXPECT_THAT(with("partitions = 128", "partitions = 100").message(), HasSubstr("power of two"));
  EXPECT_THAT(with("w = 2", "w = 4").message(), HasSubstr("w=4"));
  EXPECT_THAT(with("node_id = \"n1\"", "node_id = \"n9\"").message(),
              HasSubstr("'n9' is not among cluster.members"));
  EXPECT_THAT(with("request_timeout_ms", "request_timout_ms").message(),
              HasSubstr("unknown config key 'timeouts.request_timout_ms'"));
  EXPECT_THAT(with("peer = \"127.0.0.1:7102\"", "peer = \"127.0.0.1:7101\"").message(),
              HasSubstr("given to two members"));
  EXPECT_THAT(with("\"127.0.0.1:7001\"\npeer", "\"127.0.0.1:99999\"\npeer").message(),
              HasSubstr("ports are 1..65535"));
  EXPECT_THAT(with("sync_writes = true", "sync_writes = \"yes\"").message(),
              HasSubstr("storage.sync_writes"));
  EXPECT_THAT(with("value_bytes_max = 1048576", "value_bytes_max = 999999999").message(),
              HasSubstr("frame_bytes_max"));
  EXPECT_THAT(with("data_dir = \"/tmp/qkv/n1\"", "").message(), HasSubstr("data_dir is required"));
  EXPECT_THAT(with("write_buffer_bytes = 16777216", "write_buffer_bytes = 4096").message(),
              HasSubstr("storage.write_buffer_bytes=4096 must be at least 65536"));
  EXPECT_THAT(with("[storage]", "[storage").message(), HasSubstr("bad.toml:"));
}

TEST(DaemonConfigTest, TheCommitThreadFollowsSyncWritesUnlessSet) {
  auto parse = [](const std::string& storage) {
    std::string text = kValid;
    const std::string from = "sync_writes = true\n";
    text.replace(text.find(from), from.size(), storage);
    auto config = parse_daemon_config(text, "test.toml");
    EXPECT_TRUE(config.is_ok()) << config.status().to_string();
    return config.value();
  };
  EXPECT_FALSE(parse("").commit_thread_or_default());
  EXPECT_TRUE(parse("commit_thread = true\n").commit_thread_or_default());
  EXPECT_FALSE(parse("sync_writes = true\ncommit_thread = false\n").commit_thread_or_default());
  EXPECT_THAT(error_of(std::string(kValid) + "commit_thread = 1\n").message(),
              HasSubstr("'storage.commit_thread' must be true or false"));
}

TEST(DaemonConfigTest, TheDocumentedExampleConfigIsValid) {
  auto config = load_daemon_config(QKV_SOURCE_DIR "/deploy/qkvd.example.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_TRUE(config->validate().is_ok()) << config->validate().to_string();
  EXPECT_EQ(config->gossip_interval, Duration(1000));
  EXPECT_EQ(config->hints_per_second_max, 1000u);
  EXPECT_TRUE(config->hinted_handoff);
}

TEST(DaemonConfigTest, IoThreadsDefaultToOneAndAreBounded) {
  DaemonConfig config;
  EXPECT_EQ(config.io_threads_or_cores(), 1u);
  config.io_threads = 0;  // the machine's cores
  EXPECT_GE(config.io_threads_or_cores(), 1u);
  auto two = parse_daemon_config(std::string("io_threads = 2\n") + kValid, "two.toml");
  ASSERT_TRUE(two.is_ok()) << two.status().to_string();
  EXPECT_EQ(two->io_threads_or_cores(), 2u);
  EXPECT_THAT(error_of(std::string("io_threads = 1000\n") + kValid).message(),
              HasSubstr("io_threads=1000 must be at most 256"));
  EXPECT_THAT(error_of(std::string("io_threads = -1\n") + kValid).message(),
              HasSubstr("io_threads"));
}

TEST(DaemonConfigTest, HintedHandoffCanBeSwitchedOff) {
  auto off = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[handoff]\nenabled = false\n", "off.toml");
  ASSERT_TRUE(off.is_ok()) << off.status().to_string();
  EXPECT_FALSE(off->hinted_handoff);
  auto bad = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[handoff]\nenabled = 1\n", "bad.toml");
  EXPECT_THAT(bad.status().message(), HasSubstr("handoff.enabled"));
}

TEST(DaemonConfigTest, TombstonesAreReadAndTheirGraceMustOutliveAHint) {
  auto config =
      parse_daemon_config(std::string(kValid) +
                              "[tombstones]\ngrace_ms = 20000000\nretry_interval_ms = 5000\n"
                              "sweep_interval_ms = 0\n",
                          "t.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_TRUE(config->validate().is_ok()) << config->validate().to_string();
  EXPECT_EQ(config->node.tombstones.grace, Duration(20'000'000));
  EXPECT_EQ(config->node.tombstones.retry_interval, Duration(5'000));
  EXPECT_EQ(config->node.tombstones.sweep_interval, Duration(0));
  // 3 h of hint life plus a minute of request plus a second of skew is more than 3 h.
  Status short_grace = error_of(std::string(kValid) + "[tombstones]\ngrace_ms = 10800000\n");
  EXPECT_THAT(short_grace.message(), HasSubstr("tombstones.grace_ms (10800000) must exceed "
                                               "handoff.hint_age_max_ms (10800000)"));
  // Without hints, or without reaping, the grace needs only outlive a request.
  EXPECT_TRUE(error_of(std::string(kValid) +
                       "[tombstones]\ngrace_ms = 10800000\n[handoff]\nenabled = false\n")
                  .is_ok());
  EXPECT_THAT(error_of(std::string(kValid) + "[tombstones]\ngrace_ms = 1000\n").message(),
              HasSubstr("must exceed timeouts.request_timeout_max_ms"));
  EXPECT_THAT(error_of(std::string(kValid) + "[tombstones]\ngrace = 1000\n").message(),
              HasSubstr("tombstones.grace"));
}

TEST(DaemonConfigTest, SnapshotsGoBesideTheDataDirectoryUnlessConfigured) {
  auto config = load_daemon_config(QKV_SOURCE_DIR "/deploy/qkvd.example.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  config->data_dir = "/var/lib/qkv/n1";
  EXPECT_EQ(config->snapshot_root(), "/var/lib/qkv/snapshots") << "same volume: hard links";
  config->data_dir = "/var/lib/qkv/n1/";
  EXPECT_EQ(config->snapshot_root(), "/var/lib/qkv/snapshots");
  auto set = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/d\"\n[storage]\nsnapshot_dir = \"/backups\"\n", "s.toml");
  ASSERT_TRUE(set.is_ok()) << set.status().to_string();
  EXPECT_EQ(set->snapshot_root(), "/backups");
  auto off = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/d\"\n[storage]\nsnapshot_dir = \"\"\n", "o.toml");
  EXPECT_EQ(off->snapshot_root(), "") << "refused";
  config->snapshot_dir = "backups";
  EXPECT_THAT(config->validate().message(), HasSubstr("storage.snapshot_dir 'backups' must be"));
}

TEST(DaemonConfigTest, AutoJoinIsOffByDefaultAndReadFromCluster) {
  auto config = load_daemon_config(QKV_SOURCE_DIR "/deploy/qkvd.example.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_FALSE(config->auto_join.enabled);
  EXPECT_EQ(config->auto_join.quiet, Duration(10'000));
  auto on = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[cluster]\nseeds = [\"10.0.0.1:7100\"]\n"
      "auto_join = true\nauto_join_quiet_ms = 3000\n",
      "on.toml");
  ASSERT_TRUE(on.is_ok()) << on.status().to_string();
  EXPECT_TRUE(on->auto_join.enabled);
  EXPECT_EQ(on->auto_join.quiet, Duration(3000));
  EXPECT_TRUE(on->validate().is_ok());
  auto zero = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[cluster]\nseeds = [\"10.0.0.1:7100\"]\n"
      "auto_join_quiet_ms = 0\n",
      "zero.toml");
  ASSERT_TRUE(zero.is_ok());
  EXPECT_THAT(zero->validate().message(), HasSubstr("cluster.auto_join_quiet_ms"));
  auto bad = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[cluster]\nauto_join = \"yes\"\n", "bad.toml");
  EXPECT_THAT(bad.status().message(), HasSubstr("cluster.auto_join"));
}

TEST(DaemonConfigTest, ReadFanoutIsAllByDefaultOrQuorum) {
  auto example = load_daemon_config(QKV_SOURCE_DIR "/deploy/qkvd.example.toml");
  ASSERT_TRUE(example.is_ok()) << example.status().to_string();
  EXPECT_EQ(example->node.read_fanout, coordinator::Fanout::kAll);
  const std::string head = "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[cluster]\n";
  auto quorum = parse_daemon_config(head + "read_fanout = \"quorum\"\n", "q.toml");
  ASSERT_TRUE(quorum.is_ok()) << quorum.status().to_string();
  EXPECT_EQ(quorum->node.read_fanout, coordinator::Fanout::kQuorum);
  auto bad = parse_daemon_config(head + "read_fanout = \"one\"\n", "bad.toml");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("cluster.read_fanout 'one' must be \"all\" or \"quorum\""));
}

TEST(DaemonConfigTest, AntiEntropySettingsAreReadAndChecked) {
  auto config = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[anti_entropy]\nenabled = false\n"
      "segments = 256\nexchange_interval_ms = 5000\nbytes_per_second_max = 1048576\n",
      "aae.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_FALSE(config->node.anti_entropy.enabled);
  EXPECT_EQ(config->node.anti_entropy.segments, 256u);
  EXPECT_EQ(config->node.anti_entropy.exchange_interval, Duration(5000));
  EXPECT_EQ(config->node.anti_entropy.bytes_per_second_max, 1048576u);
  EXPECT_TRUE(config->node.anti_entropy.validate().is_ok());

  auto odd = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[anti_entropy]\nsegments = 1000\n", "odd.toml");
  ASSERT_TRUE(odd.is_ok());
  EXPECT_THAT(odd->validate().message(), HasSubstr("anti_entropy.segments is 1000"));
  EXPECT_THAT(odd->validate().message(), HasSubstr("power of two"));
  auto unknown = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[anti_entropy]\nintervall = 5\n", "u.toml");
  EXPECT_THAT(unknown.status().message(), HasSubstr("anti_entropy.intervall"));
}

TEST(DaemonConfigTest, TransferSettingsAreReadAndChecked) {
  auto config = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[transfer]\nconcurrent_max = 4\n"
      "bytes_per_second_max = 1048576\nbatch_bytes_max = 65536\nrequest_timeout_ms = 3000\n",
      "transfer.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->node.transfer.concurrent_max, 4u);
  EXPECT_EQ(config->node.transfer.bytes_per_second_max, 1048576u);
  EXPECT_EQ(config->node.transfer.batch_bytes_max, 65536u);
  EXPECT_EQ(config->node.transfer.request_timeout, Duration(3000));
  EXPECT_TRUE(config->node.transfer.validate().is_ok());

  auto zero = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[transfer]\nconcurrent_max = 0\n", "z.toml");
  ASSERT_TRUE(zero.is_ok());
  EXPECT_THAT(zero->node.validate().message(), HasSubstr("transfer.concurrent_max"));
  auto huge = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[transfer]\nbatch_bytes_max = 100000000\n",
      "h.toml");
  ASSERT_TRUE(huge.is_ok());
  EXPECT_THAT(huge->node.validate().message(), HasSubstr("transfer.batch_bytes_max is 100000000"));
  auto unknown = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[transfer]\nrate = 5\n", "u.toml");
  EXPECT_THAT(unknown.status().message(), HasSubstr("transfer.rate"));
}

TEST(DaemonConfigTest, SiblingLimitsAreReadAndChecked) {
  auto config = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[limits]\nsiblings_warn = 10\n"
      "siblings_max = 40\n",
      "siblings.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->node.limits.siblings_warn, 10u);
  EXPECT_EQ(config->node.limits.siblings_max, 40u);
  EXPECT_TRUE(config->node.validate().is_ok());
  DaemonConfig defaults;
  EXPECT_EQ(defaults.node.limits.siblings_warn, 25u) << "Riak's defaults";
  EXPECT_EQ(defaults.node.limits.siblings_max, 100u);

  auto crossed = parse_daemon_config(
      "node_id = \"n1\"\ndata_dir = \"/tmp/x\"\n[limits]\nsiblings_warn = 50\n"
      "siblings_max = 40\n",
      "crossed.toml");
  ASSERT_TRUE(crossed.is_ok());
  EXPECT_THAT(crossed->node.validate().message(),
              HasSubstr("siblings_max is 40 and siblings_warn 50"));
}

TEST(DaemonConfigTest, PeerLinkLivenessSettingsAreReadAndChecked) {
  DaemonConfig defaults;
  EXPECT_EQ(defaults.peer_ping_interval_ms, 250u);
  EXPECT_EQ(defaults.peer_silence_ms_max, 3000u);
  auto with = [](const std::string& timeouts) {
    std::string text = kValid;
    text.replace(text.find("request_timeout_ms = 1500"), 25, timeouts);
    return parse_daemon_config(text, "links.toml");
  };
  auto config = with("peer_ping_interval_ms = 200\npeer_silence_ms_max = 900");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->peer_ping_interval_ms, 200u);
  EXPECT_EQ(config->peer_silence_ms_max, 900u);
  EXPECT_TRUE(config->validate().is_ok());
  auto too_tight = with("peer_ping_interval_ms = 500\npeer_silence_ms_max = 900");
  ASSERT_TRUE(too_tight.is_ok());
  EXPECT_THAT(too_tight->validate().message(),
              HasSubstr("peer_silence_ms_max (900) must be at least twice"));
  EXPECT_TRUE(with("peer_ping_interval_ms = 0\npeer_silence_ms_max = 900")->validate().is_ok())
      << "no pings: nothing to bound";
}

TEST(DaemonConfigTest, LogFormatIsLogfmtOrJson) {
  EXPECT_EQ(DaemonConfig().log_format, "logfmt");
  auto json = parse_daemon_config(std::string(kValid) + "[log]\nformat = \"json\"\n", "t.toml");
  ASSERT_TRUE(json.is_ok()) << json.status().to_string();
  EXPECT_EQ(json->log_format, "json");
  EXPECT_TRUE(json->validate().is_ok());
  Status bad = error_of(std::string(kValid) + "[log]\nformat = \"text\"\n");
  EXPECT_EQ(bad.message(), "log.format 'text' must be one of logfmt, json");
  EXPECT_THAT(error_of(std::string(kValid) + "[log]\nformat = 1\n").message(),
              HasSubstr("'log.format' must be a string"));
}

TEST(DaemonConfigTest, ANodeMayJoinWithSeedsAlone) {
  auto config = parse_daemon_config(
      "node_id = \"n4\"\ndata_dir = \"/tmp/x\"\n[cluster]\nseeds = [\"127.0.0.1:7101\"]\n",
      "join.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_TRUE(config->validate().is_ok()) << config->validate().to_string();
  EXPECT_EQ(config->seeds.at(0).port, 7101);
  auto neither = parse_daemon_config("node_id = \"n4\"\ndata_dir = \"/tmp/x\"\n", "none.toml");
  EXPECT_THAT(neither->validate().message(), HasSubstr("seeds"));
}

// Issue 15: a pod listening on 0.0.0.0 gossiped 0.0.0.0:7100 as its address, so every peer
// sent its replica writes to itself. A node must advertise where others reach it.
TEST(DaemonConfigTest, ListeningOnEveryInterfaceNeedsAnAdvertisedAddress) {
  auto config = parse_daemon_config(kValid, "test.toml");
  ASSERT_TRUE(config.is_ok());
  DaemonConfig c = *config;
  c.tls.insecure = true;  // listening beyond loopback without TLS: TlsConfigTest
  c.peer_listen = {"0.0.0.0", 7101};
  Status peer = c.validate();
  EXPECT_EQ(peer.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(peer.message(), HasSubstr("peer_listen 0.0.0.0:7101 listens on every interface"));
  EXPECT_THAT(peer.message(), HasSubstr("set peer_advertise (--peer-advertise)"));
  c.peer_advertise = HostPort{"n1.qkv.default.svc.cluster.local", 7101};
  EXPECT_TRUE(c.validate().is_ok()) << c.validate().to_string();

  c.client_listen = {"::", 7001};
  Status client = c.validate();
  EXPECT_THAT(client.message(), HasSubstr("client_listen [::]:7001 listens on every interface"));
  EXPECT_THAT(client.message(), HasSubstr("--client-advertise"));
  c.client_advertise = HostPort{"0.0.0.0", 7001};
  EXPECT_THAT(c.validate().message(),
              HasSubstr("client_advertise 0.0.0.0:7001 is not an address others can dial"));
  c.client_advertise = HostPort{"10.0.0.5", 7001};
  EXPECT_TRUE(c.validate().is_ok()) << c.validate().to_string();

  auto advertised =
      parse_daemon_config("peer_advertise = \"10.0.0.5:7101\"\n" + std::string(kValid), "t.toml");
  ASSERT_TRUE(advertised.is_ok()) << advertised.status().to_string();
  EXPECT_EQ(advertised->peer_advertise, (HostPort{"10.0.0.5", 7101}));
}

TEST(DaemonConfigTest, MembersAndSeedsMustBeDialable) {
  auto config = parse_daemon_config(kValid, "test.toml");
  ASSERT_TRUE(config.is_ok());
  DaemonConfig c = *config;
  c.members[1].peer = HostPort{"0.0.0.0", 7102};
  EXPECT_THAT(c.validate().message(),
              HasSubstr("cluster.members 'n2' has peer address 0.0.0.0:7102, which no node can "
                        "dial"));
  c = *config;
  c.seeds = {HostPort{"::", 7101}};
  EXPECT_THAT(c.validate().message(), HasSubstr("cluster.seeds entry [::]:7101 is not an address"));
}

TEST(DaemonConfigTest, MembersFlag) {
  auto members = parse_members_flag("n1=127.0.0.1:7101,n2=localhost:7102");
  ASSERT_TRUE(members.is_ok());
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[1].peer.host, "localhost");
  EXPECT_THAT(parse_members_flag("n1").status().message(), HasSubstr("id=host:port"));
}

// Issue 16: no port reachable beyond this machine without TLS, unless insecure says so.
TEST(TlsConfigTest, APortBeyondLoopbackNeedsTlsOrInsecure) {
  auto config = parse_daemon_config(kValid, "test.toml");
  ASSERT_TRUE(config.is_ok());
  DaemonConfig c = *config;
  c.client_listen = {"10.0.0.5", 7001};
  Status refused = c.validate();
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(),
              HasSubstr("client_listen 10.0.0.5:7001 is reachable beyond this machine without "
                        "TLS"));
  EXPECT_THAT(refused.message(), HasSubstr("insecure = true (--insecure)"));
  c.tls.insecure = true;
  EXPECT_TRUE(c.validate().is_ok()) << c.validate().to_string();

  c.tls.insecure = false;
  c.tls.cert_file = "/tls/tls.crt";
  EXPECT_THAT(c.validate().message(),
              HasSubstr("tls.cert_file needs tls.key_file and tls.ca_file"));
  c.tls.key_file = "/tls/tls.key";
  c.tls.ca_file = "/tls/ca.crt";
  c.http_listen = HostPort{"0.0.0.0", 7201};
  EXPECT_TRUE(c.validate().is_ok()) << "with TLS every port may listen anywhere";
  for (const char* host : {"localhost", "127.0.0.1", "127.1.2.3", "::1"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.5", "127.0.0.1.example.com", "qkv-0"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

TEST(AuthConfigTest, TheAuthTableIsReadAndChecked) {
  auto config = parse_daemon_config(std::string(kValid) +
                                        "\n[auth]\nusers_file = \"/etc/qkv/users.toml\"\n"
                                        "reload_interval_ms = 2000\n"
                                        "secret_checks_per_second_max = 5\n",
                                    "t.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_TRUE(config->auth.enabled());
  EXPECT_EQ(config->auth.users_file, "/etc/qkv/users.toml");
  EXPECT_EQ(config->auth.reload_interval_ms, 2000u);
  EXPECT_EQ(config->auth.secret_checks_per_second_max, 5u);
  DaemonConfig c = *config;
  c.auth.secret_checks_per_second_max = 0;
  EXPECT_THAT(c.validate().message(), HasSubstr("auth.secret_checks_per_second_max"));
  auto typo = parse_daemon_config(std::string(kValid) + "\n[auth]\nusers = \"/u.toml\"\n", "t");
  EXPECT_THAT(typo.status().message(), HasSubstr("unknown config key 'auth.users'"));
  auto off = parse_daemon_config(kValid, "t.toml");
  EXPECT_FALSE(off->auth.enabled());
}

TEST(TlsConfigTest, TheTlsTableIsReadAndCheckedKeyByKey) {
  auto config = parse_daemon_config(std::string(kValid) +
                                        "\n[tls]\ncert_file = \"/t/tls.crt\"\nkey_file = "
                                        "\"/t/tls.key\"\nca_file = \"/t/ca.crt\"\n"
                                        "client_auth = \"require\"\nmin_version = \"1.2\"\n",
                                    "t.toml");
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->tls.cert_file, "/t/tls.crt");
  EXPECT_EQ(config->tls.client_auth, "require");
  EXPECT_EQ(config->tls.min_version, "1.2");
  EXPECT_TRUE(config->validate().is_ok()) << config->validate().to_string();
  auto typo = parse_daemon_config(std::string(kValid) + "\n[tls]\ncert = \"x\"\n", "t.toml");
  EXPECT_THAT(typo.status().message(), HasSubstr("tls.cert"));
  DaemonConfig c = *config;
  c.tls.client_auth = "optional";
  EXPECT_THAT(c.validate().message(), HasSubstr("tls.client_auth 'optional'"));
}

}  // namespace
}  // namespace qkv::node
