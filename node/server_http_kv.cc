// qkvd's Server: the HTTP port's entry (node/server.h) and its key-value API
// (node/http_kv.h). A /v1/kv/ request takes the native client port's path: HTTP Basic user
// -> the same grants (check_access), the same admission (admit, shedding), then the node
// core as a ClientRequest of a client id of its own (one per HTTP connection), so limits,
// forwarding, counters and latency histograms are those of the native protocol. Its answer
// comes back through reply() (server.cc) and is written when it comes.
#include <fmt/format.h>

#include <algorithm>

#include "node/http_kv.h"
#include "node/log_writer.h"
#include "node/server.h"

namespace qkv::node {

net::HttpOptions Server::http_options(const Limits& limits) {
  net::HttpOptions options;
  // A key of key_bytes_max, %-encoded (3 bytes per byte), and two base64 contexts of
  // context_bytes_max (X-Qkv-Context, If-Match) must fit the head, so that oversized ones
  // are refused naming their own limit.
  options.header_bytes_max =
      std::max<std::size_t>(options.header_bytes_max,
                            16 * 1024 + 3 * limits.key_bytes_max + 3 * limits.context_bytes_max);
  const uint64_t value_bytes_max = limits.value_bytes_max;
  options.body_limits.push_back(net::HttpBodyLimit{
      std::string(kHttpKvPrefix), value_bytes_max, [value_bytes_max] {
        return http_kv_error(Status::invalid_argument(fmt::format(
            "the request body (the value) is over value_bytes_max {} bytes", value_bytes_max)));
      }});
  return options;
}

void Server::on_http_request(net::HttpRequest request, net::HttpServer::Respond respond) {
  if (request.target.starts_with(kHttpKvPrefix)) {
    return serve_http_kv(request, std::move(respond));
  }
  if (request.method != "GET" && request.method != "HEAD" && request.method != "POST") {
    net::HttpResponse out;
    out.status = 405;
    out.body = fmt::format("method {} is not served here\n", request.method);
    out.headers.emplace_back("Allow", "GET, HEAD, POST");
    return respond(std::move(out));
  }
  respond(serve_http_request(request));
}

ClientId Server::http_client(uint64_t connection) {
  auto [it, added] = http_clients_.try_emplace(connection, 0);
  if (added) it->second = next_client_id_++;
  return it->second;
}

void Server::on_http_close(uint64_t connection) {
  auto it = http_clients_.find(connection);
  if (it == http_clients_.end()) return;
  // An answer still due is dropped by the connection itself when it comes (http_waiting_).
  outstanding_.erase(it->second);
  rate_limits_.erase(it->second);
  users_of_.erase(it->second);
  http_clients_.erase(it);
}

void Server::serve_http_kv(const net::HttpRequest& request, net::HttpServer::Respond respond) {
  if (!http_kv_method_allowed(request.method)) {
    return respond(http_kv_method_not_allowed(request.method));
  }
  const ClientId id = http_client(request.connection);
  if (authenticator_) {
    // Every HTTP request carries its credentials (checked secrets are cached: access_control.h).
    auto user = http_user(request);
    if (!user) {
      users_of_.erase(id);
      if (user.status().code() == StatusCode::kUnauthenticated) ++unauthenticated_refusals_;
      return respond(http_kv_error(user.status()));
    }
    users_of_.insert_or_assign(id, std::move(user).value());
  }
  auto parsed = parse_http_kv(request, config_.node.n);
  if (!parsed) return respond(http_kv_error(parsed.status()));
  if (shutting_down_)
    return respond(http_kv_error(Status::unavailable("the node is shutting down")));
  if (authenticator_) {
    if (Status allowed = check_access(id, *parsed); !allowed.is_ok()) {
      return respond(http_kv_error(allowed));
    }
  }
  if (Status admitted = admit(id); !admitted.is_ok()) {
    return respond(http_kv_error(admitted));
  }
  ++outstanding_[id];  // answered exactly once, through reply()
  http_waiting_.insert_or_assign(id, std::move(respond));
  batch_writes();
  host_.on_client_request(id, std::move(parsed).value());
}

bool Server::answer_http(ClientId client, const proto::ClientResponse& response) {
  auto waiting = http_waiting_.find(client);
  if (waiting == http_waiting_.end()) return false;
  net::HttpServer::Respond respond = std::move(waiting->second);
  http_waiting_.erase(waiting);
  respond(http_kv_response(response));
  return true;
}

}  // namespace qkv::node
