// The app log as `kubectl logs` and a log pipeline read it with --log-format
// json: one JSON object per line, and a rejected Ingress logged with its
// component, kind, object and reason as members.

#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>

namespace grpc_ingress::testing {
namespace {

using nlohmann::json;

// Every line of `log` parsed; a line that is not a JSON object fails the test.
std::vector<json> json_lines(const std::string& log) {
  std::vector<json> out;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
    INFO("log line: " << line);
    CHECK(parsed.is_object());
    if (parsed.is_object()) out.push_back(std::move(parsed));
  }
  return out;
}

TEST_CASE("with --log-format json every app log line is one JSON object, and a rejected Ingress carries component, kind, object and reason",
          "[log]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  auto pod = Pod::start(tmp.path(), "greeter-0");
  manifests.write_service("greeter", {pod->endpoint()});
  manifests.write_ingress({.name = "guarded",
                           .paths = {{.path = kGreeterPath, .service = "greeter"}},
                           .annotations = {{"nginx.ingress.kubernetes.io/auth-type", "basic"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path(), {.extra_args = {"--log-format", "json"}});

  json rejected;
  REQUIRE(wait_until(
      [&] {
        for (const json& line : json_lines(ingress->process().stderr_text())) {
          if (line.value("object", "") == "default/guarded") rejected = line;
        }
        return !rejected.is_null();
      },
      5s, 50ms));
  INFO(rejected.dump());
  CHECK(rejected.value("level", "") == "warning");
  CHECK(rejected.value("component", "") == "publisher");
  CHECK(rejected.value("kind", "") == "Ingress");
  CHECK(rejected.value("reason", "").find("nginx.ingress.kubernetes.io/auth-type") != std::string::npos);
  CHECK(rejected.value("msg", "").starts_with("rejected Ingress default/guarded: "));
  CHECK(rejected.contains("time"));

  // The table built without it is logged as published, with its reason.
  bool published = false;
  for (const json& line : json_lines(ingress->process().stderr_text())) {
    published = published || (line.value("component", "") == "publisher" && line.value("reason", "") == "ConfigPublished");
  }
  CHECK(published);
}

}  // namespace
}  // namespace grpc_ingress::testing
