#include "node/storage/memory_storage.h"

#include <utility>
#include <vector>

#include "node/storage/key_codec.h"

namespace qkv::storage {

Result<std::optional<std::string>> MemoryStorage::get(ring::Token token, std::string_view key) {
  const std::string data_key = encode_data_key(token, key);
  std::lock_guard lock(mutex_);
  auto it = data_.find(data_key);
  if (it == data_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryStorage::write(std::span<const WriteOp> ops) {
  // Encode outside the lock; the batch then lands under one lock hold: all or nothing.
  std::vector<std::pair<std::string, const WriteOp*>> encoded;
  encoded.reserve(ops.size());
  for (const WriteOp& op : ops) encoded.emplace_back(encode_data_key(op.token, op.key), &op);
  std::lock_guard lock(mutex_);
  for (auto& [data_key, op] : encoded) {
    if (op->erase) {
      data_.erase(data_key);
    } else {
      data_.insert_or_assign(std::move(data_key), op->value);
    }
  }
  return Status::ok();
}

Status MemoryStorage::scan(ring::Token first, ring::Token last, const ScanVisitor& visit) {
  if (first > last) {
    return Status::invalid_argument("scan range is empty: first token " + std::to_string(first) +
                                    " > last token " + std::to_string(last));
  }
  std::vector<std::pair<std::string, std::string>> snapshot;
  {
    std::lock_guard lock(mutex_);
    auto it = data_.lower_bound(encode_token(first));
    // Stop at the first key past `last`; with last == UINT64_MAX that is the map's end.
    auto end = last == UINT64_MAX ? data_.end() : data_.lower_bound(encode_token(last + 1));
    snapshot.assign(it, end);
  }
  for (const auto& [data_key, value] : snapshot) {
    auto decoded = decode_data_key(data_key);
    QKV_ASSERT(decoded.is_ok());  // every key here came from encode_data_key
    if (!visit(decoded->first, decoded->second, value)) break;
  }
  return Status::ok();
}

Status MemoryStorage::delete_range(ring::Token first, ring::Token last) {
  if (first > last) {
    return Status::invalid_argument("delete range is empty: first token " + std::to_string(first) +
                                    " > last token " + std::to_string(last));
  }
  std::lock_guard lock(mutex_);
  auto it = data_.lower_bound(encode_token(first));
  auto end = last == UINT64_MAX ? data_.end() : data_.lower_bound(encode_token(last + 1));
  data_.erase(it, end);
  return Status::ok();
}

Result<std::optional<std::string>> MemoryStorage::get_hint(const NodeId& target, ring::Token token,
                                                           std::string_view key) {
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  const std::string hint_key = encode_hint_key(target, token, key);
  std::lock_guard lock(mutex_);
  auto it = hints_.find(hint_key);
  if (it == hints_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryStorage::put_hint(const NodeId& target, ring::Token token, std::string_view key,
                               std::string_view value) {
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  std::string hint_key = encode_hint_key(target, token, key);
  std::lock_guard lock(mutex_);
  hints_.insert_or_assign(std::move(hint_key), std::string(value));
  return Status::ok();
}

Status MemoryStorage::delete_hint(const NodeId& target, ring::Token token, std::string_view key) {
  QKV_RETURN_IF_ERROR(validate_node_id(target));
  const std::string hint_key = encode_hint_key(target, token, key);
  std::lock_guard lock(mutex_);
  hints_.erase(hint_key);
  return Status::ok();
}

Status MemoryStorage::scan_hints(const HintVisitor& visit) {
  std::vector<std::pair<std::string, std::string>> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot.assign(hints_.begin(), hints_.end());
  }
  NodeId target;
  for (const auto& [hint_key, value] : snapshot) {
    auto decoded = decode_hint_key(hint_key);
    QKV_ASSERT(decoded.is_ok());  // every key here came from encode_hint_key
    target.assign(decoded->target);
    if (!visit(target, decoded->token, decoded->key, value)) break;
  }
  return Status::ok();
}

Result<std::optional<std::string>> MemoryStorage::get_meta(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto it = meta_.find(name);
  if (it == meta_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryStorage::put_meta(std::string_view name, std::string_view value) {
  std::lock_guard lock(mutex_);
  meta_.insert_or_assign(std::string(name), std::string(value));
  return Status::ok();
}

}  // namespace qkv::storage
