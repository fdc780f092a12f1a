#include "proto/client_codec.h"

#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/exception.h>

#include <string_view>

#include "proto/bytes.h"
#include "proto/flat_builder.h"
#include "proto/ring_admin_codec.h"

namespace qkv::proto {

capnp::ReaderOptions reader_options(std::size_t frame_words) {
  capnp::ReaderOptions options;
  // Readers may visit a pointer more than once (a list's size, then its elements), so
  // allow a small multiple of the frame: still a bound on work per received byte.
  options.traversalLimitInWords = frame_words * 8 + 1024;
  options.nestingLimit = 16;
  return options;
}

void fill(wire::Status::Builder b, const Status& status) {
  b.setCode(static_cast<wire::StatusCode>(status.code()));
  if (!status.message().empty()) b.setMessage(status.message());
}

Status read(wire::Status::Reader r) {
  auto code = static_cast<uint16_t>(r.getCode());
  if (code > static_cast<uint16_t>(StatusCode::kPreconditionFailed)) {
    return Status::corruption(fmt::format("unknown status code {}", code));
  }
  if (code == 0) return Status::ok();
  return Status(static_cast<StatusCode>(code), std::string(to_view(r.getMessage())));
}

namespace {

// An enum value from a newer peer is refused rather than read as "no condition": a write
// must never lose the condition its client asked for.
Result<ReadFanout> read_fanout(wire::ReadFanout fanout) {
  const auto value = static_cast<uint16_t>(fanout);
  if (value > static_cast<uint16_t>(ReadFanout::kQuorum)) {
    return Status::invalid_argument(fmt::format("unknown read fanout {}", value));
  }
  return static_cast<ReadFanout>(value);
}

Result<WriteCondition> read_condition(wire::WriteCondition condition) {
  const auto value = static_cast<uint16_t>(condition);
  if (value > static_cast<uint16_t>(WriteCondition::kIfUnchanged)) {
    return Status::invalid_argument(fmt::format("unknown write condition {}", value));
  }
  return static_cast<WriteCondition>(value);
}

void fill(wire::RepairProgress::Builder b, const RepairProgress& p) {
  b.setRunning(p.running);
  b.setPartitionsTotal(p.partitions_total);
  b.setPartitionsDone(p.partitions_done);
  b.setPartitionsFailed(p.partitions_failed);
  b.setKeysCompared(p.keys_compared);
  b.setKeysRepaired(p.keys_repaired);
  b.setBytesSent(p.bytes_sent);
  if (!p.last_error.empty()) b.setLastError(p.last_error);
}

// Counts that cannot hold (more partitions done than the repair has) are corruption: readers
// subtract them.
Result<RepairProgress> read(wire::RepairProgress::Reader r) {
  RepairProgress p;
  p.running = r.getRunning();
  p.partitions_total = r.getPartitionsTotal();
  p.partitions_done = r.getPartitionsDone();
  p.partitions_failed = r.getPartitionsFailed();
  p.keys_compared = r.getKeysCompared();
  p.keys_repaired = r.getKeysRepaired();
  p.bytes_sent = r.getBytesSent();
  p.last_error = std::string(to_view(r.getLastError()));
  if (p.partitions_done > p.partitions_total || p.partitions_failed > p.partitions_done) {
    return Status::corruption(
        fmt::format("repair progress with {} partitions done and {} failed of {}: the failed "
                    "must be among the done, and the done among the total",
                    p.partitions_done, p.partitions_failed, p.partitions_total));
  }
  return p;
}

void fill(wire::StatusResponse::Builder s, const StatusResponse& body) {
  s.setNodeId(body.node_id);
  s.setIncarnation(body.incarnation);
  s.setVersion(body.version);
  s.setUptimeMs(body.uptime_ms);
  s.setN(body.n);
  s.setR(body.r);
  s.setW(body.w);
  auto members = s.initMembers(body.members.size());
  for (std::size_t i = 0; i < body.members.size(); ++i) members.set(i, body.members[i]);
  auto counters = s.initCounters(body.counters.size());
  for (std::size_t i = 0; i < body.counters.size(); ++i) {
    counters[i].setName(body.counters[i].first);
    counters[i].setValue(body.counters[i].second);
  }
  fill(s.initRepair(), body.repair);
  auto exchanges = s.initExchanges(body.exchanges.size());
  for (std::size_t i = 0; i < body.exchanges.size(); ++i) {
    exchanges[i].setPartition(body.exchanges[i].partition);
    exchanges[i].setLastSuccessUnixMs(body.exchanges[i].last_success_unix_ms);
  }
  fill_transfers(s.initTransfers(body.transfers.size()), body.transfers);
  s.setRingVersion(body.ring_version);
  s.setTransferStartedUnixMs(body.transfer_started_unix_ms);
}

Result<StatusResponse> read(wire::StatusResponse::Reader s) {
  StatusResponse body;
  body.node_id = std::string(to_view(s.getNodeId()));
  body.incarnation = s.getIncarnation();
  body.version = std::string(to_view(s.getVersion()));
  body.uptime_ms = s.getUptimeMs();
  body.n = s.getN();
  body.r = s.getR();
  body.w = s.getW();
  for (auto m : s.getMembers()) body.members.emplace_back(to_view(m));
  for (auto c : s.getCounters()) body.counters.emplace_back(to_view(c.getName()), c.getValue());
  auto repair = read(s.getRepair());
  if (!repair.is_ok()) return repair.status();
  body.repair = std::move(repair).value();
  body.exchanges.reserve(s.getExchanges().size());
  for (auto e : s.getExchanges()) {
    body.exchanges.push_back(PartitionExchange{e.getPartition(), e.getLastSuccessUnixMs()});
  }
  body.transfers = read_transfers(s.getTransfers());
  body.ring_version = s.getRingVersion();
  body.transfer_started_unix_ms = s.getTransferStartedUnixMs();
  return body;
}

void fill(wire::MembersResponse::Builder m, const MembersResponse& body) {
  m.setRingVersion(body.ring_version);
  m.setClusterId(body.cluster_id);
  auto list = m.initMembers(body.members.size());
  for (std::size_t i = 0; i < body.members.size(); ++i) {
    const MemberInfo& info = body.members[i];
    auto e = list[i];
    e.setId(info.id);
    e.setPeerAddress(info.peer_address);
    e.setClientAddress(info.client_address);
    e.setZone(info.zone);
    e.setStatus(info.status);
    e.setUp(info.up);
    e.setPhi(info.phi);
    e.setIncarnation(info.incarnation);
    e.setPartitions(info.partitions);
    e.setHintsPending(info.hints_pending);
    e.setHintBytesPending(info.hint_bytes_pending);
    e.setRingVersion(info.ring_version);
    e.setTransfersDone(info.transfers_done);
    e.setHttpAddress(info.http_address);
  }
}

MembersResponse read(wire::MembersResponse::Reader m) {
  MembersResponse body;
  body.ring_version = m.getRingVersion();
  body.cluster_id = m.getClusterId();
  body.members.reserve(m.getMembers().size());
  for (auto e : m.getMembers()) {
    body.members.push_back(MemberInfo{
        std::string(to_view(e.getId())), std::string(to_view(e.getPeerAddress())),
        std::string(to_view(e.getClientAddress())), std::string(to_view(e.getZone())),
        std::string(to_view(e.getStatus())), e.getUp(), e.getPhi(), e.getIncarnation(),
        e.getPartitions(), e.getHintsPending(), e.getHintBytesPending(), e.getRingVersion(),
        e.getTransfersDone(), std::string(to_view(e.getHttpAddress()))});
  }
  return body;
}

}  // namespace

void fill(wire::ClientRequest::Builder b, const ClientRequest& request) {
  b.setRequestId(request.request_id);
  b.setTimeoutMs(request.timeout_ms);
  std::visit(
      [&](const auto& op) {
        using T = std::decay_t<decltype(op)>;
        if constexpr (std::is_same_v<T, GetRequest>) {
          auto g = b.initGet();
          g.setKey(to_data(op.key));
          g.setR(op.r);
          g.setLocal(op.local);
          g.setPr(op.pr);
          g.setFanout(static_cast<wire::ReadFanout>(op.fanout));
        } else if constexpr (std::is_same_v<T, PutRequest>) {
          auto p = b.initPut();
          p.setKey(to_data(op.key));
          p.setValue(to_data(op.value));
          p.setContext(to_data(op.context));
          p.setW(op.w);
          p.setPrimariesOnly(op.primaries_only);
          p.setTtlSeconds(op.ttl_seconds);
          p.setCondition(static_cast<wire::WriteCondition>(op.condition));
        } else if constexpr (std::is_same_v<T, DeleteRequest>) {
          auto d = b.initDelete();
          d.setKey(to_data(op.key));
          d.setContext(to_data(op.context));
          d.setW(op.w);
          d.setPrimariesOnly(op.primaries_only);
          d.setCondition(static_cast<wire::WriteCondition>(op.condition));
        } else if constexpr (std::is_same_v<T, RingRequest>) {
          b.setRing();
        } else if constexpr (std::is_same_v<T, StatusRequest>) {
          b.setNodeStatus();
        } else if constexpr (std::is_same_v<T, MembersRequest>) {
          b.setMembers();
        } else if constexpr (std::is_same_v<T, RepairRequest>) {
          auto repair = b.initRepair();
          repair.setHasPartition(op.partition.has_value());
          repair.setPartition(op.partition.value_or(0));
        } else if constexpr (std::is_same_v<T, AuthenticateRequest>) {
          auto auth = b.initAuthenticate();
          auth.setUser(op.user);
          auth.setSecret(op.secret);
        } else if constexpr (std::is_same_v<T, SnapshotRequest>) {
          b.initSnapshot().setDir(op.dir);
        } else {
          static_assert(std::is_same_v<T, RingAdminRequest>);
          fill(b.initRingAdmin(), op);
        }
      },
      request.op);
}

namespace {

Result<PutRequest> read(wire::PutRequest::Reader p) {
  auto condition = read_condition(p.getCondition());
  if (!condition) return condition.status();
  return PutRequest{
      to_string(p.getKey()), to_string(p.getValue()), to_string(p.getContext()), p.getW(),
      p.getPrimariesOnly(),  p.getTtlSeconds(),       condition.value()};
}

Result<DeleteRequest> read(wire::DeleteRequest::Reader d) {
  auto condition = read_condition(d.getCondition());
  if (!condition) return condition.status();
  return DeleteRequest{to_string(d.getKey()), to_string(d.getContext()), d.getW(),
                       d.getPrimariesOnly(), condition.value()};
}

}  // namespace

Result<ClientRequest> read(wire::ClientRequest::Reader r) {
  ClientRequest out;
  out.request_id = r.getRequestId();
  out.timeout_ms = r.getTimeoutMs();
  switch (r.which()) {
    case wire::ClientRequest::GET: {
      auto g = r.getGet();
      auto fanout = read_fanout(g.getFanout());
      if (!fanout) return fanout.status();
      out.op = GetRequest{to_string(g.getKey()), g.getR(), g.getLocal(), g.getPr(), fanout.value()};
      break;
    }
    case wire::ClientRequest::PUT: {
      auto put = read(r.getPut());
      if (!put) return put.status();
      out.op = std::move(put).value();
      break;
    }
    case wire::ClientRequest::DELETE: {
      auto del = read(r.getDelete());
      if (!del) return del.status();
      out.op = std::move(del).value();
      break;
    }
    case wire::ClientRequest::RING:
      out.op = RingRequest{};
      break;
    case wire::ClientRequest::NODE_STATUS:
      out.op = StatusRequest{};
      break;
    case wire::ClientRequest::MEMBERS:
      out.op = MembersRequest{};
      break;
    case wire::ClientRequest::REPAIR: {
      auto repair = r.getRepair();
      RepairRequest op;
      if (repair.getHasPartition()) op.partition = repair.getPartition();
      out.op = op;
      break;
    }
    case wire::ClientRequest::RING_ADMIN: {
      auto admin = read(r.getRingAdmin());
      if (!admin.is_ok()) return admin.status();
      out.op = std::move(admin).value();
      break;
    }
    case wire::ClientRequest::AUTHENTICATE: {
      auto auth = r.getAuthenticate();
      out.op = AuthenticateRequest{std::string(to_view(auth.getUser())),
                                   std::string(to_view(auth.getSecret()))};
      break;
    }
    case wire::ClientRequest::SNAPSHOT:
      out.op = SnapshotRequest{std::string(to_view(r.getSnapshot().getDir()))};
      break;
    default:
      return Status::invalid_argument(
          fmt::format("unknown client request kind {}", static_cast<int>(r.which())));
  }
  return out;
}

void fill(wire::ClientResponse::Builder b, const ClientResponse& response) {
  b.setRequestId(response.request_id);
  fill(b.initStatus(), response.status);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          b.setNone();
        } else if constexpr (std::is_same_v<T, GetResponse>) {
          auto g = b.initGet();
          auto values = g.initValues(body.values.size());
          for (std::size_t i = 0; i < body.values.size(); ++i)
            values.set(i, to_data(body.values[i]));
          g.setContext(to_data(body.context));
          auto replicas = g.initReplicas(body.replicas.size());
          for (std::size_t i = 0; i < body.replicas.size(); ++i) {
            replicas[i].setNode(body.replicas[i].node);
            replicas[i].setFallback(body.replicas[i].fallback);
          }
          auto siblings = g.initSiblings(body.siblings.size());
          for (std::size_t i = 0; i < body.siblings.size(); ++i) {
            const SiblingInfo& info = body.siblings[i];
            siblings[i].setTombstone(info.tombstone);
            siblings[i].setTimestampMs(info.timestamp_ms);
            siblings[i].setNode(info.node);
            siblings[i].setExpiresMs(info.expires_ms);
          }
        } else if constexpr (std::is_same_v<T, PutResponse>) {
          b.initPut().setContext(to_data(body.context));
        } else if constexpr (std::is_same_v<T, RingResponse>) {
          auto ring = b.initRing();
          ring.setPartitionCount(body.partition_count);
          ring.setN(body.n);
          auto owners = ring.initOwners(body.owners.size());
          for (std::size_t i = 0; i < body.owners.size(); ++i) owners.set(i, body.owners[i]);
        } else if constexpr (std::is_same_v<T, MembersResponse>) {
          fill(b.initMembers(), body);
        } else if constexpr (std::is_same_v<T, RepairResponse>) {
          b.initRepair().setPartitions(body.partitions);
        } else if constexpr (std::is_same_v<T, RingAdminResponse>) {
          fill(b.initRingAdmin(), body);
        } else if constexpr (std::is_same_v<T, AuthenticateResponse>) {
          auto auth = b.initAuthenticate();
          auth.setUser(body.user);
          auto grants = auth.initGrants(body.grants.size());
          for (std::size_t i = 0; i < body.grants.size(); ++i) grants.set(i, body.grants[i]);
        } else if constexpr (std::is_same_v<T, SnapshotResponse>) {
          auto snapshot = b.initSnapshot();
          snapshot.setPath(body.path);
          snapshot.setBytes(body.bytes);
          snapshot.setFiles(body.files);
        } else {
          static_assert(std::is_same_v<T, StatusResponse>);
          fill(b.initNodeStatus(), body);
        }
      },
      response.body);
}

