#include "net/credentials.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace qkv::net {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kKeyBytes = 32;
constexpr std::string_view kForm = "scrypt:<log2 N>:<r>:<p>:<salt base64>:<key base64>";

std::string openssl_reason() {
  char buffer[256] = {};
  ERR_error_string_n(ERR_get_error(), buffer, sizeof buffer);
  return buffer;
}

std::string base64(const std::vector<unsigned char>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Standard base64 with padding; false on anything else.
bool unbase64(std::string_view text, std::vector<unsigned char>& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  out.assign(text.size() / 4 * 3, 0);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return false;
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return true;
}

Status check_cost(const ScryptCost& cost) {
  if (cost.log2_n < 10 || cost.log2_n > 20 || cost.r < 1 || cost.r > 32 || cost.p < 1 ||
      cost.p > 16) {
    return Status::invalid_argument(
        fmt::format("scrypt cost log2 N {}, r {}, p {} out of range (log2 N 10..20, r 1..32, "
                    "p 1..16)",
                    cost.log2_n, cost.r, cost.p));
  }
  return Status::ok();
}

struct ParsedHash {
  ScryptCost cost;
  std::vector<unsigned char> salt, key;
};

template <typename T>
bool parse_number(std::string_view text, T& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

Result<ParsedHash> parse_hash(std::string_view hash) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t colon = hash.find(':', start);
    parts.push_back(hash.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  auto bad = [](std::string_view what) {
    return Status::invalid_argument(fmt::format("secret hash: {}; expected {}", what, kForm));
  };
  if (parts.size() != 6 || parts[0] != "scrypt") return bad("not an scrypt hash");
  ParsedHash out;
  unsigned log2_n = 0;
  if (!parse_number(parts[1], log2_n) || log2_n > 255 || !parse_number(parts[2], out.cost.r) ||
      !parse_number(parts[3], out.cost.p)) {
    return bad("the cost is not three numbers");
  }
  out.cost.log2_n = static_cast<uint8_t>(log2_n);
  QKV_RETURN_IF_ERROR(check_cost(out.cost));
  if (!unbase64(parts[4], out.salt) || out.salt.size() < 8) {
    return bad("the salt is not base64 of at least 8 bytes");
  }
  if (!unbase64(parts[5], out.key) || out.key.size() < 16) {
    return bad("the derived key is not base64 of at least 16 bytes");
  }
  return out;
}

Result<std::vector<unsigned char>> derive(std::string_view secret, const ScryptCost& cost,
                                          const std::vector<unsigned char>& salt,
                                          std::size_t key_bytes) {
  std::vector<unsigned char> key(key_bytes);
  const uint64_t n = uint64_t{1} << cost.log2_n;
  // scrypt needs 128 * r * (N + p) bytes; allow that and a margin.
  const uint64_t mem_max = 128 * uint64_t{cost.r} * (n + cost.p + 2) + (1u << 20);
  if (EVP_PBE_scrypt(secret.data(), secret.size(), salt.data(), salt.size(), n, cost.r, cost.p,
                     mem_max, key.data(), key.size()) != 1) {
    return Status::io_error("scrypt failed: " + openssl_reason());
  }
  return key;
}

}  // namespace

Result<std::string> hash_secret(std::string_view secret, ScryptCost cost) {
  if (secret.empty()) return Status::invalid_argument("the secret is empty");
  QKV_RETURN_IF_ERROR(check_cost(cost));
  std::vector<unsigned char> salt(kSaltBytes);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return Status::io_error("no random salt: " + openssl_reason());
  }
  auto key = derive(secret, cost, salt, kKeyBytes);
  if (!key) return key.status();
  return fmt::format("scrypt:{}:{}:{}:{}:{}", cost.log2_n, cost.r, cost.p, base64(salt),
                     base64(*key));
}

Status verify_secret(std::string_view secret, std::string_view hash) {
  auto parsed = parse_hash(hash);
  if (!parsed) return parsed.status();
  auto key = derive(secret, parsed->cost, parsed->salt, parsed->key.size());
  if (!key) return key.status();
  if (CRYPTO_memcmp(key->data(), parsed->key.data(), key->size()) != 0) {
    return Status::unauthenticated("wrong secret");
  }
  return Status::ok();
}

Status check_secret_hash(std::string_view hash) {
  return parse_hash(hash).status();
}

Result<std::pair<std::string, std::string>> parse_basic_authorization(std::string_view header) {
  constexpr std::string_view kScheme = "Basic ";
  if (header.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), header.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return Status::unauthenticated("the Authorization header is not HTTP Basic");
  }
  std::string_view encoded = header.substr(kScheme.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  std::vector<unsigned char> bytes;
  if (!unbase64(encoded, bytes)) {
    return Status::unauthenticated("the Basic credentials are not base64");
  }
  const std::string text(bytes.begin(), bytes.end());
  const std::size_t colon = text.find(':');
  if (colon == std::string::npos) {
    return Status::unauthenticated("the Basic credentials are not user:secret");
  }
  return std::pair{text.substr(0, colon), text.substr(colon + 1)};
}

std::string secret_digest(std::string_view secret, std::string_view hash) {
  std::string input;
  input.reserve(hash.size() + 1 + secret.size());
  input.append(hash).push_back('\0');
  input.append(secret);
  std::string digest(EVP_MAX_MD_SIZE, '\0');
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), reinterpret_cast<unsigned char*>(digest.data()), &size,
             EVP_sha256(), nullptr);
  OPENSSL_cleanse(input.data(), input.size());
  digest.resize(size);
  return digest;
}

}  // namespace qkv::net
