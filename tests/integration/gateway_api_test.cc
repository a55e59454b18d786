// Gateway API: the GRPCRoute and Gateway core conformance tests of the
// Gateway API project (GRPCExactMethodMatching, GRPCRouteHeaderMatching,
// GRPCRouteListenerHostnameMatching, GRPCRouteWeight, GRPCRouteCrossNamespace,
// ...) re-expressed with real gRPC clients and pods, once with the objects
// read from --manifests files and once through the fake API server, where
// the status the leader writes is checked too.

#include "tests/integration/api_objects.h"
#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/manifest_dir.h"

#include <catch2/catch.hpp>

#include <map>
#include <string>

namespace grpc_ingress::testing {
namespace {

constexpr const char* kGroup = "gateway.networking.k8s.io";

// The same objects in either mode.
class GatewayWorld {
 public:
  explicit GatewayWorld(bool api_mode, FakeApiServerOptions api_options = {}) : api_mode_(api_mode) {
    if (api_mode_) {
      api_ = FakeApiServer::start(tmp_.path() / "api", api_options);
      objects_ = std::make_unique<ApiObjects>(*api_);
    } else {
      manifests_ = std::make_unique<ManifestDir>(tmp_.path());
    }
  }

  const TempDir& tmp() const { return tmp_; }
  FakeApiServer& api() { return *api_; }
  bool api_mode() const { return api_mode_; }

  void write_service(const std::string& name, const std::vector<EndpointSpec>& endpoints) {
    if (api_mode_) {
      objects_->write_service(name, endpoints);
    } else {
      manifests_->write_service(name, endpoints);
    }
  }
  void write_ingress(const IngressSpec& spec) {
    if (api_mode_) {
      objects_->write_ingress(spec);
    } else {
      manifests_->write_ingress(spec);
    }
  }
  void write_yaml(const std::string& file, const std::string& yaml) {
    if (api_mode_) {
      objects_->apply_yaml(yaml);
    } else {
      manifests_->write_file(file, yaml);
    }
  }

  std::unique_ptr<Ingress> start(IngressOptions options = {}) {
    if (api_mode_) return start_api_mode(*api_, tmp_.path(), options);
    return Ingress::start(manifests_->dir(), tmp_.path(), options);
  }

 private:
  bool api_mode_;
  TempDir tmp_;
  std::unique_ptr<FakeApiServer> api_;
  std::unique_ptr<ApiObjects> objects_;
  std::unique_ptr<ManifestDir> manifests_;
};

std::string gateway_class_yaml(const std::string& name, const std::string& controller) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: " + name +
         "}\nspec: {controllerName: " + controller + "}\n";
}

// The conformance suite's "same-namespace" Gateway: one HTTP listener for
// every host, one for *.wild.test, one on a port we do not serve.
const char* kGateway = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: same-namespace, namespace: default}
spec:
  gatewayClassName: grpc
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - {name: wild, protocol: HTTP, port: 80, hostname: '*.wild.test'}
  - {name: elsewhere, protocol: HTTP, port: 9999}
)";

std::string grpc_route(const std::string& name, const std::string& spec, const std::string& namespace_name = "default") {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: " + name +
         ", namespace: " + namespace_name + "}\nspec:\n" + spec;
}

// A Service and its EndpointSlice in another namespace, written as YAML.
std::string foreign_service_yaml(const std::string& namespace_name, const std::string& name, const Pod& pod) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: " + namespace_name +
         "}\nspec: {ports: [{name: grpc, port: 80, appProtocol: kubernetes.io/h2c}]}\n---\n"
         "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " + name + "-1\n  namespace: " +
         namespace_name + "\n  labels: {kubernetes.io/service-name: " + name + "}\naddressType: IPv4\n"
         "ports: [{name: grpc, port: " + std::to_string(pod.port()) + ", appProtocol: kubernetes.io/h2c}]\n"
         "endpoints: [{addresses: ['" + pod.ip() + "'], conditions: {ready: true}, targetRef: {kind: Pod, name: " +
         pod.name() + "}}]\n";
}

// One call of /grpc_ingress.test.Echo/Unary with `metadata`, to `authority`.
CallResult echo_call(const Ingress& ingress, const std::string& authority,
                     const std::map<std::string, std::string>& metadata = {}, std::string* routed_header = nullptr) {
  auto stub = test::Echo::NewStub(make_channel(ingress.target(), authority));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  for (const auto& [name, value] : metadata) context.AddMetadata(name, value);
  test::EchoRequest request;
  request.set_message("hi");
  request.add_echo_metadata("x-routed-by");
  test::EchoReply reply;
  grpc::Status status = stub->Unary(&context, request, &reply);
  if (routed_header) *routed_header = reply.metadata().count("x-routed-by") ? reply.metadata().at("x-routed-by") : "";
  return {status.error_code(), status.error_message(), status.ok() ? reply.pod() : "", {}, {}};
}

