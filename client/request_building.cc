#include "client/request_building.h"

#include <capnp/message.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/assert.h"
#include "proto/bytes.h"
#include "proto/client.capnp.h"

namespace qkv::client::internal {
namespace {

// Words a Data blob of `bytes` takes in a message (no terminator, padded to a word).
constexpr std::size_t blob_words(std::size_t bytes) {
  return (bytes + sizeof(capnp::word) - 1) / sizeof(capnp::word);
}

// Builds a one-segment message of exactly `message_words` words in place, behind its
// segment table, so the blobs are copied once and the frame is one allocation (the generic
// path, proto::encode(), builds in a MallocMessageBuilder and copies into a flat array).
// `message_words` must be exact: too small throws from capnp, too large would leave words
// the segment table claims but the message never uses (the assertion below catches both).
template <typename Fill>
kj::Array<capnp::word> build_frame(std::size_t message_words, Fill&& fill) {
  static_assert(std::endian::native == std::endian::little,
                "the segment table is written in host byte order");
  auto frame = kj::heapArray<capnp::word>(1 + message_words);
  // A builder expects zeroed space (absent fields read as their defaults).
  std::memset(frame.begin(), 0, frame.size() * sizeof(capnp::word));
  // Segment table of one segment: u32 segment count - 1 (0), u32 segment size in words.
  const uint32_t table[2] = {0, static_cast<uint32_t>(message_words)};
  std::memcpy(frame.begin(), table, sizeof table);
  capnp::FlatMessageBuilder message(frame.slice(1, frame.size()));
  fill(message.initRoot<wire::ClientRequest>());
  auto segments = message.getSegmentsForOutput();
  QKV_ASSERT(segments.size() == 1 && segments[0].size() == message_words);
  return frame;
}

// Root pointer + ClientRequest + the op's struct + its blobs.
template <typename Op>
std::size_t request_words(std::initializer_list<std::size_t> blob_bytes) {
  std::size_t words = 1 + capnp::sizeInWords<wire::ClientRequest>() + capnp::sizeInWords<Op>();
  for (std::size_t bytes : blob_bytes) words += blob_words(bytes);
  return words;
}

Status check_frame(const Limits& limits, std::size_t message_words) {
  uint64_t frame_bytes = uint64_t{1 + message_words} * sizeof(capnp::word);
  if (frame_bytes > limits.frame_bytes_max) {
    return Status::invalid_argument(fmt::format("request is {} bytes; frame_bytes_max is {}",
                                                frame_bytes, limits.frame_bytes_max));
  }
  return Status::ok();
}

void set_header(wire::ClientRequest::Builder request, uint64_t request_id,
                uint32_t server_timeout_ms) {
  request.setRequestId(request_id);
  request.setTimeoutMs(server_timeout_ms);
}

// Empty blobs are left unset: they read as empty and take no words.
template <typename Setter>
void set_blob(std::string_view bytes, Setter&& set) {
  if (!bytes.empty()) set(proto::to_data(bytes));
}

}  // namespace

std::optional<std::pair<std::string, std::string>> split_host_port(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return {};
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return {};
  }
  return std::pair(std::move(host), std::move(port));
}

Result<kj::Array<capnp::word>> encode_get(const Limits& limits, uint64_t request_id,
                                          uint32_t server_timeout_ms, std::string_view key,
                                          const ReadOptions& options) {
  QKV_RETURN_IF_ERROR(limits.check_key(key.size()));
  std::size_t words = request_words<wire::GetRequest>({key.size()});
  QKV_RETURN_IF_ERROR(check_frame(limits, words));
  return build_frame(words, [&](wire::ClientRequest::Builder request) {
    set_header(request, request_id, server_timeout_ms);
    auto get = request.initGet();
    set_blob(key, [&](auto data) { get.setKey(data); });
    get.setR(options.r);
    get.setLocal(options.local);
  });
}

Result<kj::Array<capnp::word>> encode_put(const Limits& limits, uint64_t request_id,
                                          uint32_t server_timeout_ms, std::string_view key,
                                          std::string_view value, std::string_view context,
                                          const WriteOptions& options) {
  QKV_RETURN_IF_ERROR(limits.check_key(key.size()));
  QKV_RETURN_IF_ERROR(limits.check_value(value.size()));
  QKV_RETURN_IF_ERROR(limits.check_context(context.size()));
  std::size_t words = request_words<wire::PutRequest>({key.size(), value.size(), context.size()});
  QKV_RETURN_IF_ERROR(check_frame(limits, words));
  return build_frame(words, [&](wire::ClientRequest::Builder request) {
    set_header(request, request_id, server_timeout_ms);
    auto put = request.initPut();
    set_blob(key, [&](auto data) { put.setKey(data); });
    set_blob(value, [&](auto data) { put.setValue(data); });
    set_blob(context, [&](auto data) { put.setContext(data); });
    put.setW(options.w);
    put.setPrimariesOnly(!options.sloppy);
  });
}

Result<kj::Array<capnp::word>> encode_del(const Limits& limits, uint64_t request_id,
                                          uint32_t server_timeout_ms, std::string_view key,
                                          std::string_view context, const WriteOptions& options) {
  QKV_RETURN_IF_ERROR(limits.check_key(key.size()));
  QKV_RETURN_IF_ERROR(limits.check_context(context.size()));
  std::size_t words = request_words<wire::DeleteRequest>({key.size(), context.size()});
  QKV_RETURN_IF_ERROR(check_frame(limits, words));
  return build_frame(words, [&](wire::ClientRequest::Builder request) {
    set_header(request, request_id, server_timeout_ms);
    auto del = request.initDelete();
    set_blob(key, [&](auto data) { del.setKey(data); });
    set_blob(context, [&](auto data) { del.setContext(data); });
    del.setW(options.w);
    del.setPrimariesOnly(!options.sloppy);
  });
}

Result<GetResult> to_get_result(proto::ClientResponse&& response) {
  // not_found carries the context (of a tombstone, say) so a later put supersedes it.
  if (response.status.code() == StatusCode::kNotFound) {
    GetResult result;
    if (auto* body = std::get_if<proto::GetResponse>(&response.body)) {
      result.context = std::move(body->context);
    }
    return result;
  }
  auto body = take_body<proto::GetResponse>(std::move(response), "get");
  if (!body.is_ok()) return body.status();
  return GetResult{std::move(body->values), std::move(body->context)};
}

}  // namespace qkv::client::internal
