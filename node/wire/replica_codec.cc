#include "node/wire/replica_codec.h"

#include <capnp/serialize.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "node/wire/gossip_codec.h"
#include "proto/bytes.h"
#include "proto/client_codec.h"
#include "proto/flat_builder.h"
#include "proto/replica.capnp.h"

namespace qkv::node {
namespace {

using proto::to_data;
using proto::to_string;
using proto::to_view;

void fill(wire::Actor::Builder b, const causal::Actor& actor) {
  b.setNode(actor.node);
  b.setIncarnation(actor.incarnation);
}

// An actor is a node id (common/node_id.h): anything else did not come from a node, and a
// client's context must not bring it into a key's version vector for good.
Result<causal::Actor> read(wire::Actor::Reader r) {
  causal::Actor actor{std::string(to_view(r.getNode())), r.getIncarnation()};
  if (Status valid = validate_node_id(actor.node); !valid.is_ok()) {
    return Status::corruption("actor of a dot: " + valid.message());
  }
  return actor;
}

void fill(wire::VersionVector::Builder b, const causal::VersionVector& vv) {
  auto entries = b.initEntries(vv.entries().size());
  for (std::size_t i = 0; i < vv.entries().size(); ++i) {
    fill(entries[i].initActor(), vv.entries()[i].actor);
    entries[i].setCounter(vv.entries()[i].counter);
  }
}

Result<causal::VersionVector> read(wire::VersionVector::Reader r) {
  std::vector<causal::VersionVector::Entry> entries;
  entries.reserve(r.getEntries().size());
  for (auto e : r.getEntries()) {
    auto actor = read(e.getActor());
    if (!actor) return actor.status();
    entries.push_back({std::move(actor).value(), e.getCounter()});
  }
  return causal::VersionVector(std::move(entries));
}

void fill(wire::SiblingSet::Builder b, const causal::SiblingSet& state) {
  fill(b.initVersionVector(), state.version_vector());
  auto siblings = b.initSiblings(state.siblings().size());
  for (std::size_t i = 0; i < state.siblings().size(); ++i) {
    const auto& s = state.siblings()[i];
    fill(siblings[i].initActor(), s.dot.actor);
    siblings[i].setCounter(s.dot.counter);
    siblings[i].setTombstone(s.tombstone);
    if (!s.tombstone) siblings[i].setValue(to_data(s.value));
    if (s.expires_ms != 0) siblings[i].setExpiresMs(s.expires_ms);
    if (s.timestamp_ms != 0) siblings[i].setTimestampMs(s.timestamp_ms);
  }
}

// Checks the invariant before constructing, so bad bytes are an error, not an assertion.
Result<causal::SiblingSet> read(wire::SiblingSet::Reader r) {
  auto read_vv = read(r.getVersionVector());
  if (!read_vv) return read_vv.status();
  causal::VersionVector vv = std::move(read_vv).value();
  std::vector<causal::Sibling> siblings;
  siblings.reserve(r.getSiblings().size());
  for (auto s : r.getSiblings()) {
    auto actor = read(s.getActor());
    if (!actor) return actor.status();
    causal::Sibling sibling{{std::move(actor).value(), s.getCounter()},
                            s.getTombstone(),
                            s.getTombstone() ? std::string() : to_string(s.getValue()),
                            s.getTombstone() ? 0 : s.getExpiresMs(),
                            s.getTimestampMs()};  // 0 in states stored before it
    if (sibling.dot.counter == 0 || !vv.covers(sibling.dot)) {
      return Status::corruption(
          fmt::format("sibling dot ({}, {}, {}) is not covered by the version vector",
                      sibling.dot.actor.node, sibling.dot.actor.incarnation, sibling.dot.counter));
    }
    siblings.push_back(std::move(sibling));
  }
  // Distinct dots (SiblingSet asserts it): checked side by side in dot order, the order
  // they are encoded in and SiblingSet keeps.
  std::sort(siblings.begin(), siblings.end(),
            [](const causal::Sibling& x, const causal::Sibling& y) { return x.dot < y.dot; });
  if (std::adjacent_find(siblings.begin(), siblings.end(),
                         [](const causal::Sibling& x, const causal::Sibling& y) {
                           return x.dot == y.dot;
                         }) != siblings.end()) {
    return Status::corruption("two siblings share one dot");
  }
  return causal::SiblingSet(std::move(vv), std::move(siblings));
}

// Cap'n Proto readers need word-aligned input; bytes from RocksDB or a client need not be.
kj::Array<capnp::word> aligned_copy(std::string_view bytes) {
  auto words =
      kj::heapArray<capnp::word>((bytes.size() + sizeof(capnp::word) - 1) / sizeof(capnp::word));
  std::memset(words.begin(), 0, words.size() * sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

// The first segment a message builder allocates (and zeroes): Cap'n Proto's default is
// 8 KiB, most of it wasted on a replica message of one 1 KB value and costly to zero on every
// message; sized to the values instead (plus room for the rest), it stays one segment.
uint32_t first_segment_words(const causal::VersionVector& vv) {
  std::size_t bytes = 64;
  for (const auto& e : vv.entries()) bytes += e.actor.node.size() + 48;
  return static_cast<uint32_t>(bytes / sizeof(capnp::word));
}

uint32_t first_segment_words(const causal::SiblingSet& state) {
  std::size_t bytes = 0;
  for (const auto& s : state.siblings()) bytes += s.value.size() + s.dot.actor.node.size() + 64;
  bytes += state.version_vector().size() * 48;
  return static_cast<uint32_t>(std::min<std::size_t>(bytes / sizeof(capnp::word) + 32, 1u << 20));
}

uint32_t first_segment_words(const PeerBody& body) {
  if (const auto* w = std::get_if<ReplicaWrite>(&body)) {
    return first_segment_words(w->state) +
           static_cast<uint32_t>(16 + (w->key.size() + w->hint_for.size()) / sizeof(capnp::word));
  }
  if (const auto* w = std::get_if<ReplicaReap>(&body)) {
    return first_segment_words(w->state) +
           static_cast<uint32_t>(16 + w->key.size() / sizeof(capnp::word));
  }
  if (const auto* r = std::get_if<ReplicaReadReply>(&body)) {
    return r->state ? first_segment_words(*r->state) + 16
                    : static_cast<uint32_t>(64 + r->status.message().size() / sizeof(capnp::word));
  }
  // The small and frequent ones: a segment of the default 8 KiB would be calloc'd for each.
  if (const auto* a = std::get_if<ReplicaWriteAck>(&body)) {
    return static_cast<uint32_t>(32 + a->status.message().size() / sizeof(capnp::word));
  }
  if (const auto* r = std::get_if<ReplicaRead>(&body)) {
    return static_cast<uint32_t>(32 + r->key.size() / sizeof(capnp::word));
  }
  if (std::holds_alternative<LinkPing>(body) || std::holds_alternative<LinkPong>(body)) return 32;
  return capnp::SUGGESTED_FIRST_SEGMENT_WORDS;  // forwards and gossip: sized by default
}

void fill(wire::Hash128::Builder b, const antientropy::Hash128& h) {
  b.setLo(h.lo);
  b.setHi(h.hi);
}

antientropy::Hash128 read(wire::Hash128::Reader r) {
  return {r.getLo(), r.getHi()};
}

template <typename List>
void fill_u32s(List list, const std::vector<uint32_t>& values) {
  for (uint32_t i = 0; i < values.size(); ++i) list.set(i, values[i]);
}

template <typename Reader>
std::vector<uint32_t> read_u32s(Reader list) {
  std::vector<uint32_t> out;
  out.reserve(list.size());
  for (uint32_t v : list) out.push_back(v);
  return out;
}

void fill_anti_entropy(wire::PeerMessage::Builder b, const TreeRequest& m) {
  auto r = b.initTreeRequest();
  r.setPartition(m.partition);
  r.setSegments(m.segments);
  r.setLevel(m.level);
  fill_u32s(r.initIndices(m.indices.size()), m.indices);
}
void fill_anti_entropy(wire::PeerMessage::Builder b, const TreeReply& m) {
  auto r = b.initTreeReply();
  proto::fill(r.initStatus(), m.status);
  auto hashes = r.initHashes(m.hashes.size());
  for (uint32_t i = 0; i < m.hashes.size(); ++i) fill(hashes[i], m.hashes[i]);
}
void fill_anti_entropy(wire::PeerMessage::Builder b, const SegmentRequest& m) {
  auto r = b.initSegmentRequest();
  r.setPartition(m.partition);
  r.setSegments(m.segments);
  fill_u32s(r.initSegmentIds(m.segment_ids.size()), m.segment_ids);
}
void fill_anti_entropy(wire::PeerMessage::Builder b, const SegmentReply& m) {
  auto r = b.initSegmentReply();
  proto::fill(r.initStatus(), m.status);
  r.setSegmentsIncluded(m.segments_included);
  auto entries = r.initEntries(m.entries.size());
  for (uint32_t i = 0; i < m.entries.size(); ++i) {
    entries[i].setKey(to_data(m.entries[i].key));
    fill(entries[i].initHash(), m.entries[i].hash);
  }
}
void fill_anti_entropy(wire::PeerMessage::Builder b, const KeysRequest& m) {
  auto r = b.initKeysRequest();
  r.setPartition(m.partition);
  auto keys = r.initKeys(m.keys.size());
  for (uint32_t i = 0; i < m.keys.size(); ++i) keys.set(i, to_data(m.keys[i]));
}
void fill_anti_entropy(wire::PeerMessage::Builder b, const KeysReply& m) {
  auto r = b.initKeysReply();
  proto::fill(r.initStatus(), m.status);
  r.setKeysIncluded(m.keys_included);
  auto states = r.initStates(m.states.size());
  for (uint32_t i = 0; i < m.states.size(); ++i) {
    states[i].setKey(to_data(m.states[i].key));
    states[i].setFound(m.states[i].state.has_value());
    if (m.states[i].state) fill(states[i].initState(), *m.states[i].state);
  }
}

void fill_anti_entropy(wire::PeerMessage::Builder b, const TransferRequest& m) {
  auto r = b.initTransferRequest();
  r.setPartition(m.partition);
  r.setRingVersion(m.ring_version);
  r.setHasCursor(m.after.has_value());
  if (m.after) {
    r.setAfterToken(m.after->first);
    r.setAfterKey(to_data(m.after->second));
  }
  r.setBytesMax(m.bytes_max);
}
void fill_anti_entropy(wire::PeerMessage::Builder b, const TransferReply& m) {
  auto r = b.initTransferReply();
  proto::fill(r.initStatus(), m.status);
  auto states = r.initStates(m.states.size());
  for (uint32_t i = 0; i < m.states.size(); ++i) {
    states[i].setKey(to_data(m.states[i].key));
    states[i].setFound(m.states[i].state.has_value());
    if (m.states[i].state) fill(states[i].initState(), *m.states[i].state);
  }
  r.setDone(m.done);
}

Result<PeerBody> read_transfer(wire::PeerMessage::Reader r) {
  if (r.which() == wire::PeerMessage::TRANSFER_REQUEST) {
    auto m = r.getTransferRequest();
    TransferRequest request{m.getPartition(), m.getRingVersion(), std::nullopt, m.getBytesMax()};
    if (m.getHasCursor()) request.after.emplace(m.getAfterToken(), to_string(m.getAfterKey()));
    return PeerBody(std::move(request));
  }
  auto m = r.getTransferReply();
  TransferReply reply{proto::read(m.getStatus()), {}, m.getDone()};
  for (auto s : m.getStates()) {
    if (!s.getFound()) return Status::corruption("a transfer batch names a key it does not hold");
    auto state = read(s.getState());
    if (!state) return state.status();
    reply.states.push_back(KeyState{to_string(s.getKey()), std::move(state).value()});
  }
  return PeerBody(std::move(reply));
}

Result<PeerBody> read_anti_entropy(wire::PeerMessage::Reader r) {
  switch (r.which()) {
    case wire::PeerMessage::TREE_REQUEST: {
      auto m = r.getTreeRequest();
      return PeerBody(
          TreeRequest{m.getPartition(), m.getSegments(), m.getLevel(), read_u32s(m.getIndices())});
    }
    case wire::PeerMessage::TREE_REPLY: {
      auto m = r.getTreeReply();
      TreeReply reply{proto::read(m.getStatus()), {}};
      for (auto h : m.getHashes()) reply.hashes.push_back(read(h));
      return PeerBody(std::move(reply));
    }
    case wire::PeerMessage::SEGMENT_REQUEST: {
      auto m = r.getSegmentRequest();
      return PeerBody(
          SegmentRequest{m.getPartition(), m.getSegments(), read_u32s(m.getSegmentIds())});
    }
    case wire::PeerMessage::SEGMENT_REPLY: {
      auto m = r.getSegmentReply();
      SegmentReply reply{proto::read(m.getStatus()), m.getSegmentsIncluded(), {}};
      for (auto e : m.getEntries()) {
        reply.entries.push_back(
            antientropy::SegmentEntry{to_string(e.getKey()), read(e.getHash())});
      }
      return PeerBody(std::move(reply));
    }
    case wire::PeerMessage::KEYS_REQUEST: {
      auto m = r.getKeysRequest();
      KeysRequest request{m.getPartition(), {}};
      for (auto k : m.getKeys()) request.keys.push_back(to_string(k));
      return PeerBody(std::move(request));
    }
    case wire::PeerMessage::KEYS_REPLY: {
      auto m = r.getKeysReply();
      KeysReply reply{proto::read(m.getStatus()), m.getKeysIncluded(), {}};
      for (auto s : m.getStates()) {
        KeyState ks{to_string(s.getKey()), std::nullopt};
        if (s.getFound()) {
          auto state = read(s.getState());
          if (!state) return state.status();
          ks.state = std::move(state).value();
        }
        reply.states.push_back(std::move(ks));
      }
      return PeerBody(std::move(reply));
    }
    case wire::PeerMessage::TRANSFER_REQUEST:
    case wire::PeerMessage::TRANSFER_REPLY:
      return read_transfer(r);
    default:
      return Status::corruption(
          fmt::format("unknown peer message kind {}", static_cast<int>(r.which())));
  }
}

void fill_body(wire::PeerMessage::Builder b, const PeerBody& body) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, ReplicaRead>) {
          auto r = b.initReplicaRead();
          r.setKey(to_data(m.key));
          r.setWithHints(m.with_hints);
          r.setDigestOnly(m.digest_only);
        } else if constexpr (std::is_same_v<T, ReplicaReadReply>) {
          auto r = b.initReplicaReadReply();
          proto::fill(r.initStatus(), m.status);
          r.setFound(m.state.has_value());
          if (m.state) fill(r.initState(), *m.state);
          if (m.digest) {
            r.setHasDigest(true);
            r.setDigestHigh(m.digest->high);
            r.setDigestLow(m.digest->low);
          }
        } else if constexpr (std::is_same_v<T, ReplicaWrite>) {
          auto w = b.initReplicaWrite();
          w.setKey(to_data(m.key));
          fill(w.initState(), m.state);
          if (!m.hint_for.empty()) w.setHintFor(m.hint_for);
        } else if constexpr (std::is_same_v<T, ReplicaWriteAck>) {
          proto::fill(b.initReplicaWriteAck().initStatus(), m.status);
        } else if constexpr (std::is_same_v<T, ReplicaReap>) {
          auto w = b.initReplicaReap();
          w.setKey(to_data(m.key));
          fill(w.initState(), m.state);
        } else if constexpr (std::is_same_v<T, Forward>) {
          proto::fill(b.initForward(), m.request);
        } else if constexpr (std::is_same_v<T, ForwardReply>) {
          proto::fill(b.initForwardReply(), m.response);
        } else if constexpr (std::is_same_v<T, Gossip>) {
          fill_gossip(b, m.message);
        } else if constexpr (std::is_same_v<T, LinkPing>) {
          b.setPing();
        } else if constexpr (std::is_same_v<T, LinkPong>) {
          b.setPong();
        } else {
          fill_anti_entropy(b, m);
        }
      },
      body);
}

