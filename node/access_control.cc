#include "node/access_control.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <fstream>
#include <sstream>

#include "net/credentials.h"

namespace qkv::node {
namespace {

constexpr std::string_view kGrants = "read, read:<prefix>, write, write:<prefix>, admin";
constexpr int64_t kRequestsPerSecondMax = 100'000'000;

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kWrite:
      return "write";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

Result<User> read_user(const std::string& name, const toml::table& table,
                       const std::string& where) {
  User user;
  user.name = name;
  for (const auto& [key, value] : table) {
    if (key.str() == "secret") {
      auto secret = value.value<std::string>();
      if (!secret) return Status::invalid_argument(where + "secret must be a string");
      if (Status ok = net::check_secret_hash(*secret); !ok.is_ok()) {
        return Status::invalid_argument(where + "secret: " + ok.message());
      }
      user.secret_hash = *secret;
    } else if (key.str() == "grants") {
      const toml::array* grants = value.as_array();
      if (grants == nullptr) return Status::invalid_argument(where + "grants must be an array");
      for (const toml::node& g : *grants) {
        auto text = g.value<std::string>();
        if (!text) return Status::invalid_argument(where + "grants must be strings");
        auto grant = parse_grant(*text);
        if (!grant) return Status::invalid_argument(where + "grants: " + grant.status().message());
        user.grants.push_back(std::move(grant).value());
      }
    } else if (key.str() == "requests_per_second_max") {
      auto rate = value.value<int64_t>();
      if (!rate || *rate < 0 || *rate > kRequestsPerSecondMax) {
        return Status::invalid_argument(
            fmt::format("{}requests_per_second_max must be an integer from 0 (no limit) to {}",
                        where, kRequestsPerSecondMax));
      }
      user.requests_per_second_max = static_cast<uint32_t>(*rate);
    } else {
      return Status::invalid_argument(
          fmt::format("{}{}: unknown key; a user has secret, grants and requests_per_second_max",
                      where, key.str()));
    }
  }
  return user;
}

std::string ring_action(const proto::RingAdminRequest& r) {
  using proto::RingAction;
  using proto::RingChangeKind;
  switch (r.action) {
    case RingAction::kPlan:
      return "ring plan";
    case RingAction::kCommit:
      return fmt::format("ring commit {}", r.plan_id);
    case RingAction::kCancel:
      return "ring cancel";
    case RingAction::kStage:
      break;
  }
  switch (r.kind) {
    case RingChangeKind::kJoin:
      return "ring stage join " + r.node;
    case RingChangeKind::kLeave:
      return "ring stage leave " + r.node;
    case RingChangeKind::kReplace:
      return fmt::format("ring stage replace {} with {}", r.node, r.replacement);
    case RingChangeKind::kRebalance:
      return "ring stage rebalance";
    case RingChangeKind::kRemove:
      return fmt::format("ring stage remove {}{}", r.node, r.force ? " (force)" : "");
  }
  return "ring";
}

bool covers(const Grant& grant, const Need& need) {
  return grant.role == *need.role &&
         (grant.role == Role::kAdmin || need.key.substr(0, grant.prefix.size()) == grant.prefix);
}

}  // namespace

std::string grant_name(const Grant& grant) {
  std::string out(role_name(grant.role));
  if (!grant.prefix.empty()) out += ":" + grant.prefix;
  return out;
}

Result<Grant> parse_grant(std::string_view text) {
  const std::size_t colon = text.find(':');
  const std::string_view role = text.substr(0, colon);
  Grant grant;
  if (role == "read") {
    grant.role = Role::kRead;
  } else if (role == "write") {
    grant.role = Role::kWrite;
  } else if (role == "admin") {
    grant.role = Role::kAdmin;
  } else {
    return Status::invalid_argument(fmt::format("unknown grant '{}'; grants: {}", text, kGrants));
  }
  if (colon == std::string_view::npos) return grant;
  grant.prefix = std::string(text.substr(colon + 1));
  if (grant.role == Role::kAdmin || grant.prefix.empty()) {
    return Status::invalid_argument(fmt::format(
        "grant '{}': {}; grants: {}", text,
        grant.role == Role::kAdmin ? "admin takes no key prefix" : "the key prefix is empty",
        kGrants));
  }
  return grant;
}

Result<Users> Users::parse(const std::string& toml_text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    return Status::invalid_argument(
        fmt::format("users file {}: {} (line {})", origin, e.description(), e.source().begin.line));
  }
  Users out;
  for (const auto& [key, value] : root) {
    const toml::table* users = value.as_table();
    if (key.str() != "users" || users == nullptr) {
      return Status::invalid_argument(fmt::format(
          "users file {}: unknown key '{}'; users are tables [users.<name>]", origin, key.str()));
    }
    for (const auto& [name, entry] : *users) {
      const std::string where = fmt::format("users file {}: users.{}.", origin, name.str());
      const toml::table* table = entry.as_table();
      if (table == nullptr) return Status::invalid_argument(where + ": must be a table");
      auto user = read_user(std::string(name.str()), *table, where);
      if (!user) return user.status();
      out.users_.emplace(user->name, std::move(user).value());
    }
  }
  return out;
}

