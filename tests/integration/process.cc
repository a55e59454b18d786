#include "tests/integration/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace grpc_ingress::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kSetpriv = "/usr/bin/setpriv";  // util-linux
constexpr size_t kProxyLogTailBytes = 12 * 1024;
constexpr size_t kPodLogTailBytes = 2 * 1024;

std::atomic<bool> g_test_failed{false};
std::atomic<bool> g_logs_dumped{false};

// Live processes, for the log dump on failure.
std::mutex g_processes_mutex;
std::set<const Process*> g_processes;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Polls until `done` or `timeout` (the harness's wait_until, without the dependency).
bool poll(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

std::string tail_of(const std::string& text, size_t bytes) {
  if (text.size() <= bytes) return text;
  auto start = text.find('\n', text.size() - bytes);
  return "[...]\n" + text.substr(start == std::string::npos ? text.size() - bytes : start + 1);
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// ---- failure reporting ----

void on_test_case_start() {
  g_test_failed = false;
  g_logs_dumped = false;
}

bool current_test_failed() { return g_test_failed; }

void on_assertion_failed() {
  g_test_failed = true;
  if (g_logs_dumped.exchange(true)) return;
  std::lock_guard lock(g_processes_mutex);
  for (const Process* process : g_processes) {
    bool is_proxy = process->name() == "grpc-ingress";
    std::cerr << "\n===== " << process->name() << " (pid " << process->pid() << ") stderr: "
              << process->stderr_path().string() << " =====\n"
              << tail_of(process->stderr_text(), is_proxy ? kProxyLogTailBytes : kPodLogTailBytes)
              << "===== end " << process->name() << " =====\n";
  }
}

// ---- Process ----

Process::Process(pid_t pid, std::string name, std::filesystem::path stdout_path, std::filesystem::path stderr_path)
    : pid_(pid), name_(std::move(name)), stdout_path_(std::move(stdout_path)), stderr_path_(std::move(stderr_path)) {
  std::lock_guard lock(g_processes_mutex);
  g_processes.insert(this);
}

Process::~Process() {
  {
    std::lock_guard lock(g_processes_mutex);
    g_processes.erase(this);
  }
  stop();
}

std::unique_ptr<Process> Process::start(const std::vector<std::string>& argv, const std::filesystem::path& log_dir,
                                        const std::string& name) {
  if (argv.empty()) throw std::runtime_error("Process::start: empty argv");
  std::filesystem::create_directories(log_dir);
  auto stdout_path = log_dir / (name + ".stdout");
  auto stderr_path = log_dir / (name + ".stderr");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);

  // The child starts with no blocked signals and default dispositions, whatever
  // gRPC or Catch2 did to this process.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  // The child gets SIGTERM if this process dies before stopping it (a crash, a
  // SIGPIPE, a ctest timeout): no proxy or pod outlives its test. setpriv sets
  // PR_SET_PDEATHSIG and execs the program, so the PID stays the program's.
  std::vector<std::string> full_argv;
  if (::access(kSetpriv, X_OK) == 0) full_argv = {kSetpriv, "--pdeathsig", "TERM", "--"};
  full_argv.insert(full_argv.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (const std::string& arg : full_argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, full_argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  return std::unique_ptr<Process>(new Process(pid, name, stdout_path, stderr_path));
}

void Process::reap(int wait_status) {
  if (WIFEXITED(wait_status)) {
    exit_status_ = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    exit_status_ = -WTERMSIG(wait_status);
  } else {
    exit_status_ = -1000;
  }
}

bool Process::running() {
  if (exit_status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reap(status);
    return false;
  }
  if (r < 0 && errno == ECHILD) {  // reaped elsewhere; never signal this pid again
    exit_status_ = -1000;
    return false;
  }
  return true;
}

bool Process::wait_exit(std::chrono::milliseconds timeout) {
  return poll([this] { return !running(); }, timeout);
}

void Process::signal(int signal) {
  if (running()) ::kill(pid_, signal);
}

int Process::stop(std::chrono::milliseconds grace) {
  if (running()) {
    ::kill(pid_, SIGTERM);
    if (!wait_exit(grace)) kill_hard();
  }
  return exit_status_.value_or(-1000);
}

void Process::kill_hard() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reap(status);
}

std::optional<std::string> Process::wait_for_line(std::string_view prefix, std::chrono::milliseconds timeout) {
  std::optional<std::string> found;
  auto look = [&] {
    std::istringstream lines(stdout_text());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.starts_with(prefix) && !lines.eof()) {  // a complete line only
        found = line.substr(prefix.size());
        return true;
      }
    }
    return false;
  };
  poll([&] { return look() || !running(); }, timeout);
  if (!found) look();  // it may have printed the line and exited
  return found;
}

std::string Process::stdout_text() const { return read_file(stdout_path_); }
std::string Process::stderr_text() const { return read_file(stderr_path_); }

}  // namespace grpc_ingress::testing
