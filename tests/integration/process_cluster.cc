#include "tests/integration/process_cluster.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace qkv::testing {
namespace {

bool port_free(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

uint16_t next_free_port() {
  // Below the ephemeral range; spread by pid so parallel test binaries rarely collide.
  static uint16_t next = static_cast<uint16_t>(20000 + (::getpid() % 500) * 20);
  for (int tries = 0; tries < 10000; ++tries) {
    uint16_t port = next++;
    if (next >= 32000) next = 20000;
    if (port_free(port)) return port;
  }
  throw std::runtime_error("no free port below 32768");
}

pid_t spawn(const std::string& path, const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

ProcessCluster::ProcessCluster(int size, std::vector<std::string> extra_flags, int initial)
    : qkvd_(QKVD_PATH),
      size_(size),
      initial_(initial < 0 ? size : initial),
      extra_flags_(std::move(extra_flags)),
      pids_(size, 0) {
  char tmpl[] = "/tmp/qkv-it-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  for (int i = 0; i < size_; ++i) {
    client_ports_.push_back(next_free_port());
    peer_ports_.push_back(next_free_port());
    http_ports_.push_back(next_free_port());
  }
}

ProcessCluster::~ProcessCluster() {
  for (int i = 0; i < size_; ++i) {
    if (pids_[i] > 0) kill9(i);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string ProcessCluster::id_of(int i) const {
  return set_name_.empty() ? fmt::format("n{}", i + 1) : fmt::format("{}-{}", set_name_, i);
}

std::vector<std::string> ProcessCluster::args_of(int i) const {
  std::string members;
  for (int j = 0; j < initial_; ++j) {
    members += fmt::format("{}{}=127.0.0.1:{}", j ? "," : "", id_of(j), peer_ports_[j]);
  }
  std::vector<std::string> args = {"--node-id",       id_of(i),
                                   "--data-dir",      dir_ + "/" + id_of(i),
                                   "--client-listen", client_address(i),
                                   "--peer-listen",   fmt::format("127.0.0.1:{}", peer_ports_[i]),
                                   "--http-listen",   http_address(i),
                                   "--partitions",    "64"};
  if (i < initial_) {
    args.insert(args.end(), {"--members", members});
  } else {
    args.insert(args.end(), {"--seeds", fmt::format("127.0.0.1:{}", peer_ports_[0])});
  }
  // One node in three serves its sockets on an I/O thread (net/io_threads.h) and one writes
  // its group commits on the storage thread (node/storage_thread.h), so every cluster test
  // runs both transports and both commit paths, and between each other.
  if (i % 3 == 0) args.insert(args.end(), {"--io-threads", "2"});
  if (i % 3 == 1) args.insert(args.end(), {"--commit-thread", "true"});
  args.insert(args.end(), extra_flags_.begin(), extra_flags_.end());
  if (auto it = node_flags_.find(i); it != node_flags_.end()) {
    args.insert(args.end(), it->second.begin(), it->second.end());
  }
  return args;
}

void ProcessCluster::start(int i) {
  launch(i);
  await_started(i);
}

void ProcessCluster::launch(int i) {
  pids_[i] = spawn(qkvd_, args_of(i), fmt::format("{}/{}.log", dir_, id_of(i)));
}

void ProcessCluster::await_started(int i) {
  auto client = client_of(i, 500);
  bool up = wait_for([&] { return client.node_status(0).is_ok(); }, std::chrono::seconds(20));
  if (!up) throw std::runtime_error(fmt::format("qkvd {} did not start:\n{}", id_of(i), log_of(i)));
}

void ProcessCluster::start_initial() {
  for (int i = 0; i < initial_; ++i) start(i);
  for (int i = 0; i < initial_; ++i) await_ring(i);
}

void ProcessCluster::start_all() {
  start_initial();
  for (int i = initial_; i < size_; ++i) start(i);
}

void ProcessCluster::await_ring(int i) {
  auto client = client_of(i, 500);
  bool ring = wait_for(
      [&] {
        auto status = client.node_status(0);
        return status.is_ok() && status->ring_version != 0;
      },
      std::chrono::seconds(20));
  if (!ring)
    throw std::runtime_error(fmt::format("qkvd {} holds no ring:\n{}", id_of(i), log_of(i)));
}

void ProcessCluster::kill9(int i) {
  if (pids_[i] <= 0) return;
  ::kill(pids_[i], SIGKILL);
  int status;
  ::waitpid(pids_[i], &status, 0);
  pids_[i] = 0;
}

void ProcessCluster::pause(int i) {
  if (pids_[i] > 0) ::kill(pids_[i], SIGSTOP);
}

void ProcessCluster::resume(int i) {
  if (pids_[i] > 0) ::kill(pids_[i], SIGCONT);
}

int ProcessCluster::wait_exit(int i, std::chrono::milliseconds deadline) {
  if (pids_[i] <= 0) return -1;
  int status = 0;
  bool exited =
      wait_for([&] { return ::waitpid(pids_[i], &status, WNOHANG) == pids_[i]; }, deadline);
  if (!exited) return -2;
  pids_[i] = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int ProcessCluster::terminate(int i, std::chrono::milliseconds deadline) {
  if (pids_[i] <= 0) return -1;
  ::kill(pids_[i], SIGTERM);
  int status = 0;
  bool exited =
      wait_for([&] { return ::waitpid(pids_[i], &status, WNOHANG) == pids_[i]; }, deadline);
  if (!exited) {
    kill9(i);
    return -1;
  }
  pids_[i] = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ProcessCluster::client_address(int i) const {
  return fmt::format("127.0.0.1:{}", client_ports_[i]);
}

std::string ProcessCluster::peer_address(int i) const {
  return fmt::format("127.0.0.1:{}", peer_ports_[i]);
}

std::string ProcessCluster::http_address(int i) const {
  return fmt::format("127.0.0.1:{}", http_ports_[i]);
}

std::set<std::string> ProcessCluster::missing_on(int i, const std::set<std::string>& keys) const {
  std::set<std::string> missing;
  auto client = client_of(i, 2000);
  for (const auto& key : keys) {
    auto got = client.get(key, {0, 0, /*local=*/true});
    if (!got.is_ok() || !got->found()) missing.insert(key);
  }
  return missing;
}

client::Client ProcessCluster::client_of(int i, uint32_t timeout_ms) const {
  client::Options options;
  options.nodes = {client_address(i)};
  options.timeout_ms = timeout_ms;
  options.tls = client_tls_;
  options.credentials = client_credentials_;
  return client::Client(options);
}

std::string ProcessCluster::log_of(int i) const {
  std::ifstream in(fmt::format("{}/{}.log", dir_, id_of(i)));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RunResult run_qkvd(const std::string& qkvd, const std::vector<std::string>& args) {
  return run_program(qkvd, args);
}

RunResult run_program(const std::string& qkvd, const std::vector<std::string>& args,
                      std::chrono::seconds deadline) {
  char tmpl[] = "/tmp/qkv-run-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ::close(fd);
  pid_t pid = spawn(qkvd, args, tmpl);
  int status = 0;
  RunResult result;
  bool exited = wait_for([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, deadline);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  std::ifstream in(tmpl);
  std::stringstream s;
  s << in.rdbuf();
  result.output = s.str();
  std::filesystem::remove(tmpl);
  return result;
}

uint64_t node_counter(const ProcessCluster& cluster, int i, const std::string& name) {
  auto status = cluster.client_of(i, 2000).node_status(0);
  if (!status.is_ok()) return 0;
  for (const auto& [key, value] : status->counters) {
    if (key == name) return value;
  }
  return 0;
}

std::string write_config(const std::string& toml) {
  char path[] = "/tmp/qkv-config-XXXXXX.toml";
  int fd = ::mkstemps(path, 5);
  if (fd < 0) throw std::runtime_error("cannot create a temp config file");
  const bool written = ::write(fd, toml.data(), toml.size()) == static_cast<ssize_t>(toml.size());
  ::close(fd);
  if (!written) throw std::runtime_error(std::string("cannot write ") + path);
  return path;
}

}  // namespace qkv::testing