Result<Users> Users::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::invalid_argument(fmt::format("cannot read users file {}", path));
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

const User* Users::find(std::string_view name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}

Need need_of(const proto::ClientRequest& request) {
  return std::visit(
      [](const auto& op) -> Need {
        using T = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<T, proto::GetRequest>) {
          return {Role::kRead, op.key, "get"};
        } else if constexpr (std::is_same_v<T, proto::PutRequest>) {
          return {Role::kWrite, op.key, "put"};
        } else if constexpr (std::is_same_v<T, proto::DeleteRequest>) {
          return {Role::kWrite, op.key, "delete"};
        } else if constexpr (std::is_same_v<T, proto::RepairRequest>) {
          return {Role::kAdmin,
                  {},
                  op.partition ? fmt::format("repair {}", *op.partition) : std::string("repair")};
        } else if constexpr (std::is_same_v<T, proto::RingAdminRequest>) {
          return {Role::kAdmin, {}, ring_action(op)};
        } else if constexpr (std::is_same_v<T, proto::SnapshotRequest>) {
          return {
              Role::kAdmin, {}, op.dir.empty() ? std::string("snapshot") : "snapshot " + op.dir};
        } else {
          return {std::nullopt, {}, proto::op_name(proto::ClientOp(op))};
        }
      },
      request.op);
}

Status authorize(const User& user, const Need& need) {
  if (!need.role) return Status::ok();
  for (const Grant& grant : user.grants) {
    if (covers(grant, need)) return Status::ok();
  }
  std::string held;
  for (const Grant& grant : user.grants) held += (held.empty() ? "" : ", ") + grant_name(grant);
  const std::string_view role = role_name(*need.role);
  return Status::permission_denied(
      fmt::format("user {} lacks the grant {} needed for {}{}; {} holds {}", user.name, role,
                  need.action, *need.role == Role::kAdmin ? "" : " of this key", user.name,
                  held.empty() ? "no grants" : held));
}

Authenticator::Authenticator(Users users, double checks_per_second)
    : users_(std::move(users)), checks_(checks_per_second, checks_per_second) {}

Result<const User*> Authenticator::login(std::string_view name, std::string_view secret,
                                         TimePoint now) {
  const Status refused = Status::unauthenticated(
      fmt::format("wrong user or secret for user '{}' (or it has no secret: a client "
                  "certificate only)",
                  name));
  const User* user = users_.find(name);
  if (user == nullptr || user->secret_hash.empty()) return refused;
  const std::string digest = net::secret_digest(secret, user->secret_hash);
  auto cached = checked_.find(name);
  if (cached != checked_.end() && cached->second == digest) return user;
  checks_.refill(now);
  if (!checks_.try_take()) {
    return Status::overloaded(
        "too many secrets to check right now (each costs an scrypt run): retry in a second");
  }
  Status verified = net::verify_secret(secret, user->secret_hash);
  if (verified.code() == StatusCode::kUnauthenticated) return refused;
  if (!verified.is_ok()) return verified;
  checked_.insert_or_assign(std::string(name), digest);
  return user;
}

const User* Authenticator::user_of_certificate(const std::vector<std::string>& names) const {
  for (const std::string& name : names) {
    if (const User* user = users_.find(name)) return user;
  }
  return nullptr;
}

void Authenticator::replace(Users users) {
  users_ = std::move(users);
  checked_.clear();
}

}  // namespace qkv::node
