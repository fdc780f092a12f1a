// qkvd's [auth]: the users file and its reloads, logins, and each request's check against
// the user's grants, on the client port and the HTTP port (docs/security.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "common/file_fingerprint.h"
#include "net/credentials.h"
#include "node/log_writer.h"
#include "node/server.h"

namespace qkv::node {
namespace {

std::vector<std::string> grant_names(const User& user) {
  std::vector<std::string> out;
  for (const Grant& grant : user.grants) out.push_back(grant_name(grant));
  return out;
}

proto::AuthenticateResponse everyone(std::string user) {
  return {std::move(user), {"read", "write", "admin"}};
}

}  // namespace

Status Server::start_auth() {
  if (!config_.auth.enabled()) return Status::ok();
  users_fingerprint_ = file_fingerprint(config_.auth.users_file);
  auto users = Users::load(config_.auth.users_file);
  if (!users) return users.status();
  log_event(LogEvent::info("auth_on")
                .with("users_file", config_.auth.users_file)
                .with("users", users->size()));
  authenticator_ = std::make_unique<Authenticator>(
      std::move(users).value(), static_cast<double>(config_.auth.secret_checks_per_second_max));
  arm_auth_reload();
  return Status::ok();
}

void Server::arm_auth_reload() {
  auth_reload_timer_.expires_after(std::chrono::milliseconds(config_.auth.reload_interval_ms));
  auth_reload_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    std::string now = file_fingerprint(config_.auth.users_file);
    if (now != users_fingerprint_) {
      auto users = Users::load(config_.auth.users_file);
      if (users) {
        users_fingerprint_ = std::move(now);
        ++users_reloads_;
        log_event(LogEvent::info("users_reloaded")
                      .with("users_file", config_.auth.users_file)
                      .with("users", users->size()));
        authenticator_->replace(std::move(users).value());
        // Buckets of users the file no longer has go; a changed limit replaces its user's
        // bucket at the next request (admit_user).
        std::erase_if(user_rate_limits_,
                      [this](const auto& entry) { return !authenticator_->find(entry.first); });
      } else {
        // A half-written file: the old users stay, and the next interval tries again.
        log_event(LogEvent::warn("users_reload_failed")
                      .with("error", users.status())
                      .with("action", "keeping the previous users; retrying"));
      }
    }
    arm_auth_reload();
  });
}

bool Server::refusal_to_log() {
  // Anyone may send refused requests as fast as they like: a burst, then a line a second
  // naming how many were left out (the counters count them all).
  refusal_log_.refill(clock_.now());
  if (refusal_log_.try_take()) return true;
  ++refusals_unlogged_;
  return false;
}

void Server::authenticate(ClientId id, uint64_t request_id,
                          const proto::AuthenticateRequest& request) {
  if (!authenticator_) {
    // No users here: everyone may do everything. Accepting credentials anyway lets clients
    // carry them before [auth] is turned on node by node.
    return send_to_client(id, proto::ClientResponse{request_id, {}, everyone(request.user)});
  }
  auto user = authenticator_->login(request.user, request.secret, clock_.now());
  if (!user) {
    users_of_.erase(id);
    ++auth_failures_;
    auto it = clients_.find(id);
    if (refusal_to_log()) {
      log_event(LogEvent::warn("auth_failed")
                    .with("user", request.user)
                    .with("remote", it == clients_.end() ? "" : it->second->remote_endpoint())
                    .with("error", user.status())
                    .with("unlogged_before", std::exchange(refusals_unlogged_, 0)));
    }
    return send_to_client(id, proto::ClientResponse{request_id, user.status(), {}});
  }
  users_of_.insert_or_assign(id, (*user)->name);
  send_to_client(
      id, proto::ClientResponse{
              request_id, {}, proto::AuthenticateResponse{(*user)->name, grant_names(**user)}});
}

Status Server::check_access(ClientId id, const proto::ClientRequest& request) {
  const Need need = need_of(request);
  const User* user = nullptr;
  Status verdict;
  auto named = users_of_.find(id);
  if (named == users_of_.end()) {
    ++unauthenticated_refusals_;
    verdict = Status::unauthenticated(
        "this node requires a user ([auth]): authenticate first (qkvctl --user, the SDK's "
        "Options::credentials, or a client certificate naming a user; docs/security.md)");
  } else if (user = authenticator_->find(named->second); user == nullptr) {
    ++unauthenticated_refusals_;
    verdict = Status::unauthenticated(
        fmt::format("user {} no longer exists in the users file", named->second));
  } else if (verdict = authorize(*user, need); !verdict.is_ok()) {
    ++permission_denials_;
  }
  auto remote = [&] {
    auto connection = clients_.find(id);
    return connection == clients_.end() ? std::string() : connection->second->remote_endpoint();
  };
  if (need.role == Role::kAdmin) {
    // The audit log: every admin request, allowed or not.
    log_event(LogEvent::info("admin_request")
                  .with("user", named == users_of_.end() ? "" : named->second)
                  .with("action", need.action)
                  .with("remote", remote())
                  .with("allowed", verdict.is_ok()));
  } else if (!verdict.is_ok() && refusal_to_log()) {
    log_event(LogEvent::warn("permission_denied")
                  .with("user", named == users_of_.end() ? "" : named->second)
                  .with("action", need.action)
                  .with("remote", remote())
                  .with("error", verdict)
                  .with("unlogged_before", std::exchange(refusals_unlogged_, 0)));
  }
  return verdict;
}

Result<std::string> Server::http_user(const net::HttpRequest& request) {
  auto header = request.headers.find("authorization");
  if (header == request.headers.end()) {
    return Status::unauthenticated("this node requires a user: send HTTP Basic credentials");
  }
  std::string user_name;
  Status verdict;
  auto credentials = net::parse_basic_authorization(header->second);
  if (credentials) {
    user_name = credentials->first;
    auto user = authenticator_->login(credentials->first, credentials->second, clock_.now());
    if (user) return (*user)->name;
    verdict = user.status();
  } else {
    verdict = credentials.status();
  }
  ++auth_failures_;
  if (refusal_to_log()) {
    log_event(LogEvent::warn("auth_failed")
                  .with("port", "http")
                  .with("user", user_name)
                  .with("error", verdict)
                  .with("unlogged_before", std::exchange(refusals_unlogged_, 0)));
  }
  return verdict;
}

net::HttpResponse Server::serve_http_request(const net::HttpRequest& request) {
  if (!authenticator_) return serve_http(*this, request);
  const Status verdict = http_user(request).status();
  if (request.path.starts_with("/health/")) {
    // Probes carry no credentials (the kubelet's do not): they are answered, but why a node
    // is not ready (peer names, hint counts) is told only to a user.
    net::HttpResponse out = serve_http(*this, request);
    if (out.status != 200 && !verdict.is_ok()) out.body = "{\"status\":\"unavailable\"}\n";
    return out;
  }
  if (verdict.is_ok()) return serve_http(*this, request);
  net::HttpResponse out;
  out.status = verdict.code() == StatusCode::kOverloaded ? 503 : 401;
  out.content_type = "application/json";
  out.headers.emplace_back("WWW-Authenticate", "Basic realm=\"qkv\", charset=\"UTF-8\"");
  out.body = nlohmann::json{{"error",
                             {{"code", std::string(status_code_name(verdict.code()))},
                              {"message", verdict.message()}}}}
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\n";
  return out;
}

}  // namespace qkv::node
