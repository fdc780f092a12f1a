// The workload: clients issuing gets, puts and deletes (read-modify-writes with the read's
// context, blind puts, plain gets) to any node, their answers or timeouts, and the history
// of operations the checker judges.
#include "tests/sim/world.h"

#include <fmt/format.h>

#include "node/wire/replica_codec.h"

namespace qkv::sim::detail {
namespace {

// "ctx{n1/1234:3 ...}" for a trace line; incarnations shortened to 4 digits.
std::string describe_context(const std::string& bytes) {
  auto vv = node::decode_context(bytes);
  if (!vv) return " ctx{malformed}";
  std::string out = " ctx{";
  for (const auto& e : vv->entries()) {
    out += fmt::format("{}{}/{}:{}", out.size() > 5 ? " " : "", e.actor.node,
                       e.actor.incarnation % 10000, e.counter);
  }
  return out + "}";
}

}  // namespace

void Simulation::client_step(Client& c) {
  // With ring changes, the workload goes on until the last transition has switched.
  if (ops_started_ >= config_.ops && !ring_changes_pending()) {
    ++clients_done_;
    return;
  }
  ++ops_started_;
  after(between(0, 20), [this, &c] { start_op(c); });
}

// Read-modify-write as a real client does it: read, then write with that read's context.
void Simulation::start_op(Client& c) {
  const std::string key = c.keys[below(c.keys.size())];
  uint32_t n = config_.n;
  uint8_t r = c.solo ? static_cast<uint8_t>(n / 2 + 1) : static_cast<uint8_t>(1 + below(n));
  uint64_t roll = c.solo ? 50 : below(100);
  Op::Kind write_kind = roll < 75 ? Op::Kind::kPut : Op::Kind::kDelete;
  if (roll >= 30 && roll < 40) {  // a blind put: no context at all
    return record_write(c, Op::Kind::kPut, key, std::nullopt);
  }
  // The solo client's reads need r primaries (pr = r): its writes are acked by W primaries
  // (sloppy=false), and only a read of R primaries is sure to overlap them once fallbacks
  // may answer for primaries held down.
  uint8_t pr = c.solo ? r : 0;
  std::size_t index = begin_op(c, Op::Kind::kGet, key, r);
  issue(c, pick_node(), proto::GetRequest{key, r, false, pr},
        [this, &c, index, roll, write_kind](std::optional<proto::ClientResponse> response) {
          Op& op = history_[index];
          std::string context;
          if (response) {
            if (auto* body = std::get_if<proto::GetResponse>(&response->body))
              context = body->context;
          }
          finish(op, response);
          bool read_ok = op.outcome == Op::Outcome::kOk || op.outcome == Op::Outcome::kNotFound;
          if (roll < 30 || !read_ok) return client_step(c);  // a plain get, or nothing to build on
          pending_context_ = context;
          record_write(c, write_kind, op.key, op.values);  // copies: history_ grows
        });
}

std::size_t Simulation::begin_op(const Client& c, Op::Kind kind, const std::string& key,
                                 uint8_t quorum) {
  std::size_t index = history_.size();
  Op op;
  op.id = index;
  op.client = c.index;
  op.solo = c.solo;
  op.kind = kind;
  op.key = key;
  op.quorum = quorum;
  op.start = clock_.now();
  history_.push_back(std::move(op));
  return index;
}

void Simulation::record_write(Client& c, Op::Kind kind, std::string key,
                              std::optional<std::vector<std::string>> seen) {
  uint32_t n = config_.n;
  uint8_t w = c.solo ? static_cast<uint8_t>(n / 2 + 1) : static_cast<uint8_t>(1 + below(n));
  std::size_t index = begin_op(c, kind, key, w);
  Op& op = history_[index];
  std::string context;
  if (seen) {
    op.seen = std::move(*seen);
    op.has_context = true;
    context = std::move(pending_context_);
  }
  trace(fmt::format("client {} op {} issues {} with{}", c.index, index,
                    kind == Op::Kind::kPut ? "put" : "delete", describe_context(context)),
        &key);
  proto::ClientOp request;
  // The solo client wants read-your-writes: that holds for R+W>N on primaries, so its
  // writes say sloppy=false (acks from fallbacks are not seen by a primary read quorum).
  bool primaries_only = c.solo;
  if (kind == Op::Kind::kPut) {
    op.value = fmt::format("c{}-{}", c.index, index);
    if (config_.faults.ttl && !c.solo && below(100) < 30) {
      op.ttl_seconds = static_cast<uint32_t>(1 + below(5));
    }
    request = proto::PutRequest{key, op.value, context, w, primaries_only, op.ttl_seconds};
  } else {
    request = proto::DeleteRequest{key, context, w, primaries_only};
  }
  issue(c, pick_node(), std::move(request),
        [this, &c, index](std::optional<proto::ClientResponse> response) {
          finish(history_[index], response);
          client_step(c);
        });
}

int Simulation::pick_node() {
  if (!rings_on()) return static_cast<int>(below(nodes_.size()));
  std::vector<int> candidates;
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (!nodes_[i].removed) candidates.push_back(i);
  }
  return candidates[below(candidates.size())];
}