namespace {

GetResponse read(wire::GetResponse::Reader g) {
  GetResponse body;
  for (auto v : g.getValues()) body.values.push_back(to_string(v));
  body.context = to_string(g.getContext());
  for (auto replica : g.getReplicas()) {
    body.replicas.push_back(
        ReplicaAnswer{std::string(to_view(replica.getNode())), replica.getFallback()});
  }
  for (auto sibling : g.getSiblings()) {
    body.siblings.push_back(SiblingInfo{sibling.getTombstone(), sibling.getTimestampMs(),
                                        std::string(to_view(sibling.getNode())),
                                        sibling.getExpiresMs()});
  }
  return body;
}

}  // namespace

Result<ClientResponse> read(wire::ClientResponse::Reader r) {
  ClientResponse out;
  out.request_id = r.getRequestId();
  out.status = read(r.getStatus());
  switch (r.which()) {
    case wire::ClientResponse::NONE:
      break;
    case wire::ClientResponse::GET:
      out.body = read(r.getGet());
      break;
    case wire::ClientResponse::PUT:
      out.body = PutResponse{to_string(r.getPut().getContext())};
      break;
    case wire::ClientResponse::RING: {
      auto ring = r.getRing();
      RingResponse body;
      body.partition_count = ring.getPartitionCount();
      body.n = ring.getN();
      for (auto o : ring.getOwners()) body.owners.emplace_back(to_view(o));
      out.body = std::move(body);
      break;
    }
    case wire::ClientResponse::NODE_STATUS: {
      auto body = read(r.getNodeStatus());
      if (!body.is_ok()) return body.status();
      out.body = std::move(body).value();
      break;
    }
    case wire::ClientResponse::MEMBERS:
      out.body = read(r.getMembers());
      break;
    case wire::ClientResponse::REPAIR:
      out.body = RepairResponse{r.getRepair().getPartitions()};
      break;
    case wire::ClientResponse::RING_ADMIN: {
      auto body = read(r.getRingAdmin());
      if (!body.is_ok()) return body.status();
      out.body = std::move(body).value();
      break;
    }
    case wire::ClientResponse::AUTHENTICATE: {
      auto auth = r.getAuthenticate();
      AuthenticateResponse body{std::string(to_view(auth.getUser())), {}};
      for (auto grant : auth.getGrants()) body.grants.emplace_back(to_view(grant));
      out.body = std::move(body);
      break;
    }
    case wire::ClientResponse::SNAPSHOT: {
      auto snapshot = r.getSnapshot();
      out.body = SnapshotResponse{std::string(to_view(snapshot.getPath())), snapshot.getBytes(),
                                  snapshot.getFiles()};
      break;
    }
    default:
      return Status::corruption(
          fmt::format("unknown client response kind {}", static_cast<int>(r.which())));
  }
  return out;
}

