#include "node/http_kv.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/base64.h"

namespace qkv::node {
namespace {

constexpr std::string_view kContextHeader = "x-qkv-context";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The key: the raw target's path after the prefix, %XX-decoded strictly (RFC 3986: '+' in a
// path is a plus, not a space).
Result<std::string> key_of(std::string_view target) {
  std::string_view raw = target.substr(kHttpKvPrefix.size());
  raw = raw.substr(0, raw.find('?'));
  std::string key;
  key.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      key += raw[i];
      continue;
    }
    if (i + 2 >= raw.size() || hex_digit(raw[i + 1]) < 0 || hex_digit(raw[i + 2]) < 0) {
      return Status::invalid_argument(fmt::format(
          "the key's percent-encoding is malformed at byte {} of the path's key (use %XX, two "
          "hex digits, for each byte)",
          i));
    }
    key += static_cast<char>(hex_digit(raw[i + 1]) * 16 + hex_digit(raw[i + 2]));
    i += 2;
  }
  if (key.empty()) return Status::invalid_argument("key is empty: the path is /v1/kv/{key}");
  return key;
}

// An unsigned query parameter at most `max` (`limit_name` names that bound in the message).
Result<uint32_t> number(const std::string& name, const std::string& text, uint64_t max,
                        std::string_view limit_name) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return Status::invalid_argument(
        fmt::format("query parameter {}={} is not a whole number (0..{})", name, text, max));
  }
  if (value > max) {
    return Status::invalid_argument(
        fmt::format("query parameter {}={} exceeds {}={}", name, text, limit_name, max));
  }
  return static_cast<uint32_t>(value);
}

Result<bool> boolean(const std::string& name, const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return Status::invalid_argument(
      fmt::format("query parameter {}={} is not a boolean (true or false)", name, text));
}

const std::string* header(const net::HttpRequest& request, std::string_view name) {
  auto it = request.headers.find(std::string(name));
  return it == request.headers.end() ? nullptr : &it->second;
}

Result<std::string> context_of(std::string_view name, std::string_view text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);  // an entity tag's quotes
  }
  auto context = base64_decode(text);
  if (!context) {
    return Status::invalid_argument(
        fmt::format("{} is not a base64 causal context: {}", name, context.status().message()));
  }
  return context;
}

// The query parameters of `method`, checked; what each sets goes into `request`.
struct Query {
  uint32_t r = 0, pr = 0, w = 0, ttl = 0, timeout_ms = 0;
  bool pw = false;
  proto::ReadFanout fanout = proto::ReadFanout::kDefault;
};

Result<Query> parse_query(const net::HttpRequest& request, bool read, bool put, uint32_t n) {
  const std::set<std::string> accepted =
      read ? std::set<std::string>{"r", "pr", "fanout", "timeout_ms"}
           : (put ? std::set<std::string>{"w", "pw", "ttl", "timeout_ms"}
                  : std::set<std::string>{"w", "pw", "timeout_ms"});
  Query q;
  for (const auto& [name, value] : request.query) {
    if (!accepted.contains(name)) {
      std::string list;
      for (const auto& a : accepted) list += (list.empty() ? "" : ", ") + a;
      return Status::invalid_argument(fmt::format(
          "unknown query parameter {} for {} (accepted: {})", name, request.method, list));
    }
    Result<uint32_t> parsed = 0u;
    if (name == "fanout") {
      if (value != "all" && value != "quorum") {
        return Status::invalid_argument(
            fmt::format("fanout={} is not all or quorum", value.substr(0, 64)));
      }
      q.fanout = value == "all" ? proto::ReadFanout::kAll : proto::ReadFanout::kQuorum;
      continue;
    }
    if (name == "pw") {
      auto b = boolean(name, value);
      if (!b) return b.status();
      q.pw = *b;
      continue;
    }
    if (name == "timeout_ms" || name == "ttl") {
      parsed = number(name, value, UINT32_MAX, "its maximum");
    } else {
      parsed = number(name, value, n, "n");
    }
    if (!parsed) return parsed.status();
    uint32_t& field = name == "r"     ? q.r
                      : name == "pr"  ? q.pr
                      : name == "w"   ? q.w
                      : name == "ttl" ? q.ttl
                                      : q.timeout_ms;
    field = *parsed;
  }
  return q;
}

