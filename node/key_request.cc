#include "node/key_request.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"
#include "node/coordinator/quorum.h"
#include "node/wire/replica_codec.h"

namespace qkv::node {

const std::string& KeyRequest::key() const {
  if (const auto* get = std::get_if<proto::GetRequest>(&request.op)) return get->key;
  if (const auto* put = std::get_if<proto::PutRequest>(&request.op)) return put->key;
  return std::get<proto::DeleteRequest>(request.op).key;
}

void KeyRequest::locate(const ring::Ring& ring, const NodeConfig& config, TimePoint now) {
  Duration timeout = request.timeout_ms == 0
                         ? config.request_timeout
                         : std::min(Duration(request.timeout_ms), config.request_timeout_max);
  deadline = now + timeout;
  list = ring.preference_list(token, config.n);
}

std::optional<std::string> KeyRequest::take_value() {
  if (auto* put = std::get_if<proto::PutRequest>(&request.op)) return std::move(put->value);
  return std::nullopt;
}

bool is_key_request(const proto::ClientRequest& request) {
  return std::holds_alternative<proto::GetRequest>(request.op) ||
         std::holds_alternative<proto::PutRequest>(request.op) ||
         std::holds_alternative<proto::DeleteRequest>(request.op);
}

namespace {

// The checks of a put or delete, in the order their errors are reported.
Status check_write(KeyRequest& out, const NodeConfig& config, const std::string& key,
                   const std::string& context, uint8_t w) {
  QKV_RETURN_IF_ERROR(config.limits.check_key(key.size()));
  QKV_RETURN_IF_ERROR(config.limits.check_context(context.size()));
  auto decoded = decode_context(context);
  if (!decoded) return decoded.status();
  out.context = std::move(decoded).value();
  auto quorum = coordinator::resolve_quorum("w", w, config.w, config.n);
  if (!quorum) return quorum.status();
  out.quorum = quorum.value();
  return Status::ok();
}

}  // namespace

Result<KeyRequest> parse_key_request(proto::ClientRequest request, const NodeConfig& config) {
  QKV_ASSERT(is_key_request(request));
  KeyRequest out;
  if (const auto* get = std::get_if<proto::GetRequest>(&request.op)) {
    QKV_RETURN_IF_ERROR(config.limits.check_key(get->key.size()));
    auto r = coordinator::resolve_quorum("r", get->r, config.r, config.n);
    if (!r) return r.status();
    QKV_RETURN_IF_ERROR(coordinator::check_primaries_required(get->pr, config.n));
    out.kind = KeyRequest::Kind::kGet;
    out.quorum = r.value();
    out.pr = get->pr;
    out.fanout = get->fanout == proto::ReadFanout::kDefault  ? config.read_fanout
                 : get->fanout == proto::ReadFanout::kQuorum ? coordinator::Fanout::kQuorum
                                                             : coordinator::Fanout::kAll;
    out.local = get->local;
    out.token = ring::token_of(get->key);
  } else if (const auto* put = std::get_if<proto::PutRequest>(&request.op)) {
    QKV_RETURN_IF_ERROR(config.limits.check_value(put->value.size()));
    QKV_RETURN_IF_ERROR(check_write(out, config, put->key, put->context, put->w));
    out.kind = KeyRequest::Kind::kPut;
    out.primaries_only = put->primaries_only;
    out.ttl_ms = int64_t{put->ttl_seconds} * 1000;
    out.condition = put->condition;
    out.token = ring::token_of(put->key);
  } else {
    const auto& del = std::get<proto::DeleteRequest>(request.op);
    if (del.condition == proto::WriteCondition::kIfAbsent) {
      return Status::invalid_argument(
          "if-absent applies to puts only (a delete may be conditional on if-unchanged)");
    }
    QKV_RETURN_IF_ERROR(check_write(out, config, del.key, del.context, del.w));
    out.kind = KeyRequest::Kind::kDelete;
    out.primaries_only = del.primaries_only;
    out.condition = del.condition;
    out.token = ring::token_of(del.key);
  }
  out.request = std::move(request);
  return out;
}

}  // namespace qkv::node
