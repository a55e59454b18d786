#include "tests/integration/harness.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef GRPC_INGRESS_BINARY
#error "GRPC_INGRESS_BINARY must name the grpc-ingress binary (set by CMake)"
#endif
#ifndef TEST_POD_BINARY
#error "TEST_POD_BINARY must name the test-pod binary (set by CMake)"
#endif

extern char** environ;

namespace grpc_ingress::testing {
namespace {

constexpr auto kPodStartTimeout = 10s;
constexpr const char* kSetpriv = "/usr/bin/setpriv";  // util-linux
constexpr int kIngressStartAttempts = 3;  // a free_port() may be taken by the time we bind
constexpr size_t kLogTailBytes = 12 * 1024;
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

std::string tail(const std::string& text, size_t bytes) {
  if (text.size() <= bytes) return text;
  auto start = text.find('\n', text.size() - bytes);
  return "[...]\n" + text.substr(start == std::string::npos ? text.size() - bytes : start + 1);
}

// A YAML double-quoted scalar.
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

const char* yes_no(bool b) { return b ? "true" : "false"; }

}  // namespace

// ---- TempDir ----

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/grpc-ingress-it-XXXXXX";
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  path_ = pattern;
}

TempDir::~TempDir() {
  if (current_test_failed() || std::getenv("GRPC_INGRESS_KEEP_TEST_DIRS")) {
    std::cerr << "test files kept in " << path_ << "\n";
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

// ---- small helpers ----

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (predicate()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(interval, deadline - Clock::now()));
  }
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string error = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("free_port: " + error);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string next_pod_ip() {
  // 127.0.0.2 .. 127.0.0.254, then 127.0.1.1 ..: plenty for one test process.
  static std::atomic<int> next{0};
  int n = next.fetch_add(1);
  int third = n / 253;
  int fourth = (third == 0 ? 2 : 1) + n % 253;
  return "127.0." + std::to_string(third) + "." + std::to_string(fourth);
}

HttpResponse http_get(const std::string& host, uint16_t port, const std::string& target,
                      std::chrono::milliseconds timeout) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;

  HttpResponse out;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    out.error = "bad address " + host;
    return out;
  }
  asio::io_context io;
  beast::tcp_stream stream(io);
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, host + ":" + std::to_string(port));
  request.set(http::field::connection, "close");
  beast::flat_buffer buffer;
  http::response<http::string_body> response;

  stream.expires_after(timeout);  // one deadline for connect, write and read together
  stream.async_connect(asio::ip::tcp::endpoint(address, port), [&](beast::error_code ec) {
    if (ec) {
      out.error = "connect: " + ec.message();
      return;
    }
    http::async_write(stream, request, [&](beast::error_code ec, size_t) {
      if (ec) {
        out.error = "write: " + ec.message();
        return;
      }
      http::async_read(stream, buffer, response, [&](beast::error_code ec, size_t) {
        if (ec) {
          out.error = "read: " + ec.message();
          return;
        }
        out.status = static_cast<int>(response.result_int());
        out.body = response.body();
      });
    });
  });
  io.run_for(timeout + 1s);
  if (out.status == 0 && out.error.empty()) out.error = "timed out";
  return out;
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
              << tail(process->stderr_text(), is_proxy ? kLogTailBytes : kPodLogTailBytes)
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
  return wait_until([this] { return !running(); }, timeout, 5ms);
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
  wait_until([&] { return look() || !running(); }, timeout, 5ms);
  if (!found) look();  // it may have printed the line and exited
  return found;
}

std::string Process::stdout_text() const { return read_file(stdout_path_); }
std::string Process::stderr_text() const { return read_file(stderr_path_); }

// ---- Pod ----

std::unique_ptr<Pod> Pod::start(const std::filesystem::path& log_dir, const std::string& name, const std::string& ip) {
  auto pod = std::make_unique<Pod>();
  pod->name_ = name;
  pod->ip_ = ip;
  pod->process_ = Process::start({TEST_POD_BINARY, "--listen", ip + ":0", "--pod", name, "--exit-with-parent"},
                                 log_dir, "pod-" + name);
  auto listening = pod->process_->wait_for_line("LISTENING ", kPodStartTimeout);
  if (!listening) {
    throw std::runtime_error("test-pod " + name + " on " + ip + " did not print LISTENING within 10 s; stderr:\n" +
                             pod->process_->stderr_text());
  }
  auto colon = listening->rfind(':');
  pod->port_ = static_cast<uint16_t>(std::stoi(listening->substr(colon + 1)));
  if (listening->substr(0, colon) != ip || pod->port_ == 0) {
    throw std::runtime_error("test-pod " + name + " printed unexpected LISTENING " + *listening);
  }
  return pod;
}