// The write's context and condition from X-Qkv-Context, If-Match and If-None-Match.
Result<std::pair<std::string, proto::WriteCondition>> write_condition(
    const net::HttpRequest& request, bool put) {
  std::string context;
  if (const std::string* h = header(request, kContextHeader)) {
    auto decoded = context_of("X-Qkv-Context", *h);
    if (!decoded) return decoded.status();
    context = std::move(decoded).value();
  }
  const std::string* if_match = header(request, "if-match");
  const std::string* if_none_match = header(request, "if-none-match");
  if (if_none_match && !put) {
    return Status::invalid_argument(
        "If-None-Match is not allowed on DELETE (a delete of what is absent has no meaning); "
        "use If-Match: <context>");
  }
  if (if_match && if_none_match) {
    return Status::invalid_argument("If-Match and If-None-Match cannot be sent together");
  }
  if (if_none_match) {
    if (*if_none_match != "*") {
      return Status::invalid_argument(
          fmt::format("If-None-Match: {} is not supported: only If-None-Match: * (put if absent)",
                      *if_none_match));
    }
    return std::pair{std::move(context), proto::WriteCondition::kIfAbsent};
  }
  if (if_match) {
    auto expected = context_of("If-Match", *if_match);
    if (!expected) return expected.status();
    if (header(request, kContextHeader) && *expected != context) {
      return Status::invalid_argument(
          "If-Match and X-Qkv-Context name different causal contexts: send one, or the same");
    }
    return std::pair{std::move(expected).value(), proto::WriteCondition::kIfUnchanged};
  }
  return std::pair{std::move(context), proto::WriteCondition::kNone};
}

}  // namespace

bool http_kv_method_allowed(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE";
}

net::HttpResponse http_kv_method_not_allowed(std::string_view method) {
  net::HttpResponse out = http_kv_error(Status::invalid_argument(
      fmt::format("method {} is not served on /v1/kv/ (GET, HEAD, PUT, DELETE are)", method)));
  out.status = 405;
  out.headers.emplace_back("Allow", "GET, HEAD, PUT, DELETE");
  return out;
}

Result<proto::ClientRequest> parse_http_kv(const net::HttpRequest& request, uint32_t n) {
  auto key = key_of(request.target);
  if (!key) return key.status();
  const bool read = request.method == "GET" || request.method == "HEAD";
  const bool put = request.method == "PUT";
  auto query = parse_query(request, read, put, n);
  if (!query) return query.status();
  proto::ClientRequest out;
  out.timeout_ms = query->timeout_ms;
  if (read) {
    out.op = proto::GetRequest{std::move(key).value(), static_cast<uint8_t>(query->r), false,
                               static_cast<uint8_t>(query->pr), query->fanout};
    return out;
  }
  auto condition = write_condition(request, put);
  if (!condition) return condition.status();
  auto& [context, when] = *condition;
  if (put) {
    out.op = proto::PutRequest{std::move(key).value(),
                               request.body,
                               std::move(context),
                               static_cast<uint8_t>(query->w),
                               query->pw,
                               query->ttl,
                               when};
  } else {
    out.op = proto::DeleteRequest{std::move(key).value(), std::move(context),
                                  static_cast<uint8_t>(query->w), query->pw, when};
  }
  return out;
}

