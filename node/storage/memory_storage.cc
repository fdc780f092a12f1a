#include "node/storage/memory_storage.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
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

namespace {

constexpr const char* kCheckpointFile = "MEMORY_STORE";
constexpr std::string_view kCheckpointMagic = "qkv-memory-store-1\n";

using Family = std::map<std::string, std::string, std::less<>>;

void put_bytes(std::string& out, std::string_view bytes) {
  const uint64_t size = bytes.size();
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(size >> shift));
  out.append(bytes);
}

// Reads one length-prefixed string at `at`, advancing it; false past the end.
bool take_bytes(std::string_view in, std::size_t& at, std::string& out) {
  if (in.size() - at < 8) return false;
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size = (size << 8) | static_cast<unsigned char>(in[at + i]);
  at += 8;
  if (in.size() - at < size) return false;
  out.assign(in.substr(at, size));
  at += size;
  return true;
}

// The three families in order (data, hints, meta): a count, then key and value of each.
std::string encode_families(const std::vector<const Family*>& families) {
  std::string out(kCheckpointMagic);
  for (const Family* family : families) {
    put_bytes(out, std::to_string(family->size()));
    for (const auto& [key, value] : *family) {
      put_bytes(out, key);
      put_bytes(out, value);
    }
  }
  return out;
}

bool decode_families(std::string_view in, const std::vector<Family*>& families) {
  if (!in.starts_with(kCheckpointMagic)) return false;
  std::size_t at = kCheckpointMagic.size();
  std::string count, key, value;
  for (Family* family : families) {
    if (!take_bytes(in, at, count)) return false;
    std::size_t entries = 0;
    for (char c : count) {
      if (c < '0' || c > '9') return false;
      entries = entries * 10 + static_cast<std::size_t>(c - '0');
    }
    for (std::size_t i = 0; i < entries; ++i) {
      if (!take_bytes(in, at, key) || !take_bytes(in, at, value)) return false;
      family->insert_or_assign(key, value);
    }
  }
  return at == in.size();
}

}  // namespace

std::unique_ptr<MemoryStorage> MemoryStorage::copy() const {
  auto out = std::make_unique<MemoryStorage>();
  std::lock_guard lock(mutex_);
  out->data_ = data_;
  out->hints_ = hints_;
  out->meta_ = meta_;
  return out;
}

Status MemoryStorage::checkpoint(const std::string& dir, const MetaEntries& meta) {
  std::unique_ptr<MemoryStorage> snapshot = copy();
  for (const auto& [name, value] : meta) snapshot->meta_.insert_or_assign(name, value);
  const std::string bytes =
      encode_families({&snapshot->data_, &snapshot->hints_, &snapshot->meta_});
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(dir, ec))) {
    return Status::invalid_argument("snapshot directory " + dir +
                                    " exists already; a snapshot goes into a new directory");
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error("cannot create snapshot directory " + dir + ": " + ec.message());
  const std::string path = dir + "/" + kCheckpointFile;
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::filesystem::remove_all(dir, ec);
    return Status::io_error("cannot write snapshot file " + path);
  }
  return Status::ok();
}

Result<std::unique_ptr<MemoryStorage>> MemoryStorage::open_checkpoint(const std::string& dir) {
  const std::string path = dir + "/" + kCheckpointFile;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot read snapshot file " + path);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto store = std::make_unique<MemoryStorage>();
  if (!decode_families(bytes, {&store->data_, &store->hints_, &store->meta_})) {
    return Status::corruption("snapshot file " + path + " is not a MemoryStorage checkpoint");
  }
  return store;
}

}  // namespace qkv::storage
