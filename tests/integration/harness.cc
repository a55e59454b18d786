#include "tests/integration/harness.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

#ifndef GRPC_INGRESS_BINARY
#error "GRPC_INGRESS_BINARY must name the grpc-ingress binary (set by CMake)"
#endif
#ifndef TEST_POD_BINARY
#error "TEST_POD_BINARY must name the test-pod binary (set by CMake)"
#endif
#ifndef HTTP_POD_BINARY
#error "HTTP_POD_BINARY must name the http-pod binary (set by CMake)"
#endif

namespace grpc_ingress::testing {
namespace {

constexpr auto kPodStartTimeout = 10s;
constexpr int kIngressStartAttempts = 3;  // a free_port() may be taken by the time we bind
constexpr size_t kLogTailBytes = 12 * 1024;

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

// ---- Pod ----

std::unique_ptr<Pod> Pod::start(const std::filesystem::path& log_dir, const std::string& name, const std::string& ip,
                                const std::vector<std::string>& args) {
  std::vector<std::string> argv = {TEST_POD_BINARY, "--listen", ip + ":0", "--pod", name, "--exit-with-parent"};
  argv.insert(argv.end(), args.begin(), args.end());
  return launch(std::move(argv), log_dir, name, ip);
}

std::unique_ptr<Pod> Pod::start_http(const std::filesystem::path& log_dir, const std::string& name,
                                     const std::string& ip, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {HTTP_POD_BINARY, "--listen", ip + ":0", "--pod", name, "--exit-with-parent"};
  argv.insert(argv.end(), args.begin(), args.end());
  return launch(std::move(argv), log_dir, name, ip);
}

std::unique_ptr<Pod> Pod::launch(std::vector<std::string> argv, const std::filesystem::path& log_dir,
                                 const std::string& name, const std::string& ip) {
  std::string program = std::filesystem::path(argv[0]).filename();
  auto pod = std::make_unique<Pod>();
  pod->name_ = name;
  pod->ip_ = ip;
  pod->process_ = Process::start(argv, log_dir, "pod-" + name);
  auto listening = pod->process_->wait_for_line("LISTENING ", kPodStartTimeout);
  if (!listening) {
    throw std::runtime_error(program + " " + name + " on " + ip + " did not print LISTENING within 10 s; stderr:\n" +
                             pod->process_->stderr_text());
  }
  auto colon = listening->rfind(':');
  pod->port_ = static_cast<uint16_t>(std::stoi(listening->substr(colon + 1)));
  if (listening->substr(0, colon) != ip || pod->port_ == 0) {
    throw std::runtime_error(program + " " + name + " printed unexpected LISTENING " + *listening);
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

// ---- Ingress ----

std::unique_ptr<Ingress> Ingress::start(const std::filesystem::path& manifests, const std::filesystem::path& log_dir,
                                        const IngressOptions& options) {
  return start_with_source({"--manifests", manifests.string()}, log_dir, options);
}

std::unique_ptr<Ingress> Ingress::start_with_source(const std::vector<std::string>& source_args,
                                                    const std::filesystem::path& log_dir, const IngressOptions& options) {
  std::string last_log;
  for (int attempt = 1; attempt <= kIngressStartAttempts; ++attempt) {
    auto ingress = std::make_unique<Ingress>();
    ingress->http_port_ = free_port();
    ingress->admin_port_ = free_port();
    ingress->https_port_ = free_port();
    ingress->admin_address_ = options.admin_address;
    std::vector<std::string> argv;
    if (!options.env.empty()) {
      argv.push_back("/usr/bin/env");
      argv.insert(argv.end(), options.env.begin(), options.env.end());
    }
    argv.push_back(GRPC_INGRESS_BINARY);
    argv.insert(argv.end(), source_args.begin(), source_args.end());
    argv.insert(argv.end(), {"--bind-address", "127.0.0.1",
                             "--http-port", std::to_string(ingress->http_port_),
                             "--admin-port", std::to_string(ingress->admin_port_),
                             "--admin-bind-address", options.admin_address,
                             "--https-port", std::to_string(ingress->https_port_),
                             "--threads", std::to_string(options.threads),
                             "--log-level", "debug",
                             "--shutdown-drain", "100ms",
                             "--shutdown-grace", "3s"});
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
    last_log = why + "\n----- grpc-ingress stderr -----\n" + tail_of(ingress->process_->stderr_text(), kLogTailBytes);
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
  return http_get(admin_address_, admin_port_, path, timeout);
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
