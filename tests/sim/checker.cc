#include "tests/sim/checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace qkv::sim {
namespace {

std::string describe(const std::optional<causal::SiblingSet>& s) {
  if (!s) return "(nothing)";
  std::string out = "{vv:";
  for (const auto& e : s->version_vector().entries()) {
    out += fmt::format(" {}/{}:{}", e.actor.node, e.actor.incarnation % 10000, e.counter);
  }
  out += " siblings:";
  for (const auto& sib : s->siblings()) {
    out += fmt::format(" ({}/{}:{} {})", sib.dot.actor.node, sib.dot.actor.incarnation % 10000,
                       sib.dot.counter, sib.tombstone ? "tombstone" : sib.value);
  }
  return out + "}";
}

class Checker {
 public:
  Checker(const SimConfig& config, const std::vector<Op>& history, const FinalState& state,
          bool destructive, const std::map<std::string, std::vector<std::string>>& key_trace)
      : config_(config),
        history_(history),
        state_(state),
        destructive_(destructive),
        key_trace_(key_trace) {}

  std::vector<std::string> run() {
    for (const auto& [key, ks] : state_.keys) {
      causal::SiblingSet merged;
      for (const auto& [node, copy] : ks.replicas) {
        if (copy) merged = causal::SiblingSet::join(merged, *copy);
      }
      check_convergence(key, ks);
      check_writes(key, merged);
      check_metadata(key, ks, merged);
    }
    if (config_.ring_changes > 0) check_holdings();
    check_expiry();
    check_no_resurrection();
    // Delays, duplicates and skew lose nothing: read-your-writes must hold under them. Not
    // across ring changes: for the moment a new ring takes to spread, coordinators on the
    // old and the new table write to and read from different primaries (writes in a
    // transition count its receivers, W + p, which covers the transition itself; the
    // switch's spread is what remains, about 5 in 200 seeds).
    const Faults& f = config_.faults;
    if (f.loss == 0 && !f.partitions && !f.crashes && !f.wipes && !f.restores &&
        config_.ring_changes == 0) {
      check_solo();
    }
    return violations_;
  }

 private:
  void violation(const std::string& key, const std::string& what) {
    std::string report = fmt::format("seed {}: key '{}': {}\n", config_.seed, key, what);
    auto it = key_trace_.find(key);
    if (it != key_trace_.end()) {
      const auto& lines = it->second;
      std::size_t from = lines.size() > 60 ? lines.size() - 60 : 0;
      report += fmt::format("  trace of '{}' (last {} of {} events):\n", key, lines.size() - from,
                            lines.size());
      for (std::size_t i = from; i < lines.size(); ++i) report += "    " + lines[i] + "\n";
    }
    auto ks = state_.keys.find(key);
    if (ks != state_.keys.end()) {
      for (const auto& [node, copy] : ks->second.replicas) {
        report += fmt::format("  final {}: {}\n", node, describe(copy));
      }
    }
    violations_.push_back(std::move(report));
  }

  void node_violation(const NodeId& node, const std::string& what) {
    violations_.push_back(fmt::format("seed {}: node '{}': {} (final ring version {})\n",
                                      config_.seed, node, what, state_.ring_version));
  }

  // Every node holds and stores only the ranges it replicates in the final ring: the old
  // replicas dropped what moved away, and a node that left is empty.
  void check_holdings() {
    for (const auto& [node, h] : state_.holdings) {
      std::vector<uint32_t> held, stored;
      std::size_t stored_keys = 0;
      for (uint32_t p : h.held) {
        if (!h.replicated.count(p)) held.push_back(p);
      }
      for (const auto& [p, keys] : h.stored) {
        if (!h.replicated.count(p)) stored.push_back(p), stored_keys += keys;
      }
      const char* who = h.removed              ? "left the ring and exited, yet"
                        : h.replicated.empty() ? "replicates nothing in the final ring, yet"
                                               : "";
      if (!held.empty()) {
        node_violation(node, fmt::format("{} still holds key ranges it does not replicate: {}", who,
                                         fmt::join(held, ",")));
      }
      if (!stored.empty()) {
        node_violation(node, fmt::format("{} stores {} keys of ranges it does not replicate: {}",
                                         who, stored_keys, fmt::join(stored, ",")));
      }
    }
  }