std::string log_of(Ingress& ingress) { return ingress.process().stderr_text() + ingress.process().stdout_text(); }

CallResult hello_call(const Ingress& ingress, const std::string& authority) {
  auto stub = helloworld::Greeter::NewStub(make_channel(ingress.target(), authority));
  return say_hello(*stub, 3s);
}

// The condition `type` of a status conditions list, or null JSON.
nlohmann::json condition(const nlohmann::json& conditions, const std::string& type) {
  if (!conditions.is_array()) return nullptr;
  for (const auto& c : conditions) {
    if (c.value("type", "") == type) return c;
  }
  return nullptr;
}

// Our entry in a route's status.parents (controllerName ours), or null JSON.
nlohmann::json our_parent_status(FakeApiServer& api, const std::string& path) {
  auto route = api.get(path);
  if (!route) return nullptr;
  // A route nobody wrote status to has none (its schema gives status no default).
  nlohmann::json status = route->value("status", nlohmann::json::object());
  if (!status.is_object()) return nullptr;
  for (const auto& parent : status.value("parents", nlohmann::json::array())) {
    if (parent.value("controllerName", "") == "grpc-ingress.io/gateway-controller") return parent;
  }
  return nullptr;
}

// Waits until our status on the route has condition `type` with `status` (and `reason`, if given).
bool wait_route_condition(FakeApiServer& api, const std::string& path, const std::string& type,
                          const std::string& status, const std::string& reason = "") {
  return wait_until(
      [&] {
        nlohmann::json parent = our_parent_status(api, path);
        if (!parent.is_object()) return false;
        nlohmann::json c = condition(parent.value("conditions", nlohmann::json::array()), type);
        return c.is_object() && c.value("status", "") == status && (reason.empty() || c.value("reason", "") == reason);
      },
      10s, 50ms);
}

std::string route_path(const std::string& namespace_name, const std::string& name) {
  return std::string("/apis/") + kGroup + "/v1/namespaces/" + namespace_name + "/grpcroutes/" + name;
}

}  // namespace

