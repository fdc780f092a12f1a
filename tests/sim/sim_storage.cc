#include "tests/sim/sim_storage.h"

#include <algorithm>

namespace qkv::sim {

Result<std::optional<std::string>> SimStorage::get(ring::Token token, std::string_view key) {
  // The newest unsynced write wins over the durable copy.
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (it->op.token == token && it->op.key == key) return std::optional(it->op.value);
  }
  return durable_.get(token, key);
}

Status SimStorage::write(std::span<const storage::WriteOp> ops) {
  if (sync_writes_) return durable_.write(ops);
  for (const auto& op : ops) pending_.push_back({clock_.now(), op});
  return Status::ok();
}

Status SimStorage::scan(ring::Token first, ring::Token last, const storage::ScanVisitor& visit) {
  // Rare in the simulation: a merged copy keeps it simple.
  storage::MemoryStorage view;
  QKV_RETURN_IF_ERROR(
      durable_.scan(first, last, [&](ring::Token t, std::string_view k, std::string_view v) {
        storage::WriteOp op{t, std::string(k), std::string(v)};
        return view.write(std::span(&op, 1)).is_ok();
      }));
  for (const auto& p : pending_) {
    if (p.op.token >= first && p.op.token <= last) {
      QKV_RETURN_IF_ERROR(view.write(std::span(&p.op, 1)));
    }
  }
  return view.scan(first, last, visit);
}

Result<std::optional<std::string>> SimStorage::get_meta(std::string_view name) {
  return durable_.get_meta(name);
}

Status SimStorage::put_meta(std::string_view name, std::string_view value) {
  return durable_.put_meta(name, value);
}

void SimStorage::write_back(TimePoint now) {
  while (!pending_.empty() && now - pending_.front().at >= writeback_) {
    Status s = durable_.write(std::span(&pending_.front().op, 1));
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