Result<PeerBody> read_body(wire::PeerMessage::Reader r) {
  switch (r.which()) {
    case wire::PeerMessage::REPLICA_READ:
      return PeerBody(ReplicaRead{to_string(r.getReplicaRead().getKey()),
                                  r.getReplicaRead().getWithHints(),
                                  r.getReplicaRead().getDigestOnly()});
    case wire::PeerMessage::REPLICA_READ_REPLY: {
      auto m = r.getReplicaReadReply();
      ReplicaReadReply reply{proto::read(m.getStatus()), std::nullopt, std::nullopt};
      if (m.getHasDigest()) {
        if (m.getFound())
          return Status::corruption("a replica read reply holds both a state and a digest");
        reply.digest = causal::StateSummary::Digest{m.getDigestHigh(), m.getDigestLow()};
      }
      if (m.getFound()) {
        auto state = read(m.getState());
        if (!state) return state.status();
        reply.state = std::move(state).value();
      }
      return PeerBody(std::move(reply));
    }
    case wire::PeerMessage::REPLICA_WRITE: {
      auto m = r.getReplicaWrite();
      auto state = read(m.getState());
      if (!state) return state.status();
      std::string hint_for(to_view(m.getHintFor()));
      if (!hint_for.empty()) QKV_RETURN_IF_ERROR(validate_node_id(hint_for));
      return PeerBody(
          ReplicaWrite{to_string(m.getKey()), std::move(state).value(), std::move(hint_for)});
    }
    case wire::PeerMessage::REPLICA_WRITE_ACK:
      return PeerBody(ReplicaWriteAck{proto::read(r.getReplicaWriteAck().getStatus())});
    case wire::PeerMessage::REPLICA_REAP: {
      auto m = r.getReplicaReap();
      auto state = read(m.getState());
      if (!state) return state.status();
      return PeerBody(ReplicaReap{to_string(m.getKey()), std::move(state).value()});
    }
    case wire::PeerMessage::FORWARD: {
      auto request = proto::read(r.getForward());
      if (!request) return request.status();
      return PeerBody(Forward{std::move(request).value()});
    }
    case wire::PeerMessage::FORWARD_REPLY: {
      auto response = proto::read(r.getForwardReply());
      if (!response) return response.status();
      return PeerBody(ForwardReply{std::move(response).value()});
    }
    case wire::PeerMessage::GOSSIP_SYN:
    case wire::PeerMessage::GOSSIP_ACK:
    case wire::PeerMessage::GOSSIP_ACK2: {
      auto message = read_gossip(r);
      if (!message) return message.status();
      return PeerBody(Gossip{std::move(message).value()});
    }
    case wire::PeerMessage::PING:
      return PeerBody(LinkPing{});
    case wire::PeerMessage::PONG:
      return PeerBody(LinkPong{});
    default:
      return read_anti_entropy(r);
  }
}

}  // namespace