TEST_CASE("GRPCRoute core conformance through a Gateway of our class", "[gateway]") {
  const bool api_mode = GENERATE(false, true);
  INFO((api_mode ? "through the fake API server" : "from --manifests files"));
  GatewayWorld world(api_mode);
  auto v1 = start_pods(world.tmp().path(), "echo-v1", 2);
  auto v2 = start_pods(world.tmp().path(), "echo-v2", 1);
  auto infra = Pod::start(world.tmp().path(), "infra-0");
  world.write_service("echo-v1", endpoints_of(v1));
  world.write_service("echo-v2", endpoints_of(v2));
  world.write_yaml("infra.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: infra}\n---\n" +
                                     foreign_service_yaml("infra", "infra-echo", *infra));
  world.write_yaml("classes.yaml", gateway_class_yaml("grpc", "grpc-ingress.io/gateway-controller") + "---\n" +
                                       gateway_class_yaml("envoy", "gateway.envoyproxy.io/gatewayclass-controller"));
  world.write_yaml("gateway.yaml", kGateway);
  world.write_yaml("theirs.yaml", R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: theirs, namespace: default}
spec:
  gatewayClassName: envoy
  listeners: [{name: http, protocol: HTTP, port: 80}]
)");
  world.write_yaml("routes.yaml",
                   // GRPCExactMethodMatching and a service-only match.
                   grpc_route("exact", R"(
  parentRefs: [{name: same-namespace, sectionName: http}]
  hostnames: [exact.test]
  rules:
  - matches: [{method: {service: grpc_ingress.test.Echo, method: Unary}}]
    backendRefs: [{name: echo-v2, port: 80}]
  - matches: [{method: {service: helloworld.Greeter}}]
    backendRefs: [{name: echo-v1, port: 80}]
)") + "---\n" +
                       // A regular-expression method match.
                       grpc_route("regex", R"(
  parentRefs: [{name: same-namespace, sectionName: http}]
  hostnames: [regex.test]
  rules:
  - matches: [{method: {type: RegularExpression, service: 'helloworld\.Gree.*', method: 'Say[A-Z].*'}}]
    backendRefs: [{name: echo-v2, port: 80}]
)") + "---\n" +
                       // GRPCRouteHeaderMatching, and a RequestHeaderModifier on the matched rule.
                       grpc_route("headers", R"(
  parentRefs: [{name: same-namespace, sectionName: http}]
  hostnames: [headers.test]
  rules:
  - matches: [{headers: [{name: version, value: two}]}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-routed-by, value: header-rule}]}}]
    backendRefs: [{name: echo-v2, port: 80}]
  - backendRefs: [{name: echo-v1, port: 80}]
)") + "---\n" +
                       // GRPCRouteWeight.
                       grpc_route("weights", R"(
  parentRefs: [{name: same-namespace, sectionName: http}]
  hostnames: [weights.test]
  rules:
  - backendRefs: [{name: echo-v1, port: 80, weight: 70}, {name: echo-v2, port: 80, weight: 30}]
)") + "---\n" +
                       // GRPCRouteListenerHostnameMatching: the wildcard listener's hosts only.
                       grpc_route("wild", R"(
  parentRefs: [{name: same-namespace, sectionName: wild}]
  rules: [{backendRefs: [{name: echo-v2, port: 80}]}]
)") + "---\n" +
                       // A Service that does not exist.
                       grpc_route("missing", R"(
  parentRefs: [{name: same-namespace, sectionName: http}]
  hostnames: [missing.test]
  rules: [{backendRefs: [{name: nowhere, port: 80}]}]
)") + "---\n" +
                       // GRPCRouteCrossNamespace, refused without a ReferenceGrant.
                       grpc_route("cross", R"(
  parentRefs: [{name: same-namespace, sectionName: http}]
  hostnames: [cross.test]
  rules: [{backendRefs: [{name: infra-echo, namespace: infra, port: 80}]}]
)") + "---\n" +
                       // From another namespace, which the listeners (From: Same) do not allow.
                       grpc_route("outsider", R"(
  parentRefs: [{name: same-namespace, namespace: default}]
  hostnames: [outsider.test]
  rules: [{backendRefs: [{name: infra-echo, port: 80}]}]
)", "infra") + "---\n" +
                       // Only another controller's Gateway.
                       grpc_route("other-class", R"(
  parentRefs: [{name: theirs}]
  hostnames: [other-class.test]
  rules: [{backendRefs: [{name: echo-v1, port: 80}]}]
)"));
  // An Ingress and a GRPCRoute for the same host: both served.
  world.write_ingress({.name = "shared", .host = "shared.test",
                       .paths = {{.path = "/helloworld.Greeter", .service = "echo-v1"}}});
  world.write_yaml("shared-route.yaml", grpc_route("shared", R"(
  parentRefs: [{name: same-namespace, sectionName: http}]
  hostnames: [shared.test]
  rules: [{matches: [{method: {service: grpc_ingress.test.Echo}}], backendRefs: [{name: echo-v2, port: 80}]}]
)"));
  auto ingress = world.start();
  REQUIRE(ingress->wait_for_routes_containing("cross.test", 10s));
  const std::string v2_pod = v2[0]->name();

  SECTION("exact method and service-only matches") {
    CHECK(echo_call(*ingress, "exact.test").pod == v2_pod);
    CallResult hello = hello_call(*ingress, "exact.test");
    REQUIRE(hello.ok());
    CHECK(hello.pod.starts_with("echo-v1"));
    CHECK(hello_call(*ingress, "regex.test").pod == v2_pod);
    CHECK(echo_call(*ingress, "regex.test").code == grpc::StatusCode::UNIMPLEMENTED);
  }

  SECTION("header match, with the rule's request header modifier") {
    std::string routed;
    CHECK(echo_call(*ingress, "headers.test", {{"version", "two"}}, &routed).pod == v2_pod);
    CHECK(routed == "header-rule");
    CallResult plain = echo_call(*ingress, "headers.test", {{"version", "three"}}, &routed);
    CHECK(plain.pod.starts_with("echo-v1"));
    CHECK(routed.empty());
  }

  SECTION("weighted backends split calls on one connection by weight") {
    auto stub = test::Echo::NewStub(make_channel(ingress->target(), "weights.test"));
    test::EchoRequest request;
    int to_v2 = 0, failed = 0;
    constexpr int kCalls = 300;
    for (int i = 0; i < kCalls; ++i) {
      CallResult result = echo_unary(*stub, request, 3s);
      if (!result.ok()) ++failed;
      if (result.pod == v2_pod) ++to_v2;
    }
    CHECK(failed == 0);
    double share = 100.0 * to_v2 / kCalls;
    INFO("echo-v2 (weight 30) answered " << to_v2 << " of " << kCalls << " calls");
    CHECK(share >= 20.0);
    CHECK(share <= 40.0);
  }

  SECTION("listener hostname matching: a wildcard listener serves its hosts only") {
    CHECK(echo_call(*ingress, "a.wild.test").pod == v2_pod);
    CHECK(echo_call(*ingress, "deeper.a.wild.test").pod == v2_pod);
    CHECK(echo_call(*ingress, "wild.test").code == grpc::StatusCode::UNIMPLEMENTED);
  }

  SECTION("a missing Service answers UNAVAILABLE; a cross-namespace backend needs a ReferenceGrant") {
    CallResult missing = echo_call(*ingress, "missing.test");
    CHECK(missing.code == grpc::StatusCode::UNAVAILABLE);
    CallResult refused = echo_call(*ingress, "cross.test");
    CHECK(refused.code == grpc::StatusCode::UNAVAILABLE);
    CHECK_THAT(refused.message, Catch::Matchers::Contains("ReferenceGrant"));
    if (api_mode) {
      CHECK(wait_route_condition(world.api(), route_path("default", "missing"), "ResolvedRefs", "False", "BackendNotFound"));
      CHECK(wait_route_condition(world.api(), route_path("default", "cross"), "ResolvedRefs", "False", "RefNotPermitted"));
    }
    world.write_yaml("grant.yaml", R"(apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: routes-from-default, namespace: infra}
spec:
  from: [{group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: default}]
  to: [{group: '', kind: Service}]
)");
    CHECK(wait_until([&] { return echo_call(*ingress, "cross.test").pod == infra->name(); }, 10s, 50ms));
    if (api_mode) {
      CHECK(wait_route_condition(world.api(), route_path("default", "cross"), "ResolvedRefs", "True"));
    }
  }

  SECTION("routes no listener allows, and another class's Gateway, are not served") {
    CHECK(echo_call(*ingress, "outsider.test").code == grpc::StatusCode::UNIMPLEMENTED);
    CHECK(echo_call(*ingress, "other-class.test").code == grpc::StatusCode::UNIMPLEMENTED);
    if (api_mode) {
      CHECK(wait_route_condition(world.api(), route_path("infra", "outsider"), "Accepted", "False",
                                 "NotAllowedByListeners"));
      // Nothing of ours on another controller's objects.
      CHECK(our_parent_status(world.api(), route_path("default", "other-class")).is_null());
      auto theirs = world.api().get(std::string("/apis/") + kGroup + "/v1/namespaces/default/gateways/theirs");
      REQUIRE(theirs);
      nlohmann::json status = theirs->value("status", nlohmann::json::object());
      CHECK((status.is_object() ? status.value("listeners", nlohmann::json::array()) : nlohmann::json::array()).empty());
    }
  }

  SECTION("an Ingress and a GRPCRoute for the same host are both served") {
    CallResult by_ingress = hello_call(*ingress, "shared.test");
    REQUIRE(by_ingress.ok());
    CHECK(by_ingress.pod.starts_with("echo-v1"));
    CHECK(echo_call(*ingress, "shared.test").pod == v2_pod);
  }

  if (api_mode) {
    SECTION("status: the class accepted, the Gateway programmed, listeners counted") {
      auto& api = world.api();
      CHECK(wait_until(
          [&] {
            auto gateway_class = api.get(std::string("/apis/") + kGroup + "/v1/gatewayclasses/grpc");
            if (!gateway_class) return false;
            nlohmann::json status = gateway_class->value("status", nlohmann::json::object());
            nlohmann::json accepted =
                status.is_object() ? condition(status.value("conditions", nlohmann::json::array()), "Accepted") : nullptr;
            return accepted.is_object() && accepted.value("status", "") == "True";
          },
          10s, 50ms));
      nlohmann::json listeners;
      CHECK(wait_until(
          [&] {
            auto gateway = api.get(std::string("/apis/") + kGroup + "/v1/namespaces/default/gateways/same-namespace");
            if (!gateway) return false;
            nlohmann::json status = gateway->value("status", nlohmann::json::object());
            if (!status.is_object()) return false;
            listeners = status.value("listeners", nlohmann::json::array());
            nlohmann::json programmed = condition(status.value("conditions", nlohmann::json::array()), "Programmed");
            return listeners.size() == 3 && programmed.is_object() && programmed.value("status", "") == "True";
          },
          10s, 50ms));
      INFO(listeners.dump(2));
      REQUIRE(listeners.size() == 3);
      // http: exact, regex, headers, weights, missing, cross, shared; wild: wild; elsewhere: not served.
      CHECK(listeners[0].value("attachedRoutes", -1) == 7);
      CHECK(listeners[1].value("attachedRoutes", -1) == 1);
      CHECK(listeners[2].value("attachedRoutes", -1) == 0);
      CHECK(condition(listeners[2]["conditions"], "Accepted").value("reason", "") == "PortUnavailable");
      CHECK(wait_route_condition(api, route_path("default", "exact"), "Accepted", "True"));
    }
  }
}

