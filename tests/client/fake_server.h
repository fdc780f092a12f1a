// A scripted stand-in for qkvd's client port, for client tests: an Asio acceptor on
// 127.0.0.1, port 0, served by its own thread. Each ClientRequest frame it reads is recorded
// and passed to the script, whose Reply says what to write back (any number of responses, in
// order, possibly none) and whether to close the connection afterwards.
//
// Thread-safety: the script runs on the server's thread; the accessors may be called from
// any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "proto/client_api.h"

namespace qkv::client::testing {

struct Reply {
  std::vector<proto::ClientResponse> responses;
  bool close = false;  // close the connection after writing the responses
};

class FakeServer {
 public:
  using Script = std::function<Reply(const proto::ClientRequest&)>;

  explicit FakeServer(Script script);
  ~FakeServer();  // stops the thread; open connections are closed

  std::string address() const;  // "127.0.0.1:<port>"
  std::vector<proto::ClientRequest> requests() const;
  std::size_t connections_accepted() const;
  std::size_t connections_closed() const;  // by the script's Reply::close

  // Wait until at least `n` requests were received / connections closed, or `timeout` passes.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
  bool wait_for_closed(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  struct Session;
  void accept();
  void read(std::shared_ptr<Session> session);
  void handle(Session& session, const proto::ClientRequest& request);

  Script script_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<proto::ClientRequest> requests_;  // guarded by mu_
  std::size_t accepted_ = 0;                    // guarded by mu_
  std::size_t closed_ = 0;                      // guarded by mu_
};

// A 127.0.0.1 address that refuses connections: a port bound and released.
std::string refusing_address();

// A script holding keys in memory, enough to exercise contexts and siblings: a key's state is
// its siblings and a version counter; get answers them with context "v<version>" (not_found
// with the context when there are none); a put or delete whose context is the current one
// replaces the siblings (a delete with none), any other context adds a sibling (a delete then
// changes nothing). Ring and status get fixed answers. Thread-safe.
class MemoryStore {
 public:
  FakeServer::Script script();

 private:
  struct State {
    std::vector<std::string> siblings;
    uint64_t version = 0;
  };
  proto::ClientResponse apply(const proto::ClientRequest& request);

  std::mutex mu_;
  std::map<std::string, State> keys_;  // guarded by mu_
};

}  // namespace qkv::client::testing