kj::Array<capnp::word> encode(const PeerMessage& message) {
  proto::FlatMessageBuilder builder(
      first_segment_words(message.body) +
      static_cast<uint32_t>(message.from.size() / sizeof(capnp::word) + 1));
  auto root = builder.initRoot<wire::PeerMessage>();
  root.setFrom(message.from);
  root.setRequestId(message.request_id);
  fill_body(root, message.body);
  root.setDeadlineUnixMs(message.deadline_unix_ms);
  return builder.finish_words();
}

Result<PeerMessage> decode_peer_message(kj::ArrayPtr<const capnp::word> frame) {
  return proto::guarded_decode<PeerMessage>("peer message", [&]() -> Result<PeerMessage> {
    capnp::FlatArrayMessageReader reader(frame, proto::reader_options(frame.size()));
    auto root = reader.getRoot<wire::PeerMessage>();
    std::string from(to_view(root.getFrom()));
    QKV_RETURN_IF_ERROR(validate_node_id(from));
    auto body = read_body(root);
    if (!body) return body.status();
    return PeerMessage{std::move(from), root.getRequestId(), std::move(body).value(),
                       root.getDeadlineUnixMs()};
  });
}

std::string encode_sibling_set(const causal::SiblingSet& state) {
  proto::FlatMessageBuilder builder(first_segment_words(state),
                                    proto::FlatMessageBuilder::Output::kString);
  fill(builder.initRoot<wire::SiblingSet>(), state);
  return builder.finish_string();
}

