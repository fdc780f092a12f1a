#include "net/http_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstring>
#include <optional>

#include "common/assert.h"
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

// One connection: read a request, answer it, repeat while keep-alive. Over plain TCP or
// TLS (Stream is a socket or a TlsStream); an idle timer closes it.
class HttpServer::Session {
 public:
  virtual ~Session() = default;
  virtual void start() = 0;
  virtual void close() = 0;
  virtual bool is_open() const = 0;
};

namespace {

template <typename Stream>
class HttpSession final : public HttpServer::Session,
                          public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream stream, std::shared_ptr<asio::ssl::context> context,
              const HttpOptions& options, std::shared_ptr<HttpServer::Hooks> hooks)
      : stream_(std::move(stream)),
        context_(std::move(context)),
        idle_timer_(socket().get_executor()),
        options_(options),
        hooks_(std::move(hooks)),
        connection_(hooks_->next_connection++) {}

  void start() override { read_next(); }
  void close() override {
    beast::error_code ignored;
    idle_timer_.cancel();
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
    if (!closed_) {
      closed_ = true;
      if (hooks_->on_close) hooks_->on_close(connection_);
    }
  }
  bool is_open() const override { return socket().is_open(); }

 private:
  template <typename Self>
  static auto& socket_of(Self& self) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return self.stream_.next_layer();
    } else {
      return self.stream_;
    }
  }
  asio::ip::tcp::socket& socket() { return socket_of(*this); }
  const asio::ip::tcp::socket& socket() const { return socket_of(*this); }

  // Closes the connection unless it is read from or written to within idle_timeout_ms.
  void arm_idle_timer() {
    idle_timer_.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
    idle_timer_.async_wait([weak = this->weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      // A request being answered is not idle (an expiry queued before on_read cancelled it).
      if (!ec && self && !self->answering_) self->close();
    });
  }

  // The head first, so that the body limit can follow the path (HttpOptions::body_limits).
  void read_next() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.header_bytes_max));
    // The largest limit while the head is read (Beast checks Content-Length against it
    // there); on_header() applies the path's own.
    std::size_t largest = options_.body_bytes_max;
    for (const auto& rule : options_.body_limits) largest = std::max(largest, rule.body_bytes_max);
    parser_->body_limit(largest);
    arm_idle_timer();
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  // The body limit of the request whose head was read: its path's rule, or body_bytes_max.
  std::size_t select_body_limit() {
    const auto raw = parser_->get().target();
    const std::string_view target(raw.data(), raw.size());
    body_rule_ = nullptr;
    for (const auto& rule : options_.body_limits) {
      if (target.starts_with(rule.target_prefix)) {
        body_rule_ = &rule;
        return rule.body_bytes_max;
      }
    }
    return options_.body_bytes_max;
  }

  void on_header(beast::error_code ec) {
    if (ec == http::error::body_limit) select_body_limit();  // over the largest: refused as its own
    if (ec) return on_read(ec);
    const std::size_t limit = select_body_limit();
    if (parser_->content_length() && *parser_->content_length() > limit) {
      return refuse(http::error::body_limit);  // refused before the body is read
    }
    parser_->body_limit(limit);  // a chunked body: checked as its chunks arrive
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      // The client (curl, for bodies over 1 MiB) waits for this before it sends the body.
      auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                      parser_->get().version());
      return http::async_write(
          stream_, *go_on,
          [self = this->shared_from_this(), go_on](beast::error_code ec, std::size_t) {
            if (ec) return self->on_read(ec);
            self->read_body();
          });
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof ||
        ec == asio::ssl::error::stream_truncated || !socket().is_open()) {
      return close();
    }
    if (ec) return refuse(ec);
    http::request<http::string_body> request = parser_->release();
    HttpRequest in;
    in.method = std::string(request.method_string());
    in.target = std::string(request.target());
    std::tie(in.path, in.query) = HttpServer::parse_target(in.target);
    for (const auto& field : request) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      in.headers.insert_or_assign(std::move(name), std::string(field.value()));
    }
    in.tls = std::is_same_v<Stream, TlsStream>;
    in.connection = connection_;
    in.body = std::move(request.body());
    // No idle timeout while the handler works: the request's own deadline bounds it.
    idle_timer_.cancel();
    answering_ = true;
    auto answered = std::make_shared<bool>(false);
    HttpServer::Respond respond = [self = this->shared_from_this(), answered,
                                   keep_alive = request.keep_alive(),
                                   head = request.method() == http::verb::head,
                                   version = request.version()](HttpResponse out) {
      QKV_ASSERT(!*answered);  // exactly once
      *answered = true;
      self->answering_ = false;
      if (!self->socket().is_open()) return;  // closed meanwhile: nobody to tell
      self->write(std::move(out), keep_alive, head, version);
    };
    hooks_->handler(std::move(in), std::move(respond));
  }

  // Answers what was wrong, then closes: the stream cannot be trusted past it.
  void refuse(beast::error_code ec) {
    HttpResponse refusal;
    if (ec == http::error::header_limit) {
      refusal.status = 431;
      refusal.body =
          fmt::format("request head over {} bytes (the header limit)\n", options_.header_bytes_max);
    } else if (ec == http::error::body_limit && body_rule_ && body_rule_->refusal) {
      refusal = body_rule_->refusal();
      refusal.status = 413;
    } else if (ec == http::error::body_limit) {
      refusal.status = 413;
      refusal.body =
          fmt::format("request body over {} bytes (the body limit)\n", options_.body_bytes_max);
    } else {
      refusal.status = 400;
      refusal.body = fmt::format("malformed HTTP request: {}\n", ec.message());
    }
    lingering_ = true;
    write(std::move(refusal), /*keep_alive=*/false, /*head=*/false, 11);
  }

  // After a refusal that left the request unread: stop sending, then read and drop what the
  // client still sends until it closes (or idle_timeout_ms passes). Closing at once with
  // bytes unread would send an RST, and the client's kernel may drop our answer with it.
  void linger() {
    beast::error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    arm_idle_timer();
    drain();
  }
  void drain() {
    socket().async_read_some(asio::buffer(drained_),
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) return self->close();
                               self->drain();
                             });
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
    arm_idle_timer();
    http::async_write(
        stream_, *response,
        [self = this->shared_from_this(), response, keep_alive](beast::error_code ec, std::size_t) {
          if (!ec && !keep_alive && self->lingering_) return self->linger();
          if (ec || !keep_alive) return self->close();
          self->read_next();
        });
  }

  Stream stream_;
  std::shared_ptr<asio::ssl::context> context_;  // kept alive for a TLS stream
  asio::steady_timer idle_timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpBodyLimit* body_rule_ = nullptr;  // the body_limits rule of the request being read
  const HttpOptions options_;
  std::shared_ptr<HttpServer::Hooks> hooks_;
  const uint64_t connection_;  // HttpRequest::connection
  bool closed_ = false;
  bool answering_ = false;          // the handler has the request; its Respond is not called yet
  bool lingering_ = false;          // a refusal: linger() before closing
  std::array<char, 4096> drained_;  // what linger() reads and drops
};

