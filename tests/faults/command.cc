#include "tests/faults/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace qkv::faults {
namespace {

using Clock = std::chrono::steady_clock;

// argv as execv wants it; the strings stay owned by `args`.
std::vector<char*> c_argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

// Reads `fd` until EOF or the deadline; false at the deadline.
bool drain(int fd, Clock::time_point until, std::string& out) {
  char buf[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds deadline,
                          const std::string& input) {
  int out_pipe[2], in_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<char*> args = c_argv(argv);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(in_pipe[0]);
  // Inputs are small nft scripts: they fit the pipe buffer, so this never blocks for long.
  if (!input.empty() && ::write(in_pipe[1], input.data(), input.size()) < 0) {
    // The child exited early; its status says why.
  }
  ::close(in_pipe[1]);
  CommandResult result;
  auto until = Clock::now() + deadline;
  bool eof = drain(out_pipe[0], until, result.output);
  ::close(out_pipe[0]);
  std::optional<int> status;
  if (eof)
    status = reap(pid, std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::max(until - Clock::now(), Clock::duration::zero())));
  if (!status) {
    ::kill(pid, SIGKILL);
    status = reap(pid, std::chrono::seconds(10));
    result.timed_out = true;
    return result;
  }
  if (WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  return result;
}

pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args = c_argv(argv);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);  // a terminal's ^C reaches the harness, which stops the nodes itself
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  return pid;
}

std::optional<int> reap(pid_t pid, std::chrono::milliseconds deadline) {
  auto until = Clock::now() + deadline;
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return 0;  // not our child (already reaped)
    if (Clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling interval only
  }
}

std::string find_program(const std::string& program) {
  for (const char* dir :
       {"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"}) {
    std::filesystem::path path = std::filesystem::path(dir) / program;
    if (::access(path.c_str(), X_OK) == 0) return path.string();
  }
  return "";
}

}  // namespace qkv::faults