void Simulation::issue(Client& c, int node, proto::ClientOp op,
                       std::function<void(std::optional<proto::ClientResponse>)> on_answer) {
  uint64_t id = next_request_id_++;
  c.waiting = id;
  c.on_answer = std::move(on_answer);
  SimNode& n = nodes_[node];
  if (!n.host) {
    // Connection refused: the client knows at once that nothing was sent.
    c.waiting.reset();
    auto f = std::move(c.on_answer);
    proto::ClientResponse refused{id, Status::unavailable("connection refused"), {}};
    return after(Duration(1), [f = std::move(f), refused] { f(refused); });
  }
  uint32_t timeout_ms = timeout_ms_of(c);
  proto::ClientRequest request{id, timeout_ms, std::move(op)};
  after(between(1, 3), [this, node, life = n.life, request, client = c.index]() mutable {
    SimNode& target = nodes_[node];
    if (target.life != life || !target.host) return;  // crashed before it arrived
    batch(node);
    target.host->on_client_request(static_cast<node::ClientId>(client), std::move(request));
  });
  after(kClientTimeout + Duration(timeout_ms), [this, id, client = c.index] {
    Client& cl = clients_[client];
    if (!cl.waiting || *cl.waiting != id) return;
    cl.waiting.reset();
    auto f = std::move(cl.on_answer);
    f(std::nullopt);
  });
}

void Simulation::on_reply(node::ClientId client, proto::ClientResponse response) {
  auto shared = std::make_shared<proto::ClientResponse>(std::move(response));
  after(between(1, 3), [this, client, shared] {
    Client& c = clients_[client];
    if (!c.waiting || *c.waiting != shared->request_id) return;  // late: it timed out
    c.waiting.reset();
    auto on_answer = std::move(c.on_answer);
    on_answer(*shared);
  });
}

void Simulation::finish(Op& op, const std::optional<proto::ClientResponse>& response) {
  op.end = clock_.now();
  if (!response) {
    op.outcome = Op::Outcome::kUnknown;
    op.status = "no answer in time";
  } else if (response->status.is_ok()) {
    op.outcome = Op::Outcome::kOk;
  } else if (response->status.code() == StatusCode::kNotFound) {
    op.outcome = Op::Outcome::kNotFound;
  } else {
    op.outcome = response->status.code() == StatusCode::kUnavailable ||
                         response->status.code() == StatusCode::kTimeout
                     ? Op::Outcome::kUnknown  // some replicas may have applied it
                     : Op::Outcome::kFailed;
    if (response->status.message() == "connection refused") op.outcome = Op::Outcome::kFailed;
    op.status = response->status.to_string();
  }
  std::string context;
  if (response) {
    if (auto* body = std::get_if<proto::GetResponse>(&response->body)) {
      op.values = body->values;
      context = describe_context(body->context);
    }
  }
  static constexpr const char* kOutcomes[] = {"ok", "not_found", "failed", "unknown"};
  std::string values;
  for (const auto& v : op.values) values += (values.empty() ? "" : ",") + v;
  trace(fmt::format("client {} op {} {} {} -> {} [{}] {}{}", op.client, op.id,
                    op.kind == Op::Kind::kGet   ? "get"
                    : op.kind == Op::Kind::kPut ? "put"
                                                : "delete",
                    op.value, kOutcomes[static_cast<int>(op.outcome)], values, op.status, context),
        &op.key);
}

}  // namespace qkv::sim::detail
