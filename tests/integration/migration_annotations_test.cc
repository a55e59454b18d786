// Migrating from ingress-nginx (issue 15): an Ingress carrying a security
// annotation grpc-ingress does not implement is not routed at all (never
// silently weaker), says why in a Warning Event, the log and
// grpc_ingress_rejected_objects; the other Ingresses are served; the
// operator's flag serves it without the protection.

#include "tests/integration/api_objects.h"
#include "tests/integration/fake_api_server.h"
#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <sstream>

namespace grpc_ingress::testing {
namespace {

using nlohmann::json;

constexpr const char* kOpenHost = "open.example.com";
constexpr const char* kGuardedHost = "guarded.example.com";
constexpr const char* kAuthType = "nginx.ingress.kubernetes.io/auth-type";

IngressSpec open_ingress() {
  return {.name = "open", .host = kOpenHost, .paths = {{.path = kGreeterPath, .service = "greeter"}}};
}

IngressSpec guarded_ingress() {
  return {.name = "guarded",
          .host = kGuardedHost,
          .paths = {{.path = kGreeterPath, .service = "greeter"}},
          .annotations = {{kAuthType, "basic"},
                          {"nginx.ingress.kubernetes.io/auth-secret", "basic-auth"},
                          {"nginx.ingress.kubernetes.io/proxy-buffer-size", "16k"}}};
}

CallResult hello(const Ingress& ingress, const std::string& host) {
  auto stub = helloworld::Greeter::NewStub(make_channel(ingress.target(), host));
  return say_hello(*stub);
}

// The grpc_ingress_rejected_objects lines of /metrics whose reason mentions `needle`.
std::vector<std::string> rejected_lines(const Ingress& ingress, const std::string& needle) {
  std::vector<std::string> out;
  HttpResponse metrics = ingress.admin_get("/metrics");
  std::istringstream lines(metrics.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("grpc_ingress_rejected_objects{") && line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_CASE("an Ingress with an unsupported security annotation is not routed while another is served, the flag serves it",
          "[proxy][annotations][migration]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  auto pod = Pod::start(tmp.path(), "greeter-0");
  manifests.write_service("greeter", {pod->endpoint()});
  manifests.write_ingress(open_ingress());
  manifests.write_ingress(guarded_ingress());

  {
    auto ingress = Ingress::start(manifests.dir(), tmp.path());
    REQUIRE(wait_until([&] { return hello(*ingress, kOpenHost).ok(); }, 5s, 50ms));
    CallResult refused = hello(*ingress, kGuardedHost);
    INFO(code_name(refused.code) << ": " << refused.message);
    CHECK(refused.code == grpc::StatusCode::UNIMPLEMENTED);  // no route: the Ingress was never served

    std::vector<std::string> lines = rejected_lines(*ingress, "nginx.ingress.kubernetes.io/auth-type is security-relevant");
    REQUIRE(lines.size() == 1);
    INFO(lines[0]);
    CHECK(lines[0].find("kind=\"Ingress\"") != std::string::npos);
    CHECK(lines[0].ends_with(" 1"));
    CHECK(rejected_lines(*ingress, "nginx.ingress.kubernetes.io/auth-secret is security-relevant").size() == 1);
    CHECK(rejected_lines(*ingress, "proxy-buffer-size").empty());  // harmless: not a word
    std::string log = ingress->process().stderr_text();
    CHECK(log.find("guarded") != std::string::npos);
    CHECK(log.find(std::string(kAuthType) + " is security-relevant") != std::string::npos);
  }

  // The operator accepts the risk: served without basic auth, still warned.
  auto accepting = Ingress::start(manifests.dir(), tmp.path(),
                                  {.extra_args = {"--allow-unsupported-security-annotations"}});
  REQUIRE(wait_until([&] { return hello(*accepting, kGuardedHost).ok(); }, 5s, 50ms));
  CHECK(hello(*accepting, kOpenHost).ok());
  CHECK(rejected_lines(*accepting, "served WITHOUT it").size() == 2);
}

TEST_CASE("a typo under grpc-ingress.io refuses the Ingress, naming the closest annotation",
          "[proxy][annotations][migration]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  auto pod = Pod::start(tmp.path(), "greeter-0");
  manifests.write_service("greeter", {pod->endpoint()});
  manifests.write_ingress(open_ingress());
  IngressSpec typo = guarded_ingress();
  typo.annotations = {{"grpc-ingress.io/whitelist-source-rnage", "127.0.0.0/8"}};
  manifests.write_ingress(typo);

  auto ingress = Ingress::start(manifests.dir(), tmp.path());
  REQUIRE(wait_until([&] { return hello(*ingress, kOpenHost).ok(); }, 5s, 50ms));
  CHECK(hello(*ingress, kGuardedHost).code == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(rejected_lines(*ingress, "did you mean grpc-ingress.io/whitelist-source-range?").size() == 1);

  // Fixed: served.
  typo.annotations = {{"grpc-ingress.io/whitelist-source-range", "127.0.0.0/8"}};
  manifests.write_ingress(typo);
  CHECK(wait_until([&] { return hello(*ingress, kGuardedHost).ok(); }, 5s, 50ms));
  CHECK(rejected_lines(*ingress, "whitelist-source-rnage").empty());
}

TEST_CASE("in API mode the refused Ingress gets a Warning Event naming the annotation, and the metric counts it",
          "[kube][annotations][migration]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto pod = Pod::start(tmp.path(), "greeter-0");
  objects.write_service("greeter", {pod->endpoint()});
  objects.write_ingress(open_ingress());
  objects.write_ingress(guarded_ingress());

  IngressOptions options;
  options.env = {"POD_NAME=solo"};
  options.extra_args = {"--election-id", "migration-leader", "--leader-election-lease-duration", "3s",
                        "--leader-election-renew-deadline", "2s", "--leader-election-retry-period", "500ms"};
  auto ingress = start_api_mode(*api, tmp.path(), options);
  REQUIRE(wait_until([&] { return hello(*ingress, kOpenHost).ok(); }, 10s, 50ms));
  CHECK(hello(*ingress, kGuardedHost).code == grpc::StatusCode::UNIMPLEMENTED);

  json event;
  CHECK(wait_until(
      [&] {
        json events = api->list("/api/v1/namespaces/default/events");
        for (const json& item : events["items"]) {
          if (item.value("/involvedObject/name"_json_pointer, std::string()) == "guarded" &&
              item.value("message", "").find(std::string(kAuthType)) != std::string::npos) {
            event = item;
            return true;
          }
        }
        return false;
      },
      10s, 100ms));
  INFO(event.dump());
  CHECK(event.value("type", "") == "Warning");
  CHECK(event.value("reason", "") == "Rejected");
  CHECK(event.value("/involvedObject/kind"_json_pointer, std::string()) == "Ingress");
  CHECK_THAT(event.value("message", ""), Catch::Contains("is security-relevant and not implemented by grpc-ingress"));

  std::vector<std::string> lines = rejected_lines(*ingress, std::string(kAuthType) + " is security-relevant");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].ends_with(" 1"));
}

}  // namespace grpc_ingress::testing