Result<causal::SiblingSet> decode_sibling_set(std::string_view bytes) {
  return proto::guarded_decode<causal::SiblingSet>(
      "stored sibling set", [&]() -> Result<causal::SiblingSet> {
        auto words = aligned_copy(bytes);
        capnp::FlatArrayMessageReader reader(words, proto::reader_options(words.size()));
        return read(reader.getRoot<wire::SiblingSet>());
      });
}

std::string encode_context(const causal::VersionVector& vv) {
  if (vv.empty()) return {};
  proto::FlatMessageBuilder builder(first_segment_words(vv),
                                    proto::FlatMessageBuilder::Output::kString);
  fill(builder.initRoot<wire::VersionVector>(), vv);
  return builder.finish_string();
}

Result<causal::VersionVector> decode_context(std::string_view bytes) {
  if (bytes.empty()) return causal::VersionVector();
  if (bytes.size() % sizeof(capnp::word) != 0) {
    return Status::invalid_argument(
        fmt::format("causal context is malformed: {} bytes is not a whole number of 8-byte words",
                    bytes.size()));
  }
  auto result = proto::guarded_decode<causal::VersionVector>(
      "causal context", [&]() -> Result<causal::VersionVector> {
        auto words = aligned_copy(bytes);
        capnp::FlatArrayMessageReader reader(words, proto::reader_options(words.size()));
        return read(reader.getRoot<wire::VersionVector>());
      });
  // A bad context is the client's input, not corruption of ours.
  if (!result) return Status::invalid_argument(result.status().message());
  return result;
}

std::string encode_ring_state(const gossip::RingState& ring) {
  proto::FlatMessageBuilder builder(capnp::SUGGESTED_FIRST_SEGMENT_WORDS,
                                    proto::FlatMessageBuilder::Output::kString);
  fill_ring(builder.initRoot<wire::RingState>(), ring);
  return builder.finish_string();
}

Result<gossip::RingState> decode_ring_state(std::string_view bytes) {
  return proto::guarded_decode<gossip::RingState>(
      "stored ring", [&]() -> Result<gossip::RingState> {
        auto words = aligned_copy(bytes);
        capnp::FlatArrayMessageReader reader(words, proto::reader_options(words.size()));
        return read_ring(reader.getRoot<wire::RingState>());
      });
}

}  // namespace qkv::node
