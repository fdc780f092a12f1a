// Access control for the client and HTTP ports ([auth], docs/security.md): who a
// connection is (authentication) and what it may do (authorization), as Riak's security
// (users, grants, sources) and Cassandra's roles do.
//
// Users live in a TOML file that every node reads (a Kubernetes Secret); qkvd re-reads it
// when it changes, and a changed grant applies to the next request of every open
// connection:
//
//   [users.alice]
//   secret = "scrypt:14:8:1:..."                      # `qkvctl user hash` prints one
//   grants = ["read", "write:orders/", "admin"]
//
//   [users.reporting]                                  # no secret: a client certificate
//   grants = ["read:orders/"]                          # naming "reporting" only
//   requests_per_second_max = 200                      # optional: a rate limit per node
//
// A connection is a user once it sent an AuthenticateRequest with the user's secret, or
// when its client certificate (mutual TLS) names the user (net/tls.h certificate_names).
//
// Grants:
//   read[:prefix]   gets (and replica-only gets) of keys starting with prefix (all keys
//                   without one)
//   write[:prefix]  puts and deletes of such keys
//   admin           ring changes (join, leave, replace, remove, rebalance: stage, plan,
//                   commit, cancel) and repair
// Status, members and ring reads need only a user. Grants do not imply each other: an
// operator who also reads data holds "read" too.
//
// Thread-safety: none (the Server's io_context thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/token_bucket.h"
#include "proto/client_api.h"

namespace qkv::node {

enum class Role : uint8_t { kRead, kWrite, kAdmin };

struct Grant {
  Role role = Role::kRead;
  std::string prefix;  // read and write only: keys starting with it; empty = every key

  bool operator==(const Grant&) const = default;
};

// "read", "write:orders/", "admin": as the users file spells them.
std::string grant_name(const Grant& grant);
// The inverse. Errors: invalid_argument naming the grant and the ones that exist.
Result<Grant> parse_grant(std::string_view text);

struct User {
  std::string name;
  std::string secret_hash;  // net/credentials.h form; empty: certificate only
  std::vector<Grant> grants;
  // Gets, puts and deletes a second this user may send to one node, over all its
  // connections (a token bucket with a burst of one second's worth; qkvd's Server refuses
  // the rest with overloaded naming it). 0: no limit.
  uint32_t requests_per_second_max = 0;
};

class Users {
 public:
  // Parses a users file. Errors: invalid_argument naming `origin`, the user and the key
  // (a bad grant, a malformed secret hash, an unknown key: a typo must not grant less or
  // more than written).
  static Result<Users> parse(const std::string& toml_text, const std::string& origin);
  static Result<Users> load(const std::string& path);

  // Null when there is no such user.
  const User* find(std::string_view name) const;
  std::size_t size() const { return users_.size(); }

 private:
  std::map<std::string, User, std::less<>> users_;
};

// What `request` needs, described for errors and the audit log.
struct Need {
  std::optional<Role> role;  // nullopt: any user (status, members, ring)
  std::string_view key;      // read and write: the key the grant's prefix must cover
  std::string action;        // "get", "put", "ring commit", "ring stage leave n2", "repair"
};
Need need_of(const proto::ClientRequest& request);

// Ok, or permission_denied naming the user, the missing grant and the action ("user bob
// lacks the grant admin needed for ring commit; bob holds read, write:orders/").
Status authorize(const User& user, const Need& need);

// Logs users in against a Users table. A secret that checked out is remembered per user
// (the cache keeps a SHA-256 of salt-hash and secret, not the secret), so a client
// reconnecting pays scrypt's cost once per node and file version. Checks that fail are
// bounded by a token bucket (checks_per_second), so wrong secrets cannot make a node spend
// its thread on scrypt: past it, logins are refused with overloaded until it refills.
class Authenticator {
 public:
  explicit Authenticator(Users users, double checks_per_second = 20);

  // The user, or unauthenticated ("wrong user or secret": which one is not said), or
  // overloaded past the check budget.
  Result<const User*> login(std::string_view name, std::string_view secret, TimePoint now);
  // The first of a client certificate's names that is a user; null when none is.
  const User* user_of_certificate(const std::vector<std::string>& names) const;
  const User* find(std::string_view name) const { return users_.find(name); }
  // A reloaded file: the cache is dropped.
  void replace(Users users);
  const Users& users() const { return users_; }

 private:
  Users users_;
  std::map<std::string, std::string, std::less<>> checked_;  // user -> digest of what passed
  TokenBucket checks_;
};

}  // namespace qkv::node
