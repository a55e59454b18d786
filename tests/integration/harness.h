#pragma once

// Drives the real grpc-ingress binary and real gRPC pods (test-pod processes)
// from Catch2 tests. Main thread only, unless a function says otherwise.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grpc_ingress::testing {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A fresh directory under $TMPDIR (or /tmp), removed on destruction unless the
// current test failed or GRPC_INGRESS_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Polls `predicate` every `interval` until it holds or `timeout` passes;
// returns whether it held. Thread-safe if `predicate` is.
bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = 10ms);

// A port that was free on 127.0.0.1 a moment ago (bind port 0, read, close).
uint16_t free_port();

// Distinct loopback addresses for pods: 127.0.0.2, 127.0.0.3, ... (127.0.0.1 is
// the proxy's). Each pod then binds port 0 on its own address.
std::string next_pod_ip();

struct HttpResponse {
  int status = 0;     // 0: no response (see error)
  std::string body;
  std::string error;  // connect/read failure, timeout
};

// One HTTP/1.1 GET (Boost.Beast), bounded by `timeout` as a whole. Thread-safe.
HttpResponse http_get(const std::string& host, uint16_t port, const std::string& target,
                      std::chrono::milliseconds timeout = 2s);

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

// Called by the Catch2 listener in main.cc. On the first failed assertion of a
// test case, prints the tail of every live Process's stderr to std::cerr, so a
// failure shows what the proxy and the pods logged; the test's TempDir is kept.
void on_test_case_start();
void on_assertion_failed();
bool current_test_failed();

// One pod address in an EndpointSlice.
struct EndpointSpec {
  std::string ip{};
  uint16_t port = 0;
  std::string pod{};
  bool ready = true;
  bool serving = true;
  bool terminating = false;
};

// A test-pod process on its own loopback IP.
class Pod {
 public:
  // Starts `test-pod --listen <ip>:0 --pod <name>` and waits for its LISTENING
  // line (throws with its stderr if it does not come within 10 s).
  static std::unique_ptr<Pod> start(const std::filesystem::path& log_dir, const std::string& name,
                                    const std::string& ip = next_pod_ip());

  const std::string& name() const { return name_; }
  const std::string& ip() const { return ip_; }
  uint16_t port() const { return port_; }
  std::string address() const { return ip_ + ":" + std::to_string(port_); }
  EndpointSpec endpoint(bool ready = true) const;
  Process& process() { return *process_; }

 private:
  std::string name_;
  std::string ip_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

// `count` pods named <prefix>-0, <prefix>-1, ... on fresh loopback IPs.
std::vector<std::unique_ptr<Pod>> start_pods(const std::filesystem::path& log_dir, const std::string& prefix, int count);
std::vector<EndpointSpec> endpoints_of(const std::vector<std::unique_ptr<Pod>>& pods);

struct IngressPath {
  std::string path{};
  std::string path_type = "Prefix";  // Exact | Prefix | ImplementationSpecific
  std::string service{};
  uint16_t service_port = 80;
};

struct IngressSpec {
  std::string name = "grpc";
  std::string host{};  // "" = every host
  std::vector<IngressPath> paths{};
  std::string ingress_class = "grpc";
  std::map<std::string, std::string> annotations{};
};

// A --manifests directory of Kubernetes YAML. Every write goes to a staging
// file that is then renamed into place, so the proxy's file watcher never reads
// half a file. All objects live in namespace "default".
class ManifestDir {
 public:
  static constexpr const char* kNamespace = "default";
  static constexpr const char* kPortName = "grpc";

  // Creates <root>/manifests (the watched dir) and <root>/staging, and writes
  // the IngressClass "grpc" (controller grpc-ingress.io/controller).
  explicit ManifestDir(const std::filesystem::path& root);

  const std::filesystem::path& dir() const { return dir_; }

  // service-<name>.yaml: Service <name>, port 80 named "grpc".
  // endpoints-<name>.yaml: its EndpointSlices, one per distinct pod port.
  void write_service(const std::string& name, const std::vector<EndpointSpec>& endpoints);
  void write_endpoints(const std::string& service, const std::vector<EndpointSpec>& endpoints);
  // ingress-<name>.yaml
  void write_ingress(const IngressSpec& ingress);
  // Writes <dir>/<file> atomically (staging file + rename).
  void write_file(const std::string& file, const std::string& content);
  void remove_file(const std::string& file);

  static std::string ingress_class_yaml();
  static std::string service_yaml(const std::string& name);
  static std::string endpoint_slices_yaml(const std::string& service, const std::vector<EndpointSpec>& endpoints);
  static std::string ingress_yaml(const IngressSpec& ingress);

 private:
  std::filesystem::path dir_;
  std::filesystem::path staging_;
  uint64_t writes_ = 0;
};

struct IngressOptions {
  int threads = 2;
  std::chrono::milliseconds ready_timeout = 10s;
  // Flags after the harness's own; a flag given twice takes the later value. The
  // harness shortens the SIGTERM drain (--shutdown-drain 100ms --shutdown-grace 3s)
  // so that tearing a test down takes milliseconds, not the 5 s default.
  std::vector<std::string> extra_args{};
};

// The grpc-ingress binary, serving a ManifestDir on 127.0.0.1.
class Ingress {
 public:
  // Starts the binary with free ports and waits until GET /readyz answers 200.
  // Throws std::runtime_error carrying the binary's log if it does not.
  static std::unique_ptr<Ingress> start(const std::filesystem::path& manifests, const std::filesystem::path& log_dir,
                                        const IngressOptions& options = {});

  uint16_t http_port() const { return http_port_; }
  uint16_t admin_port() const { return admin_port_; }
  uint16_t https_port() const { return https_port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(http_port_); }
  HttpResponse admin_get(const std::string& path, std::chrono::milliseconds timeout = 2s) const;
  // Waits until GET /debug/routes contains `needle` (e.g. a pod address).
  bool wait_for_routes_containing(const std::string& needle, std::chrono::milliseconds timeout) const;
  Process& process() { return *process_; }
  long rss_kib() const;

  ~Ingress();  // stops the binary; says so on stderr if it did not exit 0

 private:
  uint16_t http_port_ = 0;
  uint16_t admin_port_ = 0;
  uint16_t https_port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace grpc_ingress::testing