  // A reaped tombstone and a tombstone mean the same: deleted. A reap still in flight at
  // the end leaves some primaries with the tombstone and others with nothing.
  static std::optional<causal::SiblingSet> reaped_as_none(std::optional<causal::SiblingSet> s) {
    if (s && s->is_deleted()) return std::nullopt;
    return s;
  }

  void check_convergence(const std::string& key, const KeyState& ks) {
    const auto first = reaped_as_none(ks.replicas.at(ks.primaries.front()));
    for (const auto& p : ks.primaries) {
      if (!(reaped_as_none(ks.replicas.at(p)) == first)) {
        return violation(
            key, fmt::format("not converged: primaries {} and {} differ", ks.primaries.front(), p));
      }
    }
    for (const auto& [node, copy] : ks.replicas) {
      if (copy && std::find(ks.primaries.begin(), ks.primaries.end(), node) == ks.primaries.end()) {
        violation(key, fmt::format("{} holds the key but is not one of its primaries", node));
      }
    }
  }

  // A put with a time to live may be gone (expired, then reaped).
  bool must_survive(const Op& op) const {
    return op.kind != Op::Kind::kGet && op.outcome == Op::Outcome::kOk &&
           !(destructive_ && op.quorum < 2) && op.ttl_seconds == 0;
  }

  // After a key was reaped, no get may return a value an acknowledged delete before the
  // reap had superseded (what Cassandra's zombies and Riak's resurrected deletes are).
  void check_no_resurrection() {
    for (const auto& del : history_) {
      if (del.kind != Op::Kind::kDelete || del.outcome != Op::Outcome::kOk || del.seen.empty()) {
        continue;
      }
      auto reaps = state_.reaps.find(del.key);
      if (reaps == state_.reaps.end()) continue;
      auto reap = std::find_if(reaps->second.begin(), reaps->second.end(),
                               [&](TimePoint t) { return t > del.end; });
      if (reap == reaps->second.end()) continue;
      for (const auto& get : history_) {
        if (get.kind != Op::Kind::kGet || get.key != del.key || get.start <= *reap) continue;
        for (const auto& v : get.values) {
          if (std::find(del.seen.begin(), del.seen.end(), v) == del.seen.end()) continue;
          violation(del.key, fmt::format("resurrected delete: op {} read '{}', which the "
                                         "acknowledged delete op {} superseded, after the key "
                                         "was reaped",
                                         get.id, v, del.id));
        }
      }
    }
  }

  // No read sees a value past its time to live: the coordinator that wrote it set the end
  // by its clock, the one that reads compares with its own, and the two may be 4 s apart
  // (skew), so a get that starts more than 4.5 s past the end must not return it.
  void check_expiry() {
    std::map<std::string, const Op*> put_of;
    for (const auto& op : history_) {
      if (op.kind == Op::Kind::kPut && op.ttl_seconds > 0) put_of[op.value] = &op;
    }
    if (put_of.empty()) return;
    for (const auto& op : history_) {
      if (op.kind != Op::Kind::kGet || op.outcome != Op::Outcome::kOk) continue;
      for (const auto& v : op.values) {
        auto put = put_of.find(v);
        if (put == put_of.end()) continue;
        const TimePoint expired =
            put->second->end + Duration(put->second->ttl_seconds * 1000) + Duration(4500);
        if (op.start > expired) {
          violation(op.key, fmt::format("read an expired value: op {} read '{}' {} ms after its "
                                        "{} s time to live ended (skew bound 4.5 s)",
                                        op.id, v, (op.start - expired).count() + 4500,
                                        put->second->ttl_seconds));
        }
      }
    }
  }

