#include "tests/faults/lab.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/faults/command.h"

namespace qkv::faults {
namespace {

constexpr std::chrono::seconds kCommandDeadline{20};

// The table every node namespace holds; set_drops() fills its chain.
constexpr const char* kTable =
    "table inet qkvf {\n"
    "  chain in { type filter hook input priority 0; policy accept; }\n"
    "}\n";

std::string own_prefix() {
  return fmt::format("{}{}-", Lab::kPrefix, ::getpid());
}

// Whether `pid` is a running qkv-faults (so its namespaces are not stale).
bool harness_alive(const std::string& pid) {
  std::ifstream comm("/proc/" + pid + "/comm");
  std::string name;
  return std::getline(comm, name) && name == "qkv-faults";
}

// Blocks until the harness's end of the pipe closes (the harness exited, however), then
// removes `names`. Runs in the forked guardian: single-threaded, in its own session.
[[noreturn]] void guard(const Tools& tools, const std::vector<std::string>& names, int fd) {
  ::setsid();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int devnull = ::open("/dev/null", O_RDWR);
  ::dup2(devnull, 0);
  ::dup2(devnull, 1);
  ::dup2(devnull, 2);
  ::dup2(fd, 3);
  ::close_range(4, ~0U, 0);  // the write end too: EOF comes when the harness's copy closes
  char byte;
  while (::read(3, &byte, 1) != 0) {
  }
  for (const std::string& name : names) delete_namespace(tools, name);
  ::_exit(0);
}

}  // namespace

std::string why_unavailable(const Tools& tools) {
  if (::geteuid() != 0) return "not root: network namespaces need CAP_SYS_ADMIN";
  if (tools.ip.empty()) return "iproute2's ip is not installed";
  if (tools.nft.empty()) return "nft is not installed (Debian package nftables: scripts/bootstrap)";
  std::string probe = own_prefix() + "probe";
  CommandResult add = run_command({tools.ip, "netns", "add", probe}, kCommandDeadline);
  if (!add.ok()) return "`ip netns add` fails here: " + add.output;
  run_command({tools.ip, "netns", "del", probe}, kCommandDeadline);
  return "";
}

void delete_namespace(const Tools& tools, const std::string& name) {
  CommandResult pids = run_command({tools.ip, "netns", "pids", name}, kCommandDeadline);
  std::istringstream in(pids.output);
  for (long pid; in >> pid;) {
    if (pid > 1 && pid != ::getpid()) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  run_command({tools.ip, "netns", "del", name}, kCommandDeadline);
}

int Lab::remove_stale(const Tools& tools) {
  CommandResult list = run_command({tools.ip, "netns", "list"}, kCommandDeadline);
  std::istringstream in(list.output);
  int removed = 0;
  for (std::string line; std::getline(in, line);) {
    std::string name = line.substr(0, line.find(' '));
    if (!name.starts_with(kPrefix)) continue;
    std::string pid = name.substr(std::string(kPrefix).size());
    pid = pid.substr(0, pid.find('-'));
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (harness_alive(pid)) continue;
    delete_namespace(tools, name);
    ++removed;
  }
  return removed;
}

Lab::Lab(Tools tools, int nodes) : tools_(std::move(tools)), nodes_(nodes) {
  if (nodes < 1 || nodes > 9) throw std::invalid_argument("nodes must be 1..9");
  std::string prefix = own_prefix();
  for (int i = 0; i < nodes; ++i) names_.push_back(fmt::format("{}n{}", prefix, i + 1));
  names_.push_back(prefix + "c");
  names_.push_back(prefix + "br");
  start_guardian();
  try {
    create();
  } catch (...) {
    destroy();
    throw;
  }
}

Lab::~Lab() {
  destroy();
}

std::string Lab::node_ip(int i) {
  return fmt::format("10.77.0.{}", i + 1);
}
std::string Lab::client_ip() {
  return "10.77.0.100";
}

void Lab::run_ip(std::vector<std::string> args) const {
  args.insert(args.begin(), tools_.ip);
  CommandResult r = run_command(args, kCommandDeadline);
  if (!r.ok()) {
    std::string line;
    for (const std::string& a : args) line += a + " ";
    throw std::runtime_error(fmt::format("`{}` failed: {}", line, r.output));
  }
}

void Lab::start_guardian() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) guard(tools_, names_, fds[0]);
  ::close(fds[0]);
  guardian_ = pid;
  guardian_fd_ = fds[1];
}

void Lab::create() {
  const std::string& bridge = names_.back();
  for (const std::string& name : names_) run_ip({"netns", "add", name});
  run_ip({"-n", bridge, "link", "add", "br0", "type", "bridge"});
  run_ip({"-n", bridge, "link", "set", "br0", "up"});
  for (int i = 0; i <= nodes_; ++i) {
    const std::string& ns = names_[i];
    std::string port = i < nodes_ ? fmt::format("vn{}", i + 1) : "vc";
    std::string ip = i < nodes_ ? node_ip(i) : client_ip();
    run_ip(
        {"-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns});
    run_ip({"-n", bridge, "link", "set", port, "master", "br0"});
    run_ip({"-n", bridge, "link", "set", port, "up"});
    run_ip({"-n", ns, "link", "set", "lo", "up"});
    run_ip({"-n", ns, "addr", "add", ip + "/24", "dev", "eth0"});
    run_ip({"-n", ns, "link", "set", "eth0", "up"});
    if (i == nodes_) continue;
    CommandResult r = run_command({tools_.ip, "netns", "exec", ns, tools_.nft, "-f", "-"},
                                  kCommandDeadline, kTable);
    if (!r.ok()) throw std::runtime_error("nft failed in " + ns + ": " + r.output);
  }
}

void Lab::set_drops(int i, const std::vector<int>& from) {
  std::string script = "flush chain inet qkvf in\n";
  if (!from.empty()) {
    std::string set;
    for (int j : from) set += (set.empty() ? "" : ", ") + node_ip(j);
    script += fmt::format("add rule inet qkvf in ip saddr {{ {} }} drop\n", set);
  }
  CommandResult r = run_command({tools_.ip, "netns", "exec", names_[i], tools_.nft, "-f", "-"},
                                kCommandDeadline, script);
  if (!r.ok()) throw std::runtime_error("nft failed in " + names_[i] + ": " + r.output);
}

void Lab::enter_client_namespace() const {
  std::string path = "/run/netns/" + client_namespace();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
    throw std::runtime_error("cannot enter " + path);
  }
  ::close(fd);
}

void Lab::destroy() {
  for (const std::string& name : names_) delete_namespace(tools_, name);
  if (guardian_fd_ >= 0) ::close(guardian_fd_);
  guardian_fd_ = -1;
  if (guardian_ > 0) reap(guardian_, std::chrono::seconds(10));
  guardian_ = 0;
}

}  // namespace qkv::faults
