// Encoding of the client API (proto/client_api.h) to and from framed Cap'n Proto messages.
//
// Decoding reads untrusted bytes: traversal and nesting limits are set from the frame
// size (design.md §4.5) and every kj::Exception becomes Status::corruption; it never
// throws. Size limits on keys and values are checked by the receiver (qkvd), which
// answers with an error naming the limit.
#pragma once

#include <capnp/message.h>
#include <kj/array.h>

#include "proto/client.capnp.h"
#include "proto/client_api.h"

namespace qkv::proto {

// Reader options for a frame of `frame_words` words: traversal limit 8x the frame plus
// 1024 words (a bound on decode work per received byte), nesting limit 16.
capnp::ReaderOptions reader_options(std::size_t frame_words);

// One framed message (segment table + segments), ready to write to a socket.
kj::Array<capnp::word> encode(const ClientRequest& request);
kj::Array<capnp::word> encode(const ClientResponse& response);

Result<ClientRequest> decode_client_request(kj::ArrayPtr<const capnp::word> frame);
Result<ClientResponse> decode_client_response(kj::ArrayPtr<const capnp::word> frame);

// Builder-level helpers, shared with the replica codec (forwarded requests).
void fill(wire::ClientRequest::Builder b, const ClientRequest& request);
void fill(wire::ClientResponse::Builder b, const ClientResponse& response);
void fill(wire::Status::Builder b, const Status& status);
Result<ClientRequest> read(wire::ClientRequest::Reader r);
Result<ClientResponse> read(wire::ClientResponse::Reader r);
Status read(wire::Status::Reader r);

}  // namespace qkv::proto
