// shopping_cart: a shopping cart kept in qkv, written from two devices at once, built only
// against the installed SDK (find_package(qkv) or pkg-config; README.md "Using the C++ SDK in
// your application").
//
// A cart is one key ("cart/<user>") whose value is its items, one per line. Every change is a
// read-modify-write: read the key, merge its siblings, change the cart, and write it back with
// the read's causal context, so the write supersedes exactly what was read. Two devices that
// write from the same read leave two siblings (neither saw the other); the next read merges
// them by set union, the shopping cart of the Dynamo paper (§4.4), so no item added anywhere is
// lost.
//
//   shopping_cart HOST:PORT [USER]
//
// Runs that story against the node and prints each step. Exit status: 0 when the final cart
// holds every item added, 1 when it does not, 2 when a request fails.
#include <cstdio>
#include <set>
#include <sstream>
#include <string>

#include "client/client.h"

namespace {

using Cart = std::set<std::string>;

Cart parse(const std::string& value) {
  Cart cart;
  std::istringstream lines(value);
  for (std::string item; std::getline(lines, item);) {
    if (!item.empty()) cart.insert(item);
  }
  return cart;
}

std::string serialize(const Cart& cart) {
  std::string value;
  for (const auto& item : cart) value += item + "\n";
  return value;
}

std::string show(const Cart& cart) {
  std::string out;
  for (const auto& item : cart) out += (out.empty() ? "" : ", ") + item;
  return "[" + out + "]";
}

// A cart as read: the union of its siblings, and the context that covers them all.
struct Read {
  Cart cart;
  std::string context;
  std::size_t siblings = 0;
};

bool read(qkv::client::Client& client, const std::string& key, Read& out) {
  auto got = client.get(key);
  if (!got.is_ok()) {
    std::fprintf(stderr, "get %s failed: %s\n", key.c_str(), got.status().to_string().c_str());
    return false;
  }
  out = Read{{}, got->context, got->values.size()};
  for (const auto& value : got->values) out.cart.merge(parse(value));
  return true;
}

// Writes `cart` superseding what `context` covers. Only is_ok() is used from the answer, so
// this compiles whether put returns a Status or a Result.
bool write(qkv::client::Client& client, const std::string& key, const Cart& cart,
           const std::string& context) {
  if (!client.put(key, serialize(cart), context).is_ok()) {
    std::fprintf(stderr, "put %s failed\n", key.c_str());
    return false;
  }
  return true;
}

int run(qkv::client::Client& client, const std::string& key) {
  Read start;
  if (!read(client, key, start)) return 2;
  std::printf("start: %s\n", show(start.cart).c_str());

  // The phone adds apples: an ordinary read-modify-write.
  start.cart.insert("apples");
  if (!write(client, key, start.cart, start.context)) return 2;

  // The phone and the laptop both read the cart, then each adds an item: neither write
  // covers the other, so the key now holds two siblings.
  Read phone, laptop;
  if (!read(client, key, phone) || !read(client, key, laptop)) return 2;
  phone.cart.insert("bread");
  laptop.cart.insert("milk");
  if (!write(client, key, phone.cart, phone.context)) return 2;
  if (!write(client, key, laptop.cart, laptop.context)) return 2;

  // The next read merges the siblings; writing the merge back with its context replaces
  // them with one value.
  Read merged;
  if (!read(client, key, merged)) return 2;
  std::printf("siblings after concurrent writes: %zu\n", merged.siblings);
  if (!write(client, key, merged.cart, merged.context)) return 2;

  Read final_cart;
  if (!read(client, key, final_cart)) return 2;
  std::printf("siblings after the merge: %zu\n", final_cart.siblings);
  std::printf("cart: %s\n", show(final_cart.cart).c_str());
  const bool complete = final_cart.cart.count("apples") && final_cart.cart.count("bread") &&
                        final_cart.cart.count("milk") && final_cart.siblings == 1;

  // Checkout empties the cart: a delete with the context of the last read.
  if (!client.del(key, final_cart.context).is_ok()) {
    std::fprintf(stderr, "delete %s failed\n", key.c_str());
    return 2;
  }
  std::printf("checked out\n");
  return complete ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: shopping_cart HOST:PORT [USER]\n");
    return 2;
  }
  qkv::client::Options options;
  options.nodes = {argv[1]};
  options.timeout_ms = 3000;
  qkv::client::Client client(options);
  return run(client, std::string("cart/") + (argc == 3 ? argv[2] : "alice"));
}
