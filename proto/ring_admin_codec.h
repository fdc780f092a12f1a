// Builder-level encoding of the ring-admin messages of the client API (RingAdminRequest,
// RingAdminResponse, and the TransferProgress of StatusResponse), used by client_codec.cc.
//
// Reads never throw on their own account (Cap'n Proto may, inside guarded_decode). Unknown
// enum values are errors naming the value: invalid_argument in a request (the node answers it),
// corruption in a response.
#pragma once

#include "proto/client.capnp.h"
#include "proto/client_api.h"

namespace qkv::proto {

void fill(wire::RingAdminRequest::Builder b, const RingAdminRequest& request);
Result<RingAdminRequest> read(wire::RingAdminRequest::Reader r);

void fill(wire::RingAdminResponse::Builder b, const RingAdminResponse& response);
// corruption: a balance that is not a finite number >= 0.
Result<RingAdminResponse> read(wire::RingAdminResponse::Reader r);

void fill_transfers(capnp::List<wire::TransferProgress>::Builder b,
                    const std::vector<TransferProgress>& transfers);
std::vector<TransferProgress> read_transfers(capnp::List<wire::TransferProgress>::Reader r);

}  // namespace qkv::proto