// Cap'n Proto's default first segment is 8 KiB, allocated and zeroed per message; a request
// or answer carrying values is sized to them instead, and the rest are small.
static uint32_t first_segment_words(std::size_t payload_bytes) {
  return static_cast<uint32_t>(
      std::min<std::size_t>(payload_bytes / sizeof(capnp::word) + 64, 1u << 20));
}

kj::Array<capnp::word> encode(const ClientRequest& request) {
  std::size_t payload = 0;
  if (const auto* put = std::get_if<PutRequest>(&request.op)) {
    payload = put->key.size() + put->value.size() + put->context.size();
  } else if (const auto* get = std::get_if<GetRequest>(&request.op)) {
    payload = get->key.size();
  } else if (const auto* del = std::get_if<DeleteRequest>(&request.op)) {
    payload = del->key.size() + del->context.size();
  }
  FlatMessageBuilder message(first_segment_words(payload));
  fill(message.initRoot<wire::ClientRequest>(), request);
  return message.finish_words();
}

kj::Array<capnp::word> encode(const ClientResponse& response) {
  std::size_t payload = response.status.message().size();
  if (const auto* get = std::get_if<GetResponse>(&response.body)) {
    for (const auto& v : get->values) payload += v.size() + 16;
    for (const auto& replica : get->replicas) payload += replica.node.size() + 32;
    for (const auto& sibling : get->siblings) payload += sibling.node.size() + 48;
    payload += get->context.size();
  } else if (const auto* put = std::get_if<PutResponse>(&response.body)) {
    payload += put->context.size();
  }
  FlatMessageBuilder message(std::holds_alternative<std::monostate>(response.body) ||
                                     std::holds_alternative<GetResponse>(response.body) ||
                                     std::holds_alternative<PutResponse>(response.body)
                                 ? first_segment_words(payload)
                                 : capnp::SUGGESTED_FIRST_SEGMENT_WORDS);
  fill(message.initRoot<wire::ClientResponse>(), response);
  return message.finish_words();
}

Result<ClientRequest> decode_client_request(kj::ArrayPtr<const capnp::word> frame) {
  return guarded_decode<ClientRequest>("client request", [&]() -> Result<ClientRequest> {
    capnp::FlatArrayMessageReader message(frame, reader_options(frame.size()));
    return read(message.getRoot<wire::ClientRequest>());
  });
}

Result<ClientResponse> decode_client_response(kj::ArrayPtr<const capnp::word> frame) {
  return guarded_decode<ClientResponse>("client response", [&]() -> Result<ClientResponse> {
    capnp::FlatArrayMessageReader message(frame, reader_options(frame.size()));
    return read(message.getRoot<wire::ClientResponse>());
  });
}

}  // namespace qkv::proto
