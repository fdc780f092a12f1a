#include "net/http_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

#include "net/tcp_server.h"

namespace qkv::net {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte; a malformed
// escape is kept as written.
std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::pair<std::string, std::map<std::string, std::string>> HttpServer::parse_target(
    const std::string& target) {
  const auto q = target.find('?');
  std::map<std::string, std::string> query;
  if (q != std::string::npos) {
    std::string_view rest = std::string_view(target).substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      query[url_decode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    }
  }
  return {url_decode(std::string_view(target).substr(0, q)), std::move(query)};
}

// One connection: read a request, answer it, repeat while keep-alive.
class HttpServer::Session : public std::enable_shared_from_this<HttpServer::Session> {
 public:
  Session(asio::ip::tcp::socket socket, const HttpOptions& options, const Handler& handler)
      : stream_(std::move(socket)), options_(options), handler_(handler) {}

  void start() { read_next(); }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
  }
  bool is_open() const { return stream_.socket().is_open(); }

 private:
  void read_next() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.header_bytes_max));
    parser_->body_limit(options_.body_bytes_max);
    stream_.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return close();
    }
    if (ec) {
      // Answer what was wrong, then close: the stream cannot be trusted past it.
      HttpResponse refusal;
      if (ec == http::error::header_limit) {
        refusal.status = 431;
        refusal.body = fmt::format("request head over {} bytes (the header limit)\n",
                                   options_.header_bytes_max);
      } else if (ec == http::error::body_limit) {
        refusal.status = 413;
        refusal.body =
            fmt::format("request body over {} bytes (the body limit)\n", options_.body_bytes_max);
      } else {
        refusal.status = 400;
        refusal.body = fmt::format("malformed HTTP request: {}\n", ec.message());
      }
      return write(std::move(refusal), /*keep_alive=*/false, /*head=*/false, 11);
    }
    http::request<http::string_body> request = parser_->release();
    HttpRequest in;
    in.method = std::string(request.method_string());
    in.target = std::string(request.target());
    std::tie(in.path, in.query) = parse_target(in.target);
    in.body = std::move(request.body());
    HttpResponse out;
    if (request.method() != http::verb::get && request.method() != http::verb::head &&
        request.method() != http::verb::post) {
      out.status = 405;
      out.body = fmt::format("method {} is not served here\n", in.method);
      out.headers.emplace_back("Allow", "GET, HEAD, POST");
    } else {
      out = handler_(in);
    }
    write(std::move(out), request.keep_alive(), request.method() == http::verb::head,
          request.version());
  }

  void write(HttpResponse out, bool keep_alive, bool head, unsigned version) {
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(out.status), version);
    response->set(http::field::server, "qkvd");
    response->set(http::field::content_type, out.content_type);
    response->set(http::field::cache_control, "no-store");
    for (auto& [name, value] : out.headers) response->set(name, value);
    response->keep_alive(keep_alive);
    response->body() = std::move(out.body);
    response->prepare_payload();
    if (head) response->body().clear();  // Content-Length stays that of the GET
    stream_.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    http::async_write(
        stream_, *response,
        [self = shared_from_this(), response, keep_alive](beast::error_code ec, std::size_t) {
          if (ec || !keep_alive) return self->close();
          self->read_next();
        });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpOptions options_;
  const Handler& handler_;
};

HttpServer::HttpServer(asio::io_context& io, std::string host, uint16_t port, HttpOptions options,
                       Handler handler)
    : io_(io),
      host_(std::move(host)),
      port_(port),
      options_(options),
      handler_(std::move(handler)),
      acceptor_(io),
      retry_timer_(io) {}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::listen() {
  auto bound = open_listening(io_, acceptor_, host_, port_);
  if (!bound) return bound.status();
  bound_port_ = *bound;
  accept_next();
  return Status::ok();
}

void HttpServer::accept_next() {
  acceptor_.async_accept([this, alive = std::weak_ptr<int>(alive_)](
                             const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
    if (alive.expired() || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors or buffers: retrying at once would spin; back off briefly.
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([this, alive](const boost::system::error_code& wait_ec) {
        if (!alive.expired() && !wait_ec && acceptor_.is_open()) accept_next();
      });
      return;
    }
    {
      std::erase_if(sessions_, [](const auto& weak) {
        auto s = weak.lock();
        return !s || !s->is_open();
      });
      if (sessions_.size() >= options_.connections_max) {
        boost::system::error_code ignored;
        socket.close(ignored);  // over connections_max: refused by closing
      } else {
        auto session = std::make_shared<Session>(std::move(socket), options_, handler_);
        sessions_.push_back(session);
        session->start();
      }
    }
    accept_next();
  });
}

void HttpServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (const auto& weak : sessions) {
    if (auto s = weak.lock()) s->close();
  }
}

std::size_t HttpServer::connection_count() const {
  return std::count_if(sessions_.begin(), sessions_.end(), [](const auto& weak) {
    auto s = weak.lock();
    return s && s->is_open();
  });
}

}  // namespace qkv::net
