#pragma once

// Child processes for the integration tests (the proxy, pods, curl), and the
// dump of their logs when a test fails.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grpc_ingress::testing {

using namespace std::chrono_literals;

// Resident set size of a process in KiB (VmRSS), or -1 if unknown.
long rss_kib(pid_t pid);

// A child process started with posix_spawn: stdin /dev/null, stdout and stderr
// to <log_dir>/<name>.stdout|.stderr. Signalled by PID only, and only before it
// has been reaped; the destructor stops it (SIGTERM, then SIGKILL) and reaps it.
// If this process dies first, the child gets SIGTERM (parent-death signal).
// Start processes from the main thread: the parent-death signal follows the
// thread that started the child.
class Process {
 public:
  // Throws std::runtime_error if the program cannot be started.
  static std::unique_ptr<Process> start(const std::vector<std::string>& argv,
                                        const std::filesystem::path& log_dir, const std::string& name);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  // The rest of the first stdout line that starts with `prefix`; nullopt if the
  // process exits or `timeout` passes first.
  std::optional<std::string> wait_for_line(std::string_view prefix, std::chrono::milliseconds timeout);

  // Reaps the process if it has exited; true while it runs.
  bool running();
  // Waits up to `timeout` for the process to exit by itself.
  bool wait_exit(std::chrono::milliseconds timeout);
  // Exit code (>= 0), or -signal if killed by a signal; nullopt while running.
  std::optional<int> exit_status() const { return exit_status_; }

  // SIGTERM, up to `grace` to exit, then SIGKILL; reaps. Returns exit_status().
  int stop(std::chrono::milliseconds grace = 5s);
  // SIGKILL and reap: a crash, as far as its peers can tell.
  void kill_hard();
  // Sends `signal` without waiting (e.g. SIGTERM to watch a drain).
  void signal(int signal);

  std::string stdout_text() const;
  std::string stderr_text() const;
  const std::filesystem::path& stderr_path() const { return stderr_path_; }

 private:
  Process(pid_t pid, std::string name, std::filesystem::path stdout_path, std::filesystem::path stderr_path);
  void reap(int wait_status);

  pid_t pid_;
  std::string name_;
  std::filesystem::path stdout_path_;
  std::filesystem::path stderr_path_;
  std::optional<int> exit_status_;
};

// The last `bytes` of `text`, starting at a line.
std::string tail_of(const std::string& text, size_t bytes);

// Called by the Catch2 listener in main.cc. On the first failed assertion of a
// test case, prints the tail of every live Process's stderr to std::cerr, so a
// failure shows what the proxy and the pods logged; the test's TempDir is kept.
void on_test_case_start();
void on_assertion_failed();
bool current_test_failed();

}  // namespace grpc_ingress::testing
