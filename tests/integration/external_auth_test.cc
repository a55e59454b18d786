// auth-url (docs/edge-access.md): an Ingress written for
// ingress-nginx with nginx.ingress.kubernetes.io/auth-url asks a real HTTP
// auth service about every call. What a gRPC and a curl user see: allowed
// calls reach the pod with the auth service's headers, 401/403 come back as
// UNAUTHENTICATED / PERMISSION_DENIED (401 / 403), and an auth service that is
// down fails the call closed (UNAVAILABLE / 500).

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace grpc_ingress::testing {
namespace {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// An auth service on 127.0.0.1 (its own thread): it decides by the caller's
// Authorization header, which it gets among the original request's headers:
// "allow" -> 200 with X-Auth-User: alice, "anonymous" -> 200 without it,
// "deny" -> 401 with WWW-Authenticate, anything else -> 403.
class AuthService {
 public:
  AuthService() : acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~AuthService() {
    stopping_ = true;
    boost::system::error_code ignored;
    // Wakes the blocking accept with a connection of our own.
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ignored);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/verify"; }
  int asked() const { return asked_.load(); }
  // The last request it got, header name (lower-case) -> value.
  std::map<std::string, std::string> last() {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  void serve() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) continue;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec);
      if (ec) continue;
      std::map<std::string, std::string> seen;
      for (const auto& field : request) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        seen[name] = std::string(field.value());
      }
      seen[":target"] = std::string(request.target());
      {
        std::lock_guard lock(mutex_);
        last_ = seen;
      }
      ++asked_;
      http::response<http::string_body> response;
      response.version(11);
      std::string decision = seen.count("authorization") ? seen["authorization"] : "";
      if (decision == "allow") {
        response.result(200);
        response.set("X-Auth-User", "alice");
      } else if (decision == "anonymous") {
        response.result(200);
      } else if (decision == "deny") {
        response.result(401);
        response.set(http::field::www_authenticate, "Bearer realm=\"test\"");
      } else {
        response.result(403);
      }
      response.body() = "decided\n";
      response.prepare_payload();
      http::write(socket, response, ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> asked_{0};
  std::mutex mutex_;
  std::map<std::string, std::string> last_;
  std::thread thread_;
};

// A gRPC greeter and an HTTP pod behind Ingresses with auth-url: grpc.example
// and web.example ask the auth service; down.example asks a port where
// nothing listens.
struct GuardedSetup {
  GuardedSetup() : manifests(tmp.path()) {
    greeter = Pod::start(tmp.path(), "greeter-0");
    web = Pod::start_http(tmp.path(), "web-0");
    manifests.write_service("greeter", {greeter->endpoint()});
    manifests.write_service("web", {web->endpoint()});
    std::map<std::string, std::string> guarded = {
        {"nginx.ingress.kubernetes.io/auth-url", auth.url()},
        {"nginx.ingress.kubernetes.io/auth-response-headers", "X-Auth-User"},
        {"grpc-ingress.io/auth-timeout", "2s"}};
    manifests.write_ingress({.name = "grpc", .host = "grpc.example", .paths = {{.path = "/", .service = "greeter"}},
                             .annotations = guarded});
    manifests.write_ingress({.name = "web", .host = "web.example", .paths = {{.path = "/", .service = "web"}},
                             .annotations = guarded});
    manifests.write_ingress({.name = "down",
                             .host = "down.example",
                             .paths = {{.path = "/", .service = "greeter"}},
                             .annotations = {{"nginx.ingress.kubernetes.io/auth-url",
                                              "http://127.0.0.1:" + std::to_string(free_port()) + "/verify"}}});
    ingress = Ingress::start(manifests.dir(), tmp.path());
  }

  // One Echo/Unary call to `host` with these headers; the x-auth-user the pod saw in `user`.
  grpc::Status call(const std::string& host, const std::map<std::string, std::string>& headers,
                    std::string* user = nullptr) {
    auto stub = test::Echo::NewStub(make_channel(ingress->target(), host));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    for (const auto& [name, value] : headers) context.AddMetadata(name, value);
    test::EchoRequest request;
    request.add_echo_metadata("x-auth-user");
    test::EchoReply reply;
    grpc::Status status = stub->Unary(&context, request, &reply);
    if (user) {
      auto it = reply.metadata().find("x-auth-user");
      *user = it == reply.metadata().end() ? "<none>" : it->second;
    }
    return status;
  }

  CurlResult curl(const std::string& host, const std::string& authorization, const std::string& path = "/info") {
    std::vector<std::string> args = {"--http1.1", "-H", "Host: " + host};
    if (!authorization.empty()) args.insert(args.end(), {"-H", "Authorization: " + authorization});
    args.insert(args.end(), {"-H", "X-Auth-User: mallory", "http://" + ingress->target() + path});
    return run_curl(tmp.path(), args);
  }

  // Declared in destruction order, reversed: the proxy stops first.
  TempDir tmp;
  AuthService auth;
  ManifestDir manifests;
  std::unique_ptr<Pod> greeter, web;
  std::unique_ptr<Ingress> ingress;
};

// grpc_ingress_access_denied_total{reason=...}, summed over its samples.
double denied(const Ingress& ingress, const std::string& reason) {
  HttpResponse metrics = ingress.admin_get("/metrics");
  std::string prefix = "grpc_ingress_access_denied_total{reason=\"" + reason + "\"} ";
  double sum = 0;
  std::istringstream lines(metrics.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(prefix)) sum += std::stod(line.substr(prefix.size()));
  }
  return sum;
}

