// A blocking HTTP/1.1 client for tests (Boost.Beast): one request per connection, bounded
// by a timeout. Not for production code: qkvd serves HTTP, it never fetches it.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "common/asio.h"

// <boost/asio/ssl.hpp> and Beast's TLS stream after common/asio.h (its include-order
// workaround).
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

namespace qkv::testing {

struct HttpReply {
  unsigned status = 0;
  std::string content_type;
  std::string www_authenticate;
  std::string body;
};

struct HttpCall {
  std::string method = "GET";
  std::map<std::string, std::string> headers;  // e.g. {"Authorization", "Basic ..."}
  std::string ca_file;  // set: HTTPS, verifying the server's chain (not its name) with it
  std::chrono::milliseconds timeout{5000};
};

namespace http_internal {

template <typename Stream>
HttpReply exchange(Stream& stream, const std::string& address, const std::string& target,
                   const HttpCall& call) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  http::request<http::string_body> request(http::string_to_verb(call.method), target, 11);
  request.set(http::field::host, address);
  for (const auto& [name, value] : call.headers) request.set(name, value);
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  parser.skip(call.method == "HEAD");
  http::read(stream, buffer, parser);
  HttpReply reply;
  reply.status = parser.get().result_int();
  reply.content_type = std::string(parser.get()[http::field::content_type]);
  reply.www_authenticate = std::string(parser.get()[http::field::www_authenticate]);
  reply.body = parser.get().body();
  return reply;
}

}  // namespace http_internal

// `address` is "host:port"; nullopt if the connection, the TLS handshake or the exchange
// failed.
inline std::optional<HttpReply> http_call(const std::string& address, const std::string& target,
                                          const HttpCall& call) {
  namespace beast = boost::beast;
  namespace ssl = boost::asio::ssl;
  const auto colon = address.rfind(':');
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(address.substr(0, colon), address.substr(colon + 1));
    if (call.ca_file.empty()) {
      beast::tcp_stream stream(io);
      stream.expires_after(call.timeout);
      stream.connect(endpoints);
      return http_internal::exchange(stream, address, target, call);
    }
    ssl::context context(ssl::context::tls_client);
    context.load_verify_file(call.ca_file);
    context.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, context);
    beast::get_lowest_layer(stream).expires_after(call.timeout);
    beast::get_lowest_layer(stream).connect(endpoints);
    stream.handshake(ssl::stream_base::client);
    return http_internal::exchange(stream, address, target, call);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

inline std::optional<HttpReply> http_request(
    const std::string& address, const std::string& target, const std::string& method = "GET",
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  HttpCall call;
  call.method = method;
  call.timeout = timeout;
  return http_call(address, target, call);
}

// Sends raw bytes on one connection to 127.0.0.1:`port` and returns everything read until
// the server closes it or 5 s pass (malformed and pipelined requests, refusals).
inline std::string exchange_raw(uint16_t port, const std::string& bytes) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(bytes));
  std::string out;
  char buffer[4096];
  boost::system::error_code ec;
  timeval timeout{5, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  for (;;) {
    const std::size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
    if (ec) break;
    out.append(buffer, n);
  }
  return out;
}

}  // namespace qkv::testing
