#include "client/request_building.h"

#include <algorithm>

#include "net/tls.h"
#include "proto/client_codec.h"

namespace qkv::client::internal {

Result<std::shared_ptr<boost::asio::ssl::context>> tls_context(
    const std::optional<TlsOptions>& tls) {
  if (!tls) return std::shared_ptr<boost::asio::ssl::context>();
  return net::make_tls_context(
      net::TlsRole::kClient,
      net::TlsOptions{tls->cert_file, tls->key_file, tls->ca_file, tls->min_version});
}

Result<proto::ClientOp> get_op(const Limits& limits, std::string_view key,
                               const ReadOptions& options) {
  QKV_RETURN_IF_ERROR(limits.check_key(key.size()));
  return proto::ClientOp(
      proto::GetRequest{std::string(key), options.r, options.local, options.pr, options.fanout});
}

Result<proto::ClientOp> put_op(const Limits& limits, std::string_view key, std::string_view value,
                               std::string_view context, const WriteOptions& options) {
  QKV_RETURN_IF_ERROR(limits.check_key(key.size()));
  QKV_RETURN_IF_ERROR(limits.check_value(value.size()));
  QKV_RETURN_IF_ERROR(limits.check_context(context.size()));
  return proto::ClientOp(proto::PutRequest{std::string(key), std::string(value),
                                           std::string(context), options.w, !options.sloppy,
                                           options.ttl_seconds, options.condition});
}

Result<proto::ClientOp> del_op(const Limits& limits, std::string_view key, std::string_view context,
                               const WriteOptions& options) {
  QKV_RETURN_IF_ERROR(limits.check_key(key.size()));
  QKV_RETURN_IF_ERROR(limits.check_context(context.size()));
  if (options.condition == proto::WriteCondition::kIfAbsent) {
    return Status::invalid_argument(
        "if-absent applies to puts only: a delete of an absent key "
        "has nothing to delete");
  }
  return proto::ClientOp(proto::DeleteRequest{std::string(key), std::string(context), options.w,
                                              !options.sloppy, options.condition});
}

Result<kj::Array<capnp::word>> encode_request(const Limits& limits, uint64_t request_id,
                                              uint32_t server_timeout_ms,
                                              Result<proto::ClientOp> op) {
  if (!op.is_ok()) return op.status();
  auto frame =
      proto::encode(proto::ClientRequest{request_id, server_timeout_ms, std::move(op).value()});
  const uint64_t frame_bytes = uint64_t{frame.size()} * sizeof(capnp::word);
  if (frame_bytes > limits.frame_bytes_max) {
    return Status::invalid_argument(fmt::format("request is {} bytes; frame_bytes_max is {}",
                                                frame_bytes, limits.frame_bytes_max));
  }
  return frame;
}

Result<GetResult> to_get_result(proto::ClientResponse&& response) {
  // not_found carries the context (of a tombstone, say) so a later put supersedes it.
  if (response.status.code() == StatusCode::kNotFound) {
    GetResult result;
    if (auto* body = std::get_if<proto::GetResponse>(&response.body)) {
      result.context = std::move(body->context);
      result.replicas = std::move(body->replicas);
    }
    return result;
  }
  auto body = take_body<proto::GetResponse>(std::move(response), "get");
  if (!body.is_ok()) return body.status();
  std::vector<Sibling> siblings = with_metadata(body->values, body->siblings);
  return GetResult{std::move(body->values), std::move(body->context), std::move(body->replicas),
                   std::move(siblings)};
}

Result<WriteResult> to_write_result(proto::ClientResponse&& response) {
  if (!response.status.is_ok()) return std::move(response.status);
  WriteResult result;
  if (auto* put = std::get_if<proto::PutResponse>(&response.body)) {
    result.context = std::move(put->context);
  }
  return result;
}

std::vector<Sibling> with_metadata(const std::vector<std::string>& values,
                                   const std::vector<proto::SiblingInfo>& metadata) {
  std::vector<Sibling> out;
  out.reserve(std::max(values.size(), metadata.size()));
  for (std::size_t i = 0; i < values.size(); ++i) {
    Sibling sibling{values[i], false, 0, "", 0};
    if (i < metadata.size()) {
      sibling.timestamp_ms = metadata[i].timestamp_ms;
      sibling.node = metadata[i].node;
      sibling.expires_ms = metadata[i].expires_ms;
    }
    out.push_back(std::move(sibling));
  }
  for (std::size_t i = values.size(); i < metadata.size(); ++i) {
    if (!metadata[i].tombstone) continue;  // a newer node's kind of entry we do not know
    out.push_back(Sibling{"", true, metadata[i].timestamp_ms, metadata[i].node, 0});
  }
  return out;
}

}  // namespace qkv::client::internal
