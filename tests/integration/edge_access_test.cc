// Access control at the edge (docs/edge-access.md), as a client
// moving from ingress-nginx meets it: source ranges by client address and
// rate limits per client address, with real gRPC clients and curl.
// 127.0.0.1 is the gRPC clients' address; curl --interface picks others.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"

#include <catch2/catch.hpp>

#include <regex>
#include <thread>

namespace grpc_ingress::testing {
namespace {

constexpr const char* kNginx = "nginx.ingress.kubernetes.io/";

struct EdgeSetup {
  explicit EdgeSetup(const IngressOptions& options = {}) : manifests(tmp.path()) {
    greeter = Pod::start(tmp.path(), "greeter-a");
    web = Pod::start_http(tmp.path(), "web-0");
    manifests.write_service("greeter", {greeter->endpoint()});
    manifests.write_service("web", {web->endpoint()});
    auto grpc_ingress = [&](const std::string& name, std::map<std::string, std::string> annotations) {
      manifests.write_ingress({.name = name, .host = name + ".example", .paths = {{.path = "/", .service = "greeter"}},
                               .annotations = std::move(annotations)});
    };
    auto web_ingress = [&](const std::string& name, std::map<std::string, std::string> annotations) {
      manifests.write_ingress({.name = name, .host = name + ".example", .paths = {{.path = "/", .service = "web"}},
                               .annotations = std::move(annotations)});
    };
    grpc_ingress("ranged", {{std::string(kNginx) + "whitelist-source-range", "127.0.0.2/32"}});
    grpc_ingress("open", {{std::string(kNginx) + "denylist-source-range", "127.0.0.3, fd00::/8"}});
    grpc_ingress("limited", {{std::string(kNginx) + "limit-rps", "5"}, {std::string(kNginx) + "limit-burst-multiplier", "1"}});
    web_ingress("ranged-web", {{std::string(kNginx) + "allowlist-source-range", "127.0.0.2, 127.0.0.4/32"},
                               {"grpc-ingress.io/denylist-source-range", "127.0.0.4"}});
    web_ingress("proxied-web", {{std::string(kNginx) + "whitelist-source-range", "198.51.100.0/24"},
                                {std::string(kNginx) + "denylist-source-range", "198.51.100.66"}});
    web_ingress("limited-web", {{std::string(kNginx) + "limit-rpm", "2"}, {std::string(kNginx) + "limit-burst-multiplier", "1"},
                                {std::string(kNginx) + "limit-whitelist", "127.0.0.5"}});
    ingress = Ingress::start(manifests.dir(), tmp.path(), options);
  }