std::string describe(const grpc::Status& status) {
  return code_name(status.error_code()) + " " + status.error_message();
}

TEST_CASE("auth-url: gRPC calls the auth service allows reach the pod with its headers, refused ones get its answer",
          "[external_auth]") {
  GuardedSetup setup;
  std::string user;

  grpc::Status allowed = setup.call("grpc.example", {{"authorization", "allow"}, {"x-auth-user", "mallory"}}, &user);
  INFO("allowed: " << describe(allowed));
  REQUIRE(allowed.ok());
  CHECK(user == "alice");  // the auth service's, never the client's
  auto asked = setup.auth.last();
  CHECK(asked["x-original-url"] == "http://grpc.example/grpc_ingress.test.Echo/Unary");
  CHECK(asked["x-original-method"] == "POST");
  CHECK(asked["x-sent-from"] == "grpc-ingress");
  CHECK(asked["x-real-ip"] == "127.0.0.1");
  CHECK(asked["x-forwarded-for"] == "127.0.0.1");
  CHECK(asked["host"] == "127.0.0.1:" + std::to_string(setup.auth.port()));
  CHECK(asked[":target"] == "/verify");
  CHECK(asked.count("x-auth-user") == 0);  // the client's spoofed copy never left the proxy

  grpc::Status anonymous = setup.call("grpc.example", {{"authorization", "anonymous"}, {"x-auth-user", "mallory"}},
                                      &user);
  REQUIRE(anonymous.ok());
  CHECK(user == "<none>");

  grpc::Status unauthenticated = setup.call("grpc.example", {{"authorization", "deny"}});
  INFO("401: " << describe(unauthenticated));
  CHECK(unauthenticated.error_code() == grpc::StatusCode::UNAUTHENTICATED);

  grpc::Status forbidden = setup.call("grpc.example", {{"authorization", "nobody"}});
  INFO("403: " << describe(forbidden));
  CHECK(forbidden.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(setup.auth.asked() == 4);
}

TEST_CASE("auth-url: an auth service that is down fails gRPC calls closed with UNAVAILABLE and HTTP with 500",
          "[external_auth]") {
  GuardedSetup setup;
  auto started = Clock::now();
  grpc::Status down = setup.call("down.example", {{"authorization", "allow"}});
  INFO("down: " << describe(down));
  CHECK(down.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(down.error_message().find("auth-url") != std::string::npos);
  CHECK(Clock::now() - started < 2s);  // refused at once, not a timeout

  CurlResult page = setup.curl("down.example", "allow");
  INFO("curl: exit " << page.exit_code << " " << page.stderr_text << "\n" << page.headers << page.body);
  CHECK(page.status == 500);
  CHECK(setup.auth.asked() == 0);
  CHECK(denied(*setup.ingress, "auth_failure") == 2);
}

TEST_CASE("auth-url: curl gets the pod when allowed (with the auth service's header), 401 with WWW-Authenticate, 403",
          "[external_auth]") {
  GuardedSetup setup;
  CurlResult allowed = setup.curl("web.example", "allow", "/info?x=1");
  INFO("allowed: exit " << allowed.exit_code << " " << allowed.stderr_text << "\n" << allowed.headers << allowed.body);
  REQUIRE(allowed.status == 200);
  auto view = nlohmann::json::parse(allowed.body, nullptr, false);
  REQUIRE(view.is_object());
  CHECK(view["pod"] == "web-0");
  CHECK(view["headers"]["x-auth-user"] == nlohmann::json::array({"alice"}));  // mallory's copy is gone
  CHECK(setup.auth.last()["x-original-url"] == "http://web.example/info?x=1");
  CHECK(setup.auth.last()["x-auth-request-redirect"] == "/info?x=1");

  CurlResult unauthenticated = setup.curl("web.example", "deny");
  INFO("401: " << unauthenticated.headers << unauthenticated.body);
  CHECK(unauthenticated.status == 401);
  CHECK(unauthenticated.header("www-authenticate") == "Bearer realm=\"test\"");

  CurlResult forbidden = setup.curl("web.example", "nobody");
  INFO("403: " << forbidden.headers << forbidden.body);
  CHECK(forbidden.status == 403);

  CHECK(denied(*setup.ingress, "external_auth") == 2);
}

}  // namespace
}  // namespace grpc_ingress::testing
