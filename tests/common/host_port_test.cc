#include "common/host_port.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qkv {
namespace {

using ::testing::HasSubstr;

std::string error_of(std::string_view text, bool allow_zero = false) {
  auto parsed = parse_host_port(text, "--cluster entry", allow_zero);
  EXPECT_FALSE(parsed.is_ok()) << text << " was accepted";
  return parsed.status().message();
}

TEST(HostPortTest, NamesAndAddressesWithAPortInRange) {
  struct Case {
    std::string_view text;
    HostPort want;
  };
  for (const Case& c :
       {Case{"127.0.0.1:7000", {"127.0.0.1", 7000}}, Case{"localhost:1", {"localhost", 1}},
        Case{"db-1.example.com:65535", {"db-1.example.com", 65535}},
        Case{"[::1]:7000", {"::1", 7000}}, Case{"[fe80::1%eth0]:7100", {"fe80::1%eth0", 7100}},
        Case{"h:007", {"h", 7}}}) {
    auto parsed = parse_host_port(c.text, "x");
    ASSERT_TRUE(parsed.is_ok()) << c.text << ": " << parsed.status().to_string();
    EXPECT_EQ(*parsed, c.want) << c.text;
  }
}

TEST(HostPortTest, PortsOutsideOneTo65535AreRefusedNamingTheValueAndTheRange) {
  EXPECT_EQ(error_of("127.0.0.1:0"),
            "--cluster entry '127.0.0.1:0': port 0 is out of range; ports are 1..65535");
  EXPECT_EQ(error_of("127.0.0.1:65536"),
            "--cluster entry '127.0.0.1:65536': port 65536 is out of range; ports are 1..65535");
  EXPECT_EQ(error_of("127.0.0.1:99999"),
            "--cluster entry '127.0.0.1:99999': port 99999 is out of range; ports are 1..65535");
  // Long enough to overflow 64 bits: still out of range, not wrapped into it.
  EXPECT_THAT(error_of("h:18446744073709551617000"), HasSubstr("is out of range"));
  EXPECT_THAT(error_of("[::1]:70000"), HasSubstr("port 70000 is out of range"));
}

TEST(HostPortTest, PortZeroOnlyWhereAllowed) {
  auto zero = parse_host_port("127.0.0.1:0", "--client-listen", /*allow_zero=*/true);
  ASSERT_TRUE(zero.is_ok()) << zero.status().to_string();
  EXPECT_EQ(zero->port, 0);
  EXPECT_THAT(error_of("h:65536", /*allow_zero=*/true), HasSubstr("ports are 0..65535"));
}

TEST(HostPortTest, MalformedAddressesSayWhatIsWrong) {
  EXPECT_EQ(error_of("127.0.0.1"),
            "--cluster entry '127.0.0.1': the port is missing; write host:port, e.g. "
            "127.0.0.1:7000");
  EXPECT_THAT(error_of("127.0.0.1:"), HasSubstr("the port is missing"));
  EXPECT_THAT(error_of("[::1]"), HasSubstr("the port is missing"));
  EXPECT_THAT(error_of(":7000"), HasSubstr("the host is missing"));
  EXPECT_THAT(error_of("[]:7000"), HasSubstr("the host is missing"));
  EXPECT_THAT(error_of(""), HasSubstr("empty"));
  EXPECT_THAT(error_of("h:70a"), HasSubstr("port '70a' is not a number; ports are 1..65535"));
  EXPECT_THAT(error_of("h:-1"), HasSubstr("port '-1' is not a number"));
  EXPECT_THAT(error_of("::1:7000"), HasSubstr("an IPv6 address goes in brackets"));
  EXPECT_THAT(error_of("[::1:7000"), HasSubstr("closing ']'"));
  EXPECT_THAT(error_of("[::1]7000"), HasSubstr("expected ':port' after ']'"));
  EXPECT_THAT(error_of(" h:7000"), HasSubstr("whitespace"));
}

TEST(HostPortTest, ToStringReadsBack) {
  for (const HostPort& hp :
       {HostPort{"127.0.0.1", 7000}, HostPort{"::1", 7100}, HostPort{"db.example.com", 1}}) {
    auto back = parse_host_port(hp.to_string(), "x");
    ASSERT_TRUE(back.is_ok()) << hp.to_string();
    EXPECT_EQ(*back, hp);
  }
  EXPECT_EQ((HostPort{"::1", 7100}).to_string(), "[::1]:7100");
}

// Listening on every interface is fine; telling others to dial it is not (qkvd refuses).
TEST(HostPortTest, UnspecifiedHostsAreTheAnyAddressInEverySpelling) {
  for (const char* host : {"", "0.0.0.0", "::", "0:0:0:0:0:0:0:0", "::0", "0"}) {
    EXPECT_TRUE(is_unspecified_host(host)) << host;
  }
  for (const char* host : {"127.0.0.1", "::1", "10.0.0.0", "qkv-0.qkv.default.svc.cluster.local",
                           "localhost", "0.0.0.1"}) {
    EXPECT_FALSE(is_unspecified_host(host)) << host;
  }
}

}  // namespace
}  // namespace qkv