TEST_CASE("HTTPRoute: path, header, query and method matches, rewrite, redirect, response headers", "[gateway]") {
  GatewayWorld world(false);
  auto web = Pod::start_http(world.tmp().path(), "web-0");
  world.write_service("web", {web->endpoint()});
  world.write_yaml("gateway.yaml", gateway_class_yaml("grpc", "grpc-ingress.io/gateway-controller") + "---\n" + kGateway);
  world.write_yaml("route.yaml", R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: same-namespace, sectionName: http}]
  hostnames: [http.test]
  rules:
  - matches: [{path: {type: Exact, value: /exact}}]
    backendRefs: [{name: web, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: rewritten.test, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
    backendRefs: [{name: web, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /moved}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
  - matches: [{path: {value: /both}, method: GET, headers: [{name: X-Env, value: canary}], queryParams: [{name: debug, value: '1'}]}]
    filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-matched, value: all}]}}]
    backendRefs: [{name: web, port: 80}]
)");
  auto ingress = world.start();
  REQUIRE(ingress->wait_for_routes_containing("http.test", 10s));
  const std::string base = "http://127.0.0.1:" + std::to_string(ingress->http_port());
  auto curl = [&](const std::string& target, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"-H", "Host: http.test"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(base + target);
    return run_curl(world.tmp().path(), args);
  };

  CurlResult exact = curl("/exact");
  CHECK(exact.status == 200);
  CHECK(curl("/exact/more").status == 404);

  CurlResult rewritten = curl("/old/thing?q=1");
  REQUIRE(rewritten.status == 200);
  auto seen = nlohmann::json::parse(rewritten.body);
  CHECK(seen["path"] == "/new/thing?q=1");
  CHECK(seen["authority"] == "rewritten.test");

  CurlResult moved = curl("/moved/here?x=y");
  CHECK(moved.status == 301);
  CHECK(moved.header("location") == std::optional<std::string>("https://http.test/moved/here?x=y"));

  CurlResult both = curl("/both?debug=1", {"-H", "X-Env: canary"});
  CHECK(both.status == 200);
  CHECK(both.header("x-matched") == std::optional<std::string>("all"));
  CHECK(curl("/both?debug=1").status == 404);                                  // no header
  CHECK(curl("/both?debug=0", {"-H", "X-Env: canary"}).status == 404);         // query differs
  CHECK(curl("/both?debug=1", {"-H", "X-Env: canary", "-X", "POST"}).status == 404);  // method differs
}