EndpointSpec Pod::endpoint(bool ready) const {
  return EndpointSpec{.ip = ip_, .port = port_, .pod = name_, .ready = ready, .serving = ready, .terminating = false};
}

std::vector<std::unique_ptr<Pod>> start_pods(const std::filesystem::path& log_dir, const std::string& prefix,
                                             int count) {
  std::vector<std::unique_ptr<Pod>> pods;
  for (int i = 0; i < count; ++i) pods.push_back(Pod::start(log_dir, prefix + "-" + std::to_string(i)));
  return pods;
}

std::vector<EndpointSpec> endpoints_of(const std::vector<std::unique_ptr<Pod>>& pods) {
  std::vector<EndpointSpec> endpoints;
  for (const auto& pod : pods) endpoints.push_back(pod->endpoint());
  return endpoints;
}

// ---- ManifestDir ----

ManifestDir::ManifestDir(const std::filesystem::path& root) : dir_(root / "manifests"), staging_(root / "staging") {
  std::filesystem::create_directories(dir_);
  std::filesystem::create_directories(staging_);
  write_file("ingressclass.yaml", ingress_class_yaml());
}

void ManifestDir::write_file(const std::string& file, const std::string& content) {
  // Staged outside the watched directory, on the same filesystem: rename() is atomic.
  auto staged = staging_ / (file + "." + std::to_string(++writes_) + ".tmp");
  {
    std::ofstream out(staged, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + staged.string());
  }
  std::filesystem::rename(staged, dir_ / file);
}

void ManifestDir::remove_file(const std::string& file) { std::filesystem::remove(dir_ / file); }

void ManifestDir::write_service(const std::string& name, const std::vector<EndpointSpec>& endpoints) {
  write_file("service-" + name + ".yaml", service_yaml(name));
  write_endpoints(name, endpoints);
}

void ManifestDir::write_endpoints(const std::string& service, const std::vector<EndpointSpec>& endpoints) {
  write_file("endpoints-" + service + ".yaml", endpoint_slices_yaml(service, endpoints));
}

void ManifestDir::write_ingress(const IngressSpec& ingress) {
  write_file("ingress-" + ingress.name + ".yaml", ingress_yaml(ingress));
}

std::string ManifestDir::ingress_class_yaml() {
  return "apiVersion: networking.k8s.io/v1\n"
         "kind: IngressClass\n"
         "metadata:\n"
         "  name: grpc\n"
         "spec:\n"
         "  controller: grpc-ingress.io/controller\n";
}

std::string ManifestDir::service_yaml(const std::string& name) {
  std::ostringstream y;
  y << "apiVersion: v1\n"
       "kind: Service\n"
       "metadata:\n"
       "  name: " << quote(name) << "\n"
       "  namespace: " << kNamespace << "\n"
       "spec:\n"
       "  clusterIP: None\n"
       "  selector:\n"
       "    app: " << quote(name) << "\n"
       "  ports:\n"
       "  - name: " << kPortName << "\n"
       "    port: 80\n"
       "    targetPort: " << kPortName << "\n"
       "    protocol: TCP\n"
       "    appProtocol: kubernetes.io/h2c\n";
  return y.str();
}

std::string ManifestDir::endpoint_slices_yaml(const std::string& service, const std::vector<EndpointSpec>& endpoints) {
  // An EndpointSlice has one port list for all its endpoints; pods that picked
  // different ports go into different slices, as Kubernetes does for named ports.
  std::map<uint16_t, std::vector<const EndpointSpec*>> by_port;
  for (const EndpointSpec& endpoint : endpoints) by_port[endpoint.port].push_back(&endpoint);

  std::ostringstream y;
  auto header = [&](const std::string& slice_name) {
    y << "---\n"
         "apiVersion: discovery.k8s.io/v1\n"
         "kind: EndpointSlice\n"
         "metadata:\n"
         "  name: " << quote(slice_name) << "\n"
         "  namespace: " << kNamespace << "\n"
         "  labels:\n"
         "    kubernetes.io/service-name: " << quote(service) << "\n"
         "    endpointslice.kubernetes.io/managed-by: grpc-ingress-tests\n"
         "addressType: IPv4\n";
  };
  if (by_port.empty()) {
    // What Kubernetes keeps for a Service whose pods are all gone.
    header(service + "-none");
    y << "ports: []\n"
         "endpoints: []\n";
  }
  for (const auto& [port, members] : by_port) {
    header(service + "-p" + std::to_string(port));
    y << "ports:\n"
         "- name: " << kPortName << "\n"
         "  port: " << port << "\n"
         "  protocol: TCP\n"
         "  appProtocol: kubernetes.io/h2c\n"
         "endpoints:\n";
    for (const EndpointSpec* endpoint : members) {
      y << "- addresses: [" << quote(endpoint->ip) << "]\n"
           "  conditions:\n"
           "    ready: " << yes_no(endpoint->ready) << "\n"
           "    serving: " << yes_no(endpoint->serving) << "\n"
           "    terminating: " << yes_no(endpoint->terminating) << "\n"
           "  targetRef:\n"
           "    kind: Pod\n"
           "    namespace: " << kNamespace << "\n"
           "    name: " << quote(endpoint->pod) << "\n";
    }
  }
  return y.str();
}