net::HttpResponse http_kv_error(const Status& status) {
  net::HttpResponse out;
  const std::string& message = status.message();
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      out.status = message.find("value_bytes_max") != std::string::npos ||
                           message.find("key_bytes_max") != std::string::npos
                       ? 413
                       : 400;
      break;
    case StatusCode::kUnauthenticated:
      out.status = 401;
      out.headers.emplace_back("WWW-Authenticate", "Basic realm=\"qkv\", charset=\"UTF-8\"");
      break;
    case StatusCode::kPermissionDenied:
      out.status = 403;
      break;
    case StatusCode::kNotFound:
      out.status = 404;
      break;
    case StatusCode::kPreconditionFailed:
      out.status = 412;
      break;
    case StatusCode::kOverloaded:
      out.status = 429;
      out.headers.emplace_back("Retry-After", "1");
      break;
    case StatusCode::kUnavailable:
      out.status = 503;
      break;
    case StatusCode::kTimeout:
      out.status = 504;
      break;
    default:
      out.status = 500;
      break;
  }
  out.content_type = "application/json";
  out.body =
      nlohmann::json{{"code", std::string(status_code_name(status.code()))}, {"message", message}}
          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  return out;
}

namespace {

std::string replicas_header(const std::vector<proto::ReplicaAnswer>& replicas) {
  std::string out;
  for (const auto& r : replicas) {
    out += (out.empty() ? "" : ",") + r.node + (r.fallback ? "~fallback" : "");
  }
  return out;
}

// 300 Multiple Choices: every sibling, values first in the native order, then tombstones.
net::HttpResponse siblings_answer(const proto::GetResponse& get) {
  nlohmann::json siblings = nlohmann::json::array();
  const std::size_t count = std::max(get.values.size(), get.siblings.size());
  for (std::size_t i = 0; i < count; ++i) {
    const proto::SiblingInfo info =
        i < get.siblings.size() ? get.siblings[i] : proto::SiblingInfo{};
    siblings.push_back({{"value", i < get.values.size() ? base64_encode(get.values[i]) : ""},
                        {"tombstone", info.tombstone},
                        {"timestamp_ms", info.timestamp_ms},
                        {"node", info.node},
                        {"expires_ms", info.expires_ms}});
  }
  net::HttpResponse out;
  out.status = 300;
  out.content_type = "application/json";
  out.body = nlohmann::json{{"context", base64_encode(get.context)}, {"siblings", siblings}}.dump(
                 -1, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\n";
  return out;
}

net::HttpResponse get_answer(const proto::GetResponse& get) {
  if (get.values.empty()) return http_kv_error(Status::not_found("key not found"));
  net::HttpResponse out;
  if (get.values.size() > 1) {
    out = siblings_answer(get);
  } else {
    out.content_type = "application/octet-stream";
    out.body = get.values[0];
    const int64_t written = get.siblings.empty() ? 0 : get.siblings[0].timestamp_ms;
    out.headers.emplace_back("X-Qkv-Timestamp-Ms", std::to_string(written));
  }
  out.headers.emplace_back("X-Qkv-Replicas", replicas_header(get.replicas));
  return out;
}

}  // namespace

net::HttpResponse http_kv_response(const proto::ClientResponse& response) {
  const auto* get = std::get_if<proto::GetResponse>(&response.body);
  const auto* put = std::get_if<proto::PutResponse>(&response.body);
  net::HttpResponse out;
  if (response.status.is_ok() && get) {
    out = get_answer(*get);
  } else if (response.status.is_ok() && put) {
    out.status = 204;
    out.content_type = "application/octet-stream";
  } else if (response.status.is_ok()) {
    out = http_kv_error(Status::corruption("the node's answer is not a get's or a write's"));
  } else {
    out = http_kv_error(response.status);
  }
  // The context of a 404 too: a later write supersedes the tombstone it read.
  const std::string* context = get ? &get->context : put ? &put->context : nullptr;
  if (context && (out.status < 400 || !context->empty())) {
    out.headers.emplace_back("X-Qkv-Context", base64_encode(*context));
  }
  return out;
}

}  // namespace qkv::node