TEST_CASE("without the Gateway API CRDs the controller serves Ingress, then picks them up when installed",
          "[gateway]") {
  GatewayWorld world(true, FakeApiServerOptions{.gateway_api = false});
  auto pods = start_pods(world.tmp().path(), "echo", 1);
  world.write_service("echo", endpoints_of(pods));
  world.write_ingress({.name = "web", .host = "ingress.test", .paths = {{.path = "/", .service = "echo"}}});
  auto ingress = world.start({.extra_args = {"--gateway-discovery-interval", "300ms"}});
  CHECK(echo_call(*ingress, "ingress.test").ok());
  CHECK(wait_until([&] { return log_of(*ingress).find("Gateway API CRDs not installed") != std::string::npos; },
                   5s, 50ms));

  world.api().install_gateway_api();
  world.write_yaml("gw.yaml", gateway_class_yaml("grpc", "grpc-ingress.io/gateway-controller") + "---\n" + kGateway +
                                  "---\n" + grpc_route("late", R"(
  parentRefs: [{name: same-namespace, sectionName: http}]
  hostnames: [late.test]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
)"));
  CHECK(wait_until([&] { return echo_call(*ingress, "late.test").ok(); }, 10s, 100ms));
  CHECK(echo_call(*ingress, "ingress.test").ok());
  // Said once, not every discovery interval.
  const std::string log = log_of(*ingress);
  size_t first = log.find("Gateway API CRDs not installed");
  CHECK(log.find("Gateway API CRDs not installed", first + 1) == std::string::npos);
}

}  // namespace grpc_ingress::testing