std::string ManifestDir::ingress_yaml(const IngressSpec& ingress) {
  std::ostringstream y;
  y << "apiVersion: networking.k8s.io/v1\n"
       "kind: Ingress\n"
       "metadata:\n"
       "  name: " << quote(ingress.name) << "\n"
       "  namespace: " << kNamespace << "\n";
  if (!ingress.annotations.empty()) {
    y << "  annotations:\n";
    for (const auto& [key, value] : ingress.annotations) y << "    " << quote(key) << ": " << quote(value) << "\n";
  }
  y << "spec:\n"
       "  ingressClassName: " << quote(ingress.ingress_class) << "\n"
       "  rules:\n";
  y << (ingress.host.empty() ? "  - http:\n" : "  - host: " + quote(ingress.host) + "\n    http:\n");
  y << "      paths:\n";
  for (const IngressPath& path : ingress.paths) {
    y << "      - path: " << quote(path.path) << "\n"
         "        pathType: " << path.path_type << "\n"
         "        backend:\n"
         "          service:\n"
         "            name: " << quote(path.service) << "\n"
         "            port:\n"
         "              number: " << path.service_port << "\n";
  }
  return y.str();
}

// ---- Ingress ----

std::unique_ptr<Ingress> Ingress::start(const std::filesystem::path& manifests, const std::filesystem::path& log_dir,
                                        const IngressOptions& options) {
  std::string last_log;
  for (int attempt = 1; attempt <= kIngressStartAttempts; ++attempt) {
    auto ingress = std::make_unique<Ingress>();
    ingress->http_port_ = free_port();
    ingress->admin_port_ = free_port();
    ingress->https_port_ = free_port();
    std::vector<std::string> argv = {GRPC_INGRESS_BINARY,
                                     "--manifests", manifests.string(),
                                     "--bind-address", "127.0.0.1",
                                     "--http-port", std::to_string(ingress->http_port_),
                                     "--admin-port", std::to_string(ingress->admin_port_),
                                     "--https-port", std::to_string(ingress->https_port_),
                                     "--threads", std::to_string(options.threads),
                                     "--log-level", "debug",
                                     "--shutdown-drain", "100ms",
                                     "--shutdown-grace", "3s"};
    argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
    ingress->process_ = Process::start(argv, log_dir, "grpc-ingress");

    HttpResponse last;
    bool ready = wait_until(
        [&] {
          if (!ingress->process_->running()) return true;
          last = ingress->admin_get("/readyz", 500ms);
          return last.status == 200;
        },
        options.ready_timeout, 20ms);
    if (ready && ingress->process_->running()) return ingress;

    std::string why = ingress->process_->running()
                          ? "GET /readyz did not answer 200 within " + std::to_string(options.ready_timeout.count()) +
                                " ms (last: " + (last.status ? std::to_string(last.status) : last.error) + ")"
                          : "grpc-ingress exited with status " + std::to_string(*ingress->process_->exit_status());
    ingress->process_->stop(2s);
    last_log = why + "\n----- grpc-ingress stderr -----\n" + tail(ingress->process_->stderr_text(), kLogTailBytes);
    // A port taken between free_port() and bind is worth another try; anything else is not.
    bool port_taken = last_log.find("in use") != std::string::npos;
    std::cerr << "grpc-ingress start attempt " << attempt << " failed: " << why << "\n";
    if (!port_taken) break;
  }
  throw std::runtime_error("grpc-ingress did not become ready: " + last_log);
}

Ingress::~Ingress() {
  if (!process_) return;
  int status = process_->stop(5s);
  if (status != 0) {
    std::cerr << "grpc-ingress (pid " << process_->pid() << ") ended with status " << status
              << " at teardown (negative: killed by that signal); log: " << process_->stderr_path().string() << "\n";
  }
}

HttpResponse Ingress::admin_get(const std::string& path, std::chrono::milliseconds timeout) const {
  return http_get("127.0.0.1", admin_port_, path, timeout);
}

bool Ingress::wait_for_routes_containing(const std::string& needle, std::chrono::milliseconds timeout) const {
  return wait_until(
      [&] {
        HttpResponse routes = admin_get("/debug/routes", 500ms);
        return routes.status == 200 && routes.body.find(needle) != std::string::npos;
      },
      timeout, 20ms);
}

long Ingress::rss_kib() const { return testing::rss_kib(process_->pid()); }

}  // namespace grpc_ingress::testing
