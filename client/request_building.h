// Internal to the client SDK (client.cc, async_client.cc); not part of its API. What the
// blocking and the asynchronous client share: building a request op after the local limit
// checks, turning an answer into a GetResult, and the TLS context of the options. Node addresses
// are parsed by common/host_port.h.
#pragma once

#include <capnp/common.h>
#include <fmt/format.h>
#include <kj/array.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "client/client.h"
#include "common/limits.h"
#include "common/status.h"
#include "proto/client_api.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace qkv::client::internal {

// The TLS client context `tls` asks for (net/tls.h); null without it. Errors as
// net::make_tls_context: invalid_argument naming the file or setting.
Result<std::shared_ptr<boost::asio::ssl::context>> tls_context(
    const std::optional<TlsOptions>& tls);

// The request op for a get/put/del, after the local limit checks. Errors (nothing is
// built), invalid_argument naming the limit: the key is empty or over key_bytes_max, the
// value over value_bytes_max, the context over context_bytes_max.
Result<proto::ClientOp> get_op(const Limits& limits, std::string_view key,
                               const ReadOptions& options);
Result<proto::ClientOp> put_op(const Limits& limits, std::string_view key, std::string_view value,
                               std::string_view context, const WriteOptions& options);
Result<proto::ClientOp> del_op(const Limits& limits, std::string_view key, std::string_view context,
                               const WriteOptions& options);

// One framed ClientRequest carrying `op` (or op's error), encoded by proto::encode.
// `server_timeout_ms` is what the node is sent (server_timeout_ms() in client.h). Error,
// invalid_argument: the frame is over limits.frame_bytes_max (the node would refuse it and
// close the connection).
Result<kj::Array<capnp::word>> encode_request(const Limits& limits, uint64_t request_id,
                                              uint32_t server_timeout_ms,
                                              Result<proto::ClientOp> op);

// A request's answer must carry the body its op implies; T is that body's type. The
// answer's status when it is not ok; corruption when the body is missing.
template <typename T>
Result<T> take_body(proto::ClientResponse&& response, const char* op) {
  if (!response.status.is_ok()) return response.status;
  if (auto* body = std::get_if<T>(&response.body)) return std::move(*body);
  return Status::corruption(fmt::format("the node's answer to a {} has no {} body", op, op));
}

// The node's answer to a get as the SDK returns it: not_found is ok, with no values and the
// context the node returned (of a tombstone, say, so that a later put supersedes it).
Result<GetResult> to_get_result(proto::ClientResponse&& response);

// The node's answer to a put or delete: its status, or the context of what it wrote (empty
// from nodes older than PutResponse).
Result<WriteResult> to_write_result(proto::ClientResponse&& response);

// The siblings of a get's answer: values[i] with metadata[i] (when the node sent it), then
// the tombstones metadata lists after the values.
std::vector<Sibling> with_metadata(const std::vector<std::string>& values,
                                   const std::vector<proto::SiblingInfo>& metadata);

}  // namespace qkv::client::internal