// The synchronous handler as an asynchronous one; only GET, HEAD and POST reach it.
HttpServer::AsyncHandler from_sync(HttpServer::Handler handler) {
  return [handler = std::move(handler)](HttpRequest request, HttpServer::Respond respond) {
    if (request.method != "GET" && request.method != "HEAD" && request.method != "POST") {
      HttpResponse out;
      out.status = 405;
      out.body = fmt::format("method {} is not served here\n", request.method);
      out.headers.emplace_back("Allow", "GET, HEAD, POST");
      return respond(std::move(out));
    }
    respond(handler(request));
  };
}

// What a plaintext client reads from a TLS HTTP port before it is closed.
std::shared_ptr<const std::vector<std::byte>> plaintext_http_refusal() {
  constexpr std::string_view kBody = "this port speaks TLS only: use https://\n";
  const std::string text = fmt::format(
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
      kBody.size(), kBody);
  auto bytes = std::make_shared<std::vector<std::byte>>(text.size());
  std::memcpy(bytes->data(), text.data(), text.size());
  return bytes;
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, std::string host, uint16_t port, HttpOptions options,
                       Handler handler)
    : HttpServer(io, std::move(host), port, std::move(options), from_sync(std::move(handler))) {}

HttpServer::HttpServer(asio::io_context& io, std::string host, uint16_t port, HttpOptions options,
                       AsyncHandler handler)
    : io_(io),
      host_(std::move(host)),
      port_(port),
      options_(std::move(options)),
      hooks_(std::make_shared<Hooks>(Hooks{std::move(handler), nullptr})),
      acceptor_(io),
      retry_timer_(io) {}

HttpServer::~HttpServer() {
  // Sessions may outlive this by a few completion handlers: they must not call into the
  // owner any more, which may be going away too.
  hooks_->on_close = nullptr;
  hooks_->handler = [](HttpRequest, Respond) {};
  stop();
}

void HttpServer::set_on_close(std::function<void(uint64_t connection)> on_close) {
  hooks_->on_close = std::move(on_close);
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
      } else if (tls_context_) {
        start_tls_session(std::move(socket));
      } else {
        adopt(std::make_shared<HttpSession<asio::ip::tcp::socket>>(std::move(socket), nullptr,
                                                                   options_, hooks_));
      }
    }
    accept_next();
  });
}

void HttpServer::adopt(std::shared_ptr<Session> session) {
  sessions_.push_back(session);
  session->start();
}

void HttpServer::start_tls_session(asio::ip::tcp::socket socket) {
  auto context = tls_context_();
  static const auto refusal = plaintext_http_refusal();
  accept_tls(std::move(socket), context, options_.tls_handshake_timeout_ms, refusal,
             [this, alive = std::weak_ptr<int>(alive_), context](Result<TlsStream> stream) {
               if (alive.expired() || !acceptor_.is_open()) return;
               if (!stream) {
                 ++tls_failures_;
                 if (on_tls_failure_) on_tls_failure_(stream.status());
                 return;
               }
               adopt(std::make_shared<HttpSession<TlsStream>>(std::move(stream).value(), context,
                                                              options_, hooks_));
             });
}

void HttpServer::set_tls(std::function<std::shared_ptr<asio::ssl::context>()> context,
                         std::function<void(const Status&)> on_failure) {
  tls_context_ = std::move(context);
  on_tls_failure_ = std::move(on_failure);
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
