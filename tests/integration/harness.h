#pragma once

// Drives the real grpc-ingress binary and real gRPC pods (test-pod processes)
// from Catch2 tests. Main thread only, unless a function says otherwise.

#include "tests/integration/manifest_dir.h"
#include "tests/integration/process.h"

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

// A test-pod process on its own loopback IP.
class Pod {
 public:
  // Starts `test-pod --listen <ip>:0 --pod <name>` and waits for its LISTENING
  // line (throws with its stderr if it does not come within 10 s).
  // `args` go to test-pod after its own (e.g. {"--delay-ms", "50"}, {"--reset-calls"},
  // or pod_tls_args() from test_certificates.h to serve TLS).
  static std::unique_ptr<Pod> start(const std::filesystem::path& log_dir, const std::string& name,
                                    const std::string& ip = next_pod_ip(), const std::vector<std::string>& args = {});
  // The same for `http-pod`: a plain HTTP/2 and HTTP/1.1 server (not gRPC)
  // that answers with what reached it (see tests/pods/http_pod.cc); its
  // `args` too may be pod_tls_args().
  static std::unique_ptr<Pod> start_http(const std::filesystem::path& log_dir, const std::string& name,
                                         const std::string& ip = next_pod_ip(),
                                         const std::vector<std::string>& args = {});

  const std::string& name() const { return name_; }
  const std::string& ip() const { return ip_; }
  uint16_t port() const { return port_; }
  std::string address() const { return ip_ + ":" + std::to_string(port_); }
  EndpointSpec endpoint(bool ready = true) const;
  Process& process() { return *process_; }

 private:
  static std::unique_ptr<Pod> launch(std::vector<std::string> argv, const std::filesystem::path& log_dir,
                                     const std::string& name, const std::string& ip);

  std::string name_;
  std::string ip_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

// `count` pods named <prefix>-0, <prefix>-1, ... on fresh loopback IPs.
std::vector<std::unique_ptr<Pod>> start_pods(const std::filesystem::path& log_dir, const std::string& prefix, int count);
std::vector<EndpointSpec> endpoints_of(const std::vector<std::unique_ptr<Pod>>& pods);

struct IngressOptions {
  int threads = 2;
  std::chrono::milliseconds ready_timeout = 10s;
  // Flags after the harness's own; a flag given twice takes the later value. The
  // harness shortens the SIGTERM drain (--shutdown-drain 100ms --shutdown-grace 3s)
  // so that tearing a test down takes milliseconds, not the 5 s default.
  std::vector<std::string> extra_args{};
  // "NAME=VALUE" entries added to the binary's environment (through env(1)).
  std::vector<std::string> env{};
  // --admin-bind-address: where the admin port listens and admin_get() asks.
  std::string admin_address = "127.0.0.1";
};

// The grpc-ingress binary, serving a ManifestDir on 127.0.0.1.
class Ingress {
 public:
  // Starts the binary with free ports and waits until GET /readyz answers 200.
  // Throws std::runtime_error carrying the binary's log if it does not.
  static std::unique_ptr<Ingress> start(const std::filesystem::path& manifests, const std::filesystem::path& log_dir,
                                        const IngressOptions& options = {});
  // The same with other source flags, e.g. {"--kubeconfig", file}, or none (in-cluster).
  static std::unique_ptr<Ingress> start_with_source(const std::vector<std::string>& source_args,
                                                    const std::filesystem::path& log_dir,
                                                    const IngressOptions& options = {});

  uint16_t http_port() const { return http_port_; }
  uint16_t admin_port() const { return admin_port_; }
  uint16_t https_port() const { return https_port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(http_port_); }
  std::string https_target() const { return "127.0.0.1:" + std::to_string(https_port_); }
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
  std::string admin_address_;
  std::unique_ptr<Process> process_;
};

}  // namespace grpc_ingress::testing