  void check_writes(const std::string& key, const causal::SiblingSet& merged) {
    std::vector<std::string> live = merged.values();
    std::set<std::string> present(live.begin(), live.end());
    std::map<std::string, const Op*> put_of;
    for (const auto& op : history_) {
      if (op.key == key && op.kind == Op::Kind::kPut) put_of[op.value] = &op;
    }
    // Writes that took effect: acknowledged ones, puts still visible, and deletes and puts
    // with a time to live that may have been applied (a tombstone carries no value to
    // recognise it by, and an expired value is gone once reaped).
    std::set<std::string> covered;
    std::vector<const Op*> frontier;
    for (const auto& op : history_) {
      if (op.key != key || op.kind == Op::Kind::kGet || op.outcome == Op::Outcome::kFailed)
        continue;
      bool effective = op.outcome == Op::Outcome::kOk || op.kind == Op::Kind::kDelete ||
                       op.ttl_seconds > 0 || present.count(op.value);
      if (effective) frontier.push_back(&op);
    }
    while (!frontier.empty()) {
      const Op* op = frontier.back();
      frontier.pop_back();
      for (const auto& v : op->seen) {
        if (covered.insert(v).second && put_of.count(v)) frontier.push_back(put_of[v]);
      }
    }
    for (const auto& op : history_) {
      if (op.key != key || !must_survive(op)) continue;
      if (op.kind == Op::Kind::kPut && !present.count(op.value) && !covered.count(op.value)) {
        violation(key, fmt::format("lost write: the acknowledged put '{}' (op {}, w={}) is "
                                   "neither a sibling nor covered by a later write",
                                   op.value, op.id, op.quorum));
      }
      for (const auto& v : op.seen) {
        if (present.count(v)) {
          violation(key,
                    fmt::format("lost write: the acknowledged {} (op {}, w={}) superseded "
                                "'{}', which is back",
                                op.kind == Op::Kind::kPut ? "put" : "delete", op.id, op.quorum, v));
        }
      }
    }
  }

  void check_metadata(const std::string& key, const KeyState& ks,
                      const causal::SiblingSet& merged) {
    // Coordinators are primaries of the ring they had: with ring changes, of any ring.
    const std::vector<NodeId>& primaries =
        ks.ever_primaries.empty() ? ks.primaries : ks.ever_primaries;
    std::size_t bound = 0;
    for (const auto& p : primaries) bound += state_.incarnations.at(p);
    const auto& vv = merged.version_vector();
    if (vv.size() > bound) {
      violation(key, fmt::format("version vector has {} entries; the bound is {} (incarnations "
                                 "of its primaries)",
                                 vv.size(), bound));
    }
    for (const auto& e : vv.entries()) {
      if (std::find(primaries.begin(), primaries.end(), e.actor.node) == primaries.end()) {
        violation(key,
                  fmt::format("version vector names {}, which is not a primary", e.actor.node));
      }
    }
  }

  // Without lossy faults, the solo client's sequential read-modify-writes (R+W>N) must read
  // their own writes and never make siblings.
  void check_solo() {
    std::map<std::string, std::optional<std::string>> last;  // key -> last acknowledged put
    // A write with no answer may or may not have been applied: nothing to expect after it.
    std::set<std::string> uncertain;
    for (const auto& op : history_) {
      if (op.solo && op.kind != Op::Kind::kGet && op.outcome != Op::Outcome::kOk) {
        uncertain.insert(op.key);
      }
    }
    for (const auto& op : history_) {
      if (!op.solo || uncertain.count(op.key)) continue;
      if (op.kind == Op::Kind::kGet &&
          (op.outcome == Op::Outcome::kOk || op.outcome == Op::Outcome::kNotFound)) {
        std::vector<std::string> expected;
        if (last[op.key]) expected.push_back(*last[op.key]);
        if (op.values != expected) {
          violation(op.key,
                    fmt::format("read-your-writes: op {} read [{}] after the "
                                "acknowledged write '{}'",
                                op.id, fmt::join(op.values, ","), last[op.key].value_or("(none)")));
        }
      }
      if (op.kind == Op::Kind::kPut && op.outcome == Op::Outcome::kOk) last[op.key] = op.value;
    }
    for (const auto& [key, value] : last) {
      causal::SiblingSet merged;
      for (const auto& [node, copy] : state_.keys.at(key).replicas) {
        if (copy) merged = causal::SiblingSet::join(merged, *copy);
      }
      if (value && merged.values().size() != 1) {
        violation(key, fmt::format("spurious siblings: {} siblings after sequential "
                                   "read-modify-writes",
                                   merged.values().size()));
      }
    }
  }

  const SimConfig& config_;
  const std::vector<Op>& history_;
  const FinalState& state_;
  bool destructive_;
  const std::map<std::string, std::vector<std::string>>& key_trace_;
  std::vector<std::string> violations_;
};

}  // namespace

std::vector<std::string> check(const SimConfig& config, const std::vector<Op>& history,
                               const FinalState& state, bool destructive_event,
                               const std::map<std::string, std::vector<std::string>>& key_trace) {
  return Checker(config, history, state, destructive_event, key_trace).run();
}

}  // namespace qkv::sim
