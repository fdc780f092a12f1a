#include "tests/sim/sim_storage.h"

#include <algorithm>

namespace qkv::sim {

Result<std::optional<std::string>> SimStorage::get(ring::Token token, std::string_view key) {
  // The newest unsynced write wins over the durable copy.
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (it->kind == Kind::kData && it->op.token == token && it->op.key == key) {
      if (it->op.erase) return std::optional<std::string>();
      return std::optional(it->op.value);
    }
  }
  return durable_->get(token, key);
}

Status SimStorage::write(std::span<const storage::WriteOp> ops) {
  if (sync_writes_) return durable_->write(ops);
  for (const auto& op : ops) pending_.push_back({clock_.now(), Kind::kData, {}, op});
  return Status::ok();
}

Status SimStorage::scan(ring::Token first, ring::Token last, const storage::ScanVisitor& visit) {
  // Rare in the simulation: a merged copy keeps it simple.
  storage::MemoryStorage view;
  QKV_RETURN_IF_ERROR(
      durable_->scan(first, last, [&](ring::Token t, std::string_view k, std::string_view v) {
        storage::WriteOp op{t, std::string(k), std::string(v)};
        return view.write(std::span(&op, 1)).is_ok();
      }));
  for (const auto& p : pending_) {
    if (p.kind == Kind::kData && p.op.token >= first && p.op.token <= last) {
      QKV_RETURN_IF_ERROR(view.write(std::span(&p.op, 1)));
    }
  }
  return view.scan(first, last, visit);
}

Status SimStorage::delete_range(ring::Token first, ring::Token last) {
  std::erase_if(pending_, [&](const Pending& p) {
    return p.kind == Kind::kData && p.op.token >= first && p.op.token <= last;
  });
  return durable_->delete_range(first, last);
}

Result<std::optional<std::string>> SimStorage::get_hint(const NodeId& target, ring::Token token,
                                                        std::string_view key) {
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (it->kind != Kind::kData && it->target == target && it->op.token == token &&
        it->op.key == key) {
      if (it->kind == Kind::kHintDelete) return std::optional<std::string>();
      return std::optional(it->op.value);
    }
  }
  return durable_->get_hint(target, token, key);
}

Status SimStorage::put_hint(const NodeId& target, ring::Token token, std::string_view key,
                            std::string_view value) {
  if (sync_writes_) return durable_->put_hint(target, token, key, value);
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  pending_.push_back(
      {clock_.now(), Kind::kHintPut, target, {token, std::string(key), std::string(value)}});
  return Status::ok();
}

Status SimStorage::delete_hint(const NodeId& target, ring::Token token, std::string_view key) {
  if (sync_writes_) return durable_->delete_hint(target, token, key);
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  pending_.push_back({clock_.now(), Kind::kHintDelete, target, {token, std::string(key), {}}});
  return Status::ok();
}

Status SimStorage::scan_hints(const storage::HintVisitor& visit) {
  // As scan(): the durable hints with the unsynced hint writes applied in order.
  storage::MemoryStorage view;
  QKV_RETURN_IF_ERROR(durable_->scan_hints(
      [&](const NodeId& target, ring::Token t, std::string_view k, std::string_view v) {
        return view.put_hint(target, t, k, v).is_ok();
      }));
  for (const auto& p : pending_) {
    if (p.kind != Kind::kData) QKV_RETURN_IF_ERROR(apply(view, p));
  }
  return view.scan_hints(visit);
}

Result<std::optional<std::string>> SimStorage::get_meta(std::string_view name) {
  return durable_->get_meta(name);
}

Status SimStorage::put_meta(std::string_view name, std::string_view value) {
  return durable_->put_meta(name, value);
}

Status SimStorage::checkpoint(const std::string& dir, const storage::MetaEntries& meta) {
  if (checkpoints_.count(dir)) {
    return Status::invalid_argument("snapshot directory " + dir + " exists already");
  }
  std::unique_ptr<storage::MemoryStorage> copy = durable_->copy();
  for (const auto& p : pending_) QKV_RETURN_IF_ERROR(apply(*copy, p));
  for (const auto& [name, value] : meta) QKV_RETURN_IF_ERROR(copy->put_meta(name, value));
  checkpoints_.emplace(dir, std::move(copy));
  return Status::ok();
}

Status SimStorage::restore(const std::string& dir) {
  auto it = checkpoints_.find(dir);
  if (it == checkpoints_.end()) return Status::not_found("no snapshot in " + dir);
  durable_ = it->second->copy();
  pending_.clear();
  return Status::ok();
}

Status SimStorage::apply(storage::Storage& store, const Pending& pending) {
  switch (pending.kind) {
    case Kind::kData:
      return store.write(std::span(&pending.op, 1));
    case Kind::kHintPut:
      return store.put_hint(pending.target, pending.op.token, pending.op.key, pending.op.value);
    case Kind::kHintDelete:
      return store.delete_hint(pending.target, pending.op.token, pending.op.key);
  }
  QKV_ASSERT(false);
  return Status::ok();
}

void SimStorage::write_back(TimePoint now) {
  while (!pending_.empty() && now - pending_.front().at >= writeback_) {
    Status s = apply(*durable_, pending_.front());
    QKV_ASSERT(s.is_ok());
    pending_.pop_front();
  }
}

std::size_t SimStorage::lose_unsynced() {
  std::size_t lost = pending_.size();
  pending_.clear();
  return lost;
}

}  // namespace qkv::sim
