#include "tests/faults/cluster.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "client/client.h"
#include "tests/faults/command.h"

namespace qkv::faults {
namespace {

constexpr int kClientPort = 7000;
constexpr int kPeerPort = 7100;
constexpr int kHttpPort = 7200;

// Polls `done` every `every` until it holds or `deadline` passes; returns its last value.
template <typename F>
bool poll_until(F done, std::chrono::milliseconds deadline, std::chrono::milliseconds every) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(every);  // polling interval only
  }
  return done();
}

client::Client client_of(const std::string& address) {
  client::Options options;
  options.nodes = {address};
  options.timeout_ms = 1000;
  options.connect_timeout_ms = 500;
  return client::Client(options);
}

}  // namespace

Cluster::Cluster(const Lab& lab, Tools tools, ClusterConfig config)
    : lab_(lab),
      tools_(std::move(tools)),
      config_(std::move(config)),
      pids_(lab.nodes(), 0),
      paused_(lab.nodes(), false) {
  for (int i = 0; i < size(); ++i) {
    write_config(i);
    if (skew_supported()) set_clock_offset(i, 0);
  }
}

Cluster::~Cluster() {
  for (int i = 0; i < size(); ++i) kill9(i);
}

std::string Cluster::client_address(int i) const {
  return fmt::format("{}:{}", Lab::node_ip(i), kClientPort);
}
std::string Cluster::node_id(int i) const {
  return fmt::format("n{}", i + 1);
}
std::string Cluster::log_path(int i) const {
  return fmt::format("{}/n{}.log", config_.dir, i + 1);
}
std::string Cluster::config_path(int i) const {
  return fmt::format("{}/n{}.toml", config_.dir, i + 1);
}

void Cluster::write_config(int i) const {
  std::string members;
  for (int j = 0; j < size(); ++j) {
    members += fmt::format("  {{ id = \"{}\", peer = \"{}:{}\", client = \"{}\" }},\n", node_id(j),
                           Lab::node_ip(j), kPeerPort, client_address(j));
  }
  std::ofstream out(config_path(i));
  out << fmt::format(
      "node_id = \"{}\"\ndata_dir = \"{}/{}\"\nclient_listen = \"{}\"\n"
      "peer_listen = \"{}:{}\"\nhttp_listen = \"{}:{}\"\n\n[cluster]\nn = {}\nr = {}\nw = "
      "{}\npartitions = {}\n"
      "members = [\n{}]\n\n[tls]\ninsecure = true  # the lab's own network namespaces\n",
      node_id(i), config_.dir, node_id(i), client_address(i), Lab::node_ip(i), kPeerPort,
      Lab::node_ip(i), kHttpPort, config_.n, config_.r, config_.w, config_.partitions, members);
  if (!out) throw std::runtime_error("cannot write " + config_path(i));
}

std::vector<std::string> Cluster::args_of(int i) const {
  std::vector<std::string> args = {tools_.ip, "netns", "exec", lab_.node_namespace(i)};
  if (skew_supported()) {
    // A sanitizer build's runtime insists on coming first among the preloaded libraries.
    const char* asan = std::getenv("ASAN_OPTIONS");
    std::string asan_options =
        std::string(asan ? asan : "") + (asan ? ":" : "") + "verify_asan_link_order=0";
    args.insert(args.end(),
                {find_program("env"), "ASAN_OPTIONS=" + asan_options,
                 "LD_PRELOAD=" + config_.faketime_library,
                 fmt::format("FAKETIME_TIMESTAMP_FILE={}/n{}.faketime", config_.dir, i + 1),
                 "FAKETIME_CACHE_DURATION=1", "DONT_FAKE_MONOTONIC=1"});
  }
  args.insert(args.end(), {config_.qkvd, "--config", config_path(i)});
  return args;
}

void Cluster::start(int i) {
  if (pids_[i] > 0) throw std::logic_error(node_id(i) + " already runs");
  pids_[i] = spawn_logged(args_of(i), log_path(i));
  paused_[i] = false;
}

bool Cluster::wait_ready(int i, std::chrono::milliseconds deadline) const {
  client::Client client = client_of(client_address(i));
  return poll_until([&] { return client.node_status(0).is_ok(); }, deadline,
                    std::chrono::milliseconds(50));
}

bool Cluster::wait_all_up(std::chrono::milliseconds deadline) const {
  auto all_up = [&] {
    for (int i = 0; i < size(); ++i) {
      if (!running(i) || paused(i)) continue;
      auto members = client_of(client_address(i)).members();
      if (!members.is_ok()) return false;
      for (int j = 0; j < size(); ++j) {
        if (!running(j) || paused(j)) continue;
        bool up = false;
        for (const auto& m : members->members) up |= m.id == node_id(j) && m.up;
        if (!up) return false;
      }
    }
    return true;
  };
  return poll_until(all_up, deadline, std::chrono::milliseconds(100));
}

void Cluster::kill9(int i) {
  if (pids_[i] <= 0) return;
  ::kill(pids_[i], SIGKILL);
  // SIGKILL ends a stopped process too; a zombie is reaped at once.
  if (!reap(pids_[i], std::chrono::seconds(30))) {
    throw std::runtime_error(node_id(i) + " survived SIGKILL for 30 s");
  }
  pids_[i] = 0;
  paused_[i] = false;
}

void Cluster::pause(int i) {
  if (pids_[i] > 0 && ::kill(pids_[i], SIGSTOP) == 0) paused_[i] = true;
}

void Cluster::resume(int i) {
  if (pids_[i] > 0 && ::kill(pids_[i], SIGCONT) == 0) paused_[i] = false;
}

void Cluster::set_clock_offset(int i, long seconds) {
  // libfaketime's relative form: "+30s", "-5s"; it rereads the file once a second.
  std::string path = fmt::format("{}/n{}.faketime", config_.dir, i + 1);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << fmt::format("{:+}s\n", seconds);
  }
  std::filesystem::rename(tmp, path);  // atomic: a node never reads half a line
}

std::optional<int> Cluster::exit_status(int i) {
  if (pids_[i] <= 0) return std::nullopt;
  int status = 0;
  if (::waitpid(pids_[i], &status, WNOHANG) != pids_[i]) return std::nullopt;
  pids_[i] = 0;
  paused_[i] = false;
  return status;
}

}  // namespace qkv::faults
