// A blocking HTTP/1.1 client for tests (Boost.Beast): one request per connection, bounded
// by a timeout. Not for production code: qkvd serves HTTP, it never fetches it.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "common/asio.h"

namespace qkv::testing {

struct HttpReply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

// `address` is "host:port"; nullopt if the connection or the exchange failed.
inline std::optional<HttpReply> http_request(
    const std::string& address, const std::string& target, const std::string& method = "GET",
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  const auto colon = address.rfind(':');
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
    http::request<http::string_body> request(http::string_to_verb(method), target, 11);
    request.set(http::field::host, address);
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(method == "HEAD");
    http::read(stream, buffer, parser);
    HttpReply reply;
    reply.status = parser.get().result_int();
    reply.content_type = std::string(parser.get()[http::field::content_type]);
    reply.body = parser.get().body();
    return reply;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace qkv::testing
