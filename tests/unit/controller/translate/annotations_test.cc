// The resilience annotations (issue 4) as the translator turns them into the
// routing table: health checks, outliers, retries, limits, canary, HTTP health bridge.

#include "controller/translate/annotations.h"
#include "controller/translate/translator.h"

#include "tests/unit/controller/manifest_fixture.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;
using namespace std::chrono_literals;

namespace {

std::string services() {
  return service({.name = "greeter", .target_port = "grpc", .endpoints = {endpoint("127.0.0.5", "greeter-0")}}) +
         service({.name = "canary", .target_port = "grpc", .endpoints = {endpoint("127.0.0.6", "canary-0")}});
}

Translation translate_yaml(const std::string& manifests) {
  Store store;
  load_yaml(store, services() + manifests);
  return translate(store, {});
}

IngressOptions options_of(const std::string& annotations) {
  ObjectMeta meta;
  meta.name = "a";
  meta.namespace_name = "default";
  std::string_view rest = annotations;
  while (!rest.empty()) {  // "key=value;key=value"
    auto end = rest.find(';');
    std::string_view entry = rest.substr(0, end);
    auto eq = entry.find('=');
    meta.annotations[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  return read_annotations(meta);
}

std::string rejections_of(const Translation& translation) {
  std::string out;
  for (const Rejection& r : translation.rejections) out += r.name + ": " + r.reason + "\n";
  return out;
}

}  // namespace

TEST_CASE("defaults without annotations: no health checks, outliers after 5, 2 retries on unavailable",
          "[annotations]") {
  IngressOptions options = options_of("");
  CHECK_FALSE(options.cluster.health_check.enabled);
  CHECK(options.cluster.outlier_detection.consecutive_failures == 5);
  CHECK(options.cluster.outlier_detection.base_ejection == 30s);
  CHECK(options.retry.retries == 2);
  CHECK(options.retry.retries_status(14));
  CHECK_FALSE(options.retry.retries_status(8));
  CHECK(options.max_timeout == 0ms);
  CHECK(options.max_message_bytes == 0);
  CHECK(options.cluster.max_streams_per_endpoint == 0);
  CHECK(options.cluster.max_pending_per_endpoint == 1024);
  CHECK_FALSE(options.canary);
  CHECK(options.problems.empty());
}

TEST_CASE("health check annotations", "[annotations]") {
  IngressOptions options = options_of(
      "grpc-ingress.io/health-check=grpc;grpc-ingress.io/health-check-service=helloworld.Greeter;"
      "grpc-ingress.io/health-check-interval=500ms;grpc-ingress.io/health-check-timeout=200ms;"
      "grpc-ingress.io/health-check-healthy-threshold=2;grpc-ingress.io/health-check-unhealthy-threshold=3");
  const HealthCheck& check = options.cluster.health_check;
  CHECK(check.enabled);
  CHECK(check.service == "helloworld.Greeter");
  CHECK(check.interval == 500ms);
  CHECK(check.timeout == 200ms);
  CHECK(check.healthy_threshold == 2);
  CHECK(check.unhealthy_threshold == 3);
  CHECK(options.problems.empty());

  SECTION("bad values keep the defaults and say so") {
    IngressOptions bad = options_of("grpc-ingress.io/health-check=tcp;grpc-ingress.io/health-check-interval=soon");
    CHECK_FALSE(bad.cluster.health_check.enabled);
    CHECK(bad.cluster.health_check.interval == 5s);
    REQUIRE(bad.problems.size() == 2);
    CHECK_THAT(bad.problems[0], Catch::Matchers::Contains("'tcp' is not a health check kind"));
    CHECK_THAT(bad.problems[1], Catch::Matchers::Contains("health-check-interval: 'soon'"));
  }
  SECTION("an HTTP health path turns gRPC health checks on") {
    IngressOptions bridge = options_of("grpc-ingress.io/http-health-path=/healthz");
    CHECK(bridge.http_health_path == "/healthz");
    CHECK(bridge.cluster.health_check.enabled);
  }
}

TEST_CASE("retry, timeout, message and circuit annotations", "[annotations]") {
  IngressOptions options = options_of(
      "grpc-ingress.io/retries=4;grpc-ingress.io/retry-on=unavailable, resource-exhausted,INTERNAL;"
      "grpc-ingress.io/max-timeout=30s;grpc-ingress.io/max-message-bytes=4Mi;"
      "grpc-ingress.io/max-streams-per-endpoint=100;grpc-ingress.io/max-pending-per-endpoint=10;"
      "grpc-ingress.io/outlier-consecutive-failures=0");
  CHECK(options.problems.empty());
  CHECK(options.retry.retries == 4);
  CHECK(options.retry.retries_status(14));
  CHECK(options.retry.retries_status(8));
  CHECK(options.retry.retries_status(13));
  CHECK_FALSE(options.retry.retries_status(2));
  CHECK(options.max_timeout == 30s);
  CHECK(options.max_message_bytes == 4u << 20);
  CHECK(options.cluster.max_streams_per_endpoint == 100);
  CHECK(options.cluster.max_pending_per_endpoint == 10);
  CHECK(options.cluster.outlier_detection.consecutive_failures == 0);

  IngressOptions bad = options_of("grpc-ingress.io/retry-on=sometimes;grpc-ingress.io/retries=-1;"
                                  "grpc-ingress.io/max-message-bytes=big");
  CHECK(bad.retry.retry_on == 1u << 14);
  CHECK(bad.retry.retries == 2);
  CHECK(bad.max_message_bytes == 0);
  CHECK(bad.problems.size() == 3);
}

TEST_CASE("a message size whose bytes overflow 64 bits is refused, not wrapped to no limit", "[annotations]") {
  // 2^44 Mi is 2^64 bytes: multiplied out it would wrap to 0, which means no limit.
  IngressOptions huge = options_of("grpc-ingress.io/max-message-bytes=17592186044416Mi");
  CHECK(huge.max_message_bytes == 0);
  CHECK(huge.problems.size() == 1);
  CHECK(options_of("grpc-ingress.io/max-message-bytes=2048Mi").max_message_bytes == 1u << 31);
  CHECK(options_of("grpc-ingress.io/max-message-bytes=2049Mi").problems.size() == 1);
}

TEST_CASE("route options come from the Ingress that owns the route", "[annotations][translator]") {
  Translation translation = translate_yaml(ingress(
      {.name = "a",
       .rules = {rule("", {path("/helloworld.Greeter", "Prefix")})},
       .annotations = "grpc-ingress.io/retries: '1', grpc-ingress.io/max-timeout: 2s, "
                      "grpc-ingress.io/max-message-bytes: '1024', grpc-ingress.io/health-check: grpc"}));
  INFO(rejections_of(translation));
  const Route* route = translation.table.match("x", "/helloworld.Greeter/SayHello");
  REQUIRE(route);
  CHECK(route->retry.retries == 1);
  CHECK(route->max_timeout == 2s);
  CHECK(route->max_message_bytes == 1024);
  CHECK(translation.table.cluster_of(*route).health_check.enabled);
  CHECK(translation.rejections.empty());
}

TEST_CASE("a canary Ingress joins the main route of the same host and path", "[annotations][translator]") {
  std::string main = ingress({.name = "main", .rules = {rule("a.example.com", {path("/", "Prefix")})}});
  SECTION("weight and header, ingress-nginx's annotations") {
    Translation translation = translate_yaml(
        main + ingress({.name = "canary",
                        .rules = {rule("a.example.com", {path("/", "Prefix", "canary")})},
                        .annotations = "nginx.ingress.kubernetes.io/canary: 'true', "
                                       "nginx.ingress.kubernetes.io/canary-weight: '20', "
                                       "nginx.ingress.kubernetes.io/canary-by-header: X-Canary"}));
    INFO(rejections_of(translation));
    CHECK(translation.rejections.empty());
    const Route* route = translation.table.match("a.example.com", "/x");
    REQUIRE(route);
    CHECK(translation.table.cluster_of(*route).service == "greeter");
    REQUIRE(route->canary);
    CHECK(translation.table.clusters[route->canary->cluster]->service == "canary");
    CHECK(route->canary->weight == 20);
    CHECK(route->canary->weight_total == 100);
    CHECK(route->canary->header == "x-canary");
    CHECK(route->canary->ingress_name == "canary");
  }
  SECTION("a canary is older than its main Ingress: still a canary, never a claim") {
    Translation translation = translate_yaml(
        ingress({.name = "canary",
                 .rules = {rule("a.example.com", {path("/", "Prefix", "canary")})},
                 .created = "2020-01-01T00:00:00Z",
                 .annotations = "nginx.ingress.kubernetes.io/canary: 'true', "
                                "nginx.ingress.kubernetes.io/canary-weight: '50'"}) +
        ingress({.name = "main", .rules = {rule("a.example.com", {path("/", "Prefix")})}, .created = "2021-01-01T00:00:00Z"}));
    const Route* route = translation.table.match("a.example.com", "/x");
    REQUIRE(route);
    CHECK(translation.table.cluster_of(*route).service == "greeter");
    REQUIRE(route->canary);
    CHECK(route->canary->weight == 50);
  }
  SECTION("a canary without a main Ingress is reported and routes nothing") {
    Translation translation = translate_yaml(
        ingress({.name = "canary",
                 .rules = {rule("b.example.com", {path("/", "Prefix", "canary")})},
                 .annotations = "nginx.ingress.kubernetes.io/canary: 'true'"}));
    CHECK(translation.table.match("b.example.com", "/x") == nullptr);
    REQUIRE(translation.rejections.size() == 1);
    CHECK_THAT(translation.rejections[0].reason, Catch::Matchers::Contains("has no main Ingress"));
  }
}

TEST_CASE("the HTTP health bridge is an Exact route on the Ingress's hosts", "[annotations][translator]") {
  Translation translation = translate_yaml(ingress(
      {.name = "a",
       .rules = {rule("a.example.com", {path("/helloworld.Greeter", "Prefix"), path("/canary", "Prefix", "canary")})},
       .annotations = "grpc-ingress.io/http-health-path: /"}));
  INFO(rejections_of(translation));
  CHECK(translation.rejections.empty());
  const Route* route = translation.table.match("a.example.com", "/");
  REQUIRE(route);
  CHECK(route->health_bridge);
  CHECK(route->health_of_clusters.size() == 2);
  for (uint32_t index : route->health_of_clusters) CHECK(translation.table.clusters[index]->health_check.enabled);
  // Only "/" itself: other paths route as before.
  const Route* grpc = translation.table.match("a.example.com", "/helloworld.Greeter/SayHello");
  REQUIRE(grpc);
  CHECK_FALSE(grpc->health_bridge);
  CHECK(translation.table.match("a.example.com", "/other") == nullptr);
}
