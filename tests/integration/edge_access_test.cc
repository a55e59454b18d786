// Access control at the edge (README "Security at the edge"), as a client
// moving from ingress-nginx meets it: source ranges by client address and
// rate limits per client address, with real gRPC clients and curl.
// 127.0.0.1 is the gRPC clients' address; curl --interface picks others.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"

#include <catch2/catch.hpp>

#include <regex>

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

TEST_CASE("limit-rps lets about the configured rate through one gRPC channel and refuses the excess", "[edge]") {
  EdgeSetup setup;
  auto stub = helloworld::Greeter::NewStub(make_channel(setup.ingress->target(), "limited.example"));
  REQUIRE(say_hello(*stub).ok());  // connected; the first of the burst of 5

  int ok = 1, exhausted = 0, other = 0;
  auto start = std::chrono::steady_clock::now();
  auto until = start + std::chrono::seconds(3);
  for (int i = 0; i < 3000 && std::chrono::steady_clock::now() < until; ++i) {
    CallResult call = say_hello(*stub);
    if (call.ok()) {
      ++ok;
    } else if (call.code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
    } else {
      ++other;
      INFO(code_name(call.code) << ": " << call.message);
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("ok " << ok << ", refused " << exhausted << ", in " << seconds << " s");
  // The burst (5 x 1) and then 5 per second: never more, and the calls ask
  // far faster than that, so about that many.
  CHECK(ok <= 5 + 5 * seconds + 2);
  CHECK(ok >= 5 + 5 * seconds * 0.6);
  CHECK(exhausted > 50);
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