  CallResult hello(const std::string& host) const {
    auto stub = helloworld::Greeter::NewStub(make_channel(ingress->target(), host));
    return say_hello(*stub);
  }
  // A plain GET from `source` (a 127.0.0.x address) to `host`.
  CurlResult get(const std::string& source, const std::string& host) const {
    return run_curl(tmp.path(), {"--interface", source, "-H", "Host: " + host, "http://" + ingress->target() + "/"});
  }
  // A plain GET on a connection whose PROXY v1 header declares `client`; the status.
  int get_as(const std::string& client, const std::string& host) const {
    RawConnection connection("127.0.0.1", ingress->http_port());
    connection.send("PROXY TCP4 " + client + " 127.0.0.1 50123 " + std::to_string(ingress->http_port()) + "\r\n" +
                    "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    std::string received;
    connection.wait_closed(std::chrono::seconds(5), &received);
    auto responses = parse_responses(received);
    return responses.empty() ? 0 : responses.front().status;
  }
  double metric(const std::string& reason) const {
    std::string text = ingress->admin_get("/metrics").body;
    std::smatch match;
    std::regex line("grpc_ingress_access_denied_total\\{reason=\"" + reason + "\"\\} ([0-9.e+]+)");
    return std::regex_search(text, match, line) ? std::stod(match[1]) : -1;
  }

  TempDir tmp;
  ManifestDir manifests;
  std::unique_ptr<Pod> greeter, web;
  std::unique_ptr<Ingress> ingress;
};

}  // namespace

TEST_CASE("source ranges admit listed client addresses and refuse others, gRPC and HTTP", "[edge]") {
  EdgeSetup setup;

  // gRPC clients connect from 127.0.0.1.
  CallResult refused = setup.hello("ranged.example");
  CHECK(refused.code == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_THAT(refused.message, Catch::Contains("127.0.0.1") && Catch::Contains("not allowed"));
  CallResult open = setup.hello("open.example");  // only 127.0.0.3 and fd00::/8 are denied there
  CHECK(open.ok());
  CHECK(open.pod == "greeter-a");

  CHECK(setup.get("127.0.0.2", "ranged-web.example").status == 200);
  CHECK(setup.get("127.0.0.3", "ranged-web.example").status == 403);
  CHECK(setup.get("127.0.0.4", "ranged-web.example").status == 403);  // allowed, but denied wins
  CHECK(setup.get("127.0.0.1", "ranged-web.example").status == 403);
  CHECK(setup.get("127.0.0.3", "limited-web.example").status == 200);  // other Ingresses are not ranged

  CHECK(setup.metric("source_range") == 4);
}

TEST_CASE("with --use-proxy-protocol, source ranges judge the address the PROXY header declares", "[edge]") {
  EdgeSetup setup({.extra_args = {"--use-proxy-protocol"}});
  CHECK(setup.get_as("198.51.100.7", "proxied-web.example") == 200);
  CHECK(setup.get_as("198.51.100.66", "proxied-web.example") == 403);  // denied wins
  CHECK(setup.get_as("203.0.113.9", "proxied-web.example") == 403);
  // The socket is 127.0.0.1's, which ranged-web does not allow: the declared address decides.
  CHECK(setup.get_as("127.0.0.2", "ranged-web.example") == 200);
  CHECK(setup.get_as("127.0.0.3", "ranged-web.example") == 403);
  CHECK(setup.metric("source_range") == 3);
}

TEST_CASE("limit-rps lets about the configured rate through one gRPC channel and refuses the excess", "[edge]") {
  EdgeSetup setup;
  auto stub = helloworld::Greeter::NewStub(make_channel(setup.ingress->target(), "limited.example"));
  auto channel_ready = helloworld::Greeter::NewStub(make_channel(setup.ingress->target(), "open.example"));
  REQUIRE(say_hello(*channel_ready).ok());  // the proxy answers; limited.example's bucket is untouched

  int ok = 0, exhausted = 0, other = 0;
  auto start = std::chrono::steady_clock::now();
  auto until = start + std::chrono::seconds(3);
  // Paced (about 300 a second), so that the run lasts its 3 s and the rate shows.
  for (int i = 0; i < 2000 && std::chrono::steady_clock::now() < until; ++i) {
    CallResult call = say_hello(*stub);
    if (call.ok()) {
      ++ok;
    } else if (call.code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
    } else {
      ++other;
      INFO(code_name(call.code) << ": " << call.message);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("ok " << ok << ", refused " << exhausted << ", in " << seconds << " s");
  // The burst (5 x 1) and then 5 per second: never more, and the calls ask
  // far faster than that, so about that many.
  CHECK(ok <= 5 + 5 * seconds + 1);
  CHECK(ok >= 5 + 5 * seconds * 0.6);
  CHECK(exhausted > 100);
  CHECK(other == 0);
  CHECK(setup.metric("rate_limit") == exhausted);
}

TEST_CASE("limit-rpm refuses plain HTTP past the rate with 429, per client address, except the whitelist", "[edge]") {
  EdgeSetup setup;
  CHECK(setup.get("127.0.0.2", "limited-web.example").status == 200);
  CHECK(setup.get("127.0.0.2", "limited-web.example").status == 200);
  CHECK(setup.get("127.0.0.2", "limited-web.example").status == 429);
  CHECK(setup.get("127.0.0.3", "limited-web.example").status == 200);  // its own bucket
  for (int i = 0; i < 4; ++i) CHECK(setup.get("127.0.0.5", "limited-web.example").status == 200);
}

TEST_CASE("the flag --limit-req-status-code changes what a rate-limited HTTP client gets", "[edge]") {
  EdgeSetup setup({.extra_args = {"--limit-req-status-code", "503"}});  // ingress-nginx's default
  CHECK(setup.get("127.0.0.2", "limited-web.example").status == 200);
  CHECK(setup.get("127.0.0.2", "limited-web.example").status == 200);
  CHECK(setup.get("127.0.0.2", "limited-web.example").status == 503);
}

}  // namespace grpc_ingress::testing
