#include "controller/translate/gateway_translator.h"
#include "controller/translate/translator.h"

#include "tests/unit/controller/manifest_fixture.h"

#include <catch2/catch.hpp>

#include <string>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

// The Gateway API conformance suite's shape: one GatewayClass of ours, one
// Gateway with an HTTP listener on port 80, routes in front of Services.
std::string gateway_base() {
  return service({.name = "grpc-echo", .endpoints = {endpoint("127.0.0.5", "echo-0")}}) +
         service({.name = "grpc-echo-v2", .endpoints = {endpoint("127.0.0.6", "echo-v2-0")}}) +
         service({.name = "backend", .endpoints = {endpoint("127.0.0.8", "infra-0")}, .namespace_name = "infra"}) + R"(
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: grpc, generation: 1}
spec: {controllerName: grpc-ingress.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: envoy}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default, generation: 3}
spec:
  gatewayClassName: grpc
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - {name: wild, protocol: HTTP, port: 80, hostname: '*.example.com'}
  - {name: other-port, protocol: HTTP, port: 8081}
  - {name: all-namespaces, protocol: HTTP, port: 80, hostname: 'all.example.org', allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: theirs, namespace: default}
spec:
  gatewayClassName: envoy
  listeners: [{name: http, protocol: HTTP, port: 80}]
)";
}

std::string grpc_route(const std::string& name, const std::string& spec, const std::string& namespace_name = "default") {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: " + name +
         ", namespace: " + namespace_name + ", generation: 2}\nspec:\n" + spec;
}

Translation translate_yaml(const std::string& manifests) {
  Store store;
  load_yaml(store, manifests);
  return translate(store, TranslatorOptions{});
}

std::string cluster_at(const Translation& t, const std::string& authority, const std::string& path) {
  const Route* route = t.table.match(authority, path);
  if (!route) return "(no route)";
  if (route->cluster == kNoCluster) return "(unusable)";
  return t.table.clusters[route->cluster]->name;
}

const Condition* find_condition(const std::vector<Condition>& conditions, const std::string& type) {
  for (const Condition& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

const RouteParentStatus& only_parent(const Translation& t, const std::string& route) {
  auto it = t.gateway_status->grpc_routes.find({"default", route});
  REQUIRE(it != t.gateway_status->grpc_routes.end());
  REQUIRE(it->second.size() == 1);
  return it->second.front();
}

}  // namespace

TEST_CASE("GRPCRoute method matches become paths: exact, service only, method only, regular expression",
          "[gateway_translator]") {
  Translation t = translate_yaml(gateway_base() + grpc_route("exact", R"(
  parentRefs: [{name: gw, sectionName: http}]
  rules:
  - matches: [{method: {service: grpc.examples.echo.Echo, method: UnaryEcho}}]
    backendRefs: [{name: grpc-echo-v2, port: 50051}]
  - matches: [{method: {service: grpc.examples.echo.Echo}}]
    backendRefs: [{name: grpc-echo, port: 50051}]
  - matches: [{method: {type: RegularExpression, service: 'grpc\.examples\..*', method: 'Server.*'}}]
    backendRefs: [{name: grpc-echo-v2, port: 50051}]
)"));
  INFO(t.table.to_json());
  CHECK(cluster_at(t, "any", "/grpc.examples.echo.Echo/UnaryEcho") == "default/grpc-echo-v2:50051");
  CHECK(cluster_at(t, "any", "/grpc.examples.echo.Echo/Other") == "default/grpc-echo:50051");
  CHECK(cluster_at(t, "any", "/grpc.examples.other.Svc/ServerStream") == "default/grpc-echo-v2:50051");
  CHECK(cluster_at(t, "any", "/grpc.examples.other.Svc/Client") == "(no route)");
  const RouteParentStatus& parent = only_parent(t, "exact");
  CHECK(parent.parent_ref.section_name == "http");
  REQUIRE(find_condition(parent.conditions, "Accepted"));
  CHECK(find_condition(parent.conditions, "Accepted")->status);
  CHECK(find_condition(parent.conditions, "Accepted")->observed_generation == 2);
  CHECK(find_condition(parent.conditions, "ResolvedRefs")->status);
}

TEST_CASE("listener hostnames intersect with route hostnames, a wildcard covering any depth",
          "[gateway_translator]") {
  CHECK(intersect_hostnames("*.example.com", {"a.example.com", "other.org"}) == std::vector<std::string>{"a.example.com"});
  CHECK(intersect_hostnames("a.example.com", {"*.example.com"}) == std::vector<std::string>{"a.example.com"});
  CHECK(intersect_hostnames("*.example.com", {"*.b.example.com"}) == std::vector<std::string>{"*.b.example.com"});
  CHECK(intersect_hostnames("", {"x.org"}) == std::vector<std::string>{"x.org"});
  CHECK(intersect_hostnames("*.example.com", {}) == std::vector<std::string>{"*.example.com"});
  CHECK(intersect_hostnames("*.example.com", {"example.com"}).empty());

  Translation t = translate_yaml(gateway_base() + grpc_route("wild", R"(
  parentRefs: [{name: gw, sectionName: wild}]
  hostnames: [a.example.com, other.org]
  rules: [{backendRefs: [{name: grpc-echo, port: 50051}]}]
)") + grpc_route("nomatch", R"(
  parentRefs: [{name: gw, sectionName: wild}]
  hostnames: [only.other.org]
  rules: [{backendRefs: [{name: grpc-echo, port: 50051}]}]
)"));
  CHECK(cluster_at(t, "a.example.com", "/x.Y/Z") == "default/grpc-echo:50051");
  CHECK(cluster_at(t, "other.org", "/x.Y/Z") == "(no route)");
  const Condition* accepted = find_condition(only_parent(t, "nomatch").conditions, "Accepted");
  REQUIRE(accepted);
  CHECK_FALSE(accepted->status);
  CHECK(accepted->reason == "NoMatchingListenerHostname");
}

TEST_CASE("listeners: our ports only, attached routes counted, another class's Gateway left alone",
          "[gateway_translator]") {
  Translation t = translate_yaml(gateway_base() + grpc_route("a", R"(
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: grpc-echo, port: 50051}]}]
)") + grpc_route("b", R"(
  parentRefs: [{name: gw, sectionName: http}, {name: theirs}]
  rules: [{backendRefs: [{name: grpc-echo, port: 50051}]}]
)"));
  const GatewayApiStatus& status = *t.gateway_status;
  CHECK(status.gateway_classes.count({"", "grpc"}) == 1);
  CHECK(status.gateway_classes.count({"", "envoy"}) == 0);
  CHECK(status.gateways.count({"default", "theirs"}) == 0);
  const GatewayStatus& gw = status.gateways.at({"default", "gw"});
  REQUIRE(gw.listeners.size() == 4);
  CHECK(gw.listeners[0].attached_routes == 2);  // http: a (whole Gateway) and b (by section)
  CHECK(gw.listeners[1].attached_routes == 1);  // wild: a
  CHECK(gw.listeners[2].attached_routes == 0);  // other-port: not served
  const Condition* port = find_condition(gw.listeners[2].conditions, "Accepted");
  CHECK_FALSE(port->status);
  CHECK(port->reason == "PortUnavailable");
  CHECK(find_condition(gw.conditions, "Programmed")->status);
  CHECK(find_condition(gw.conditions, "Accepted")->observed_generation == 3);
  // b names another controller's Gateway too: only our parent gets our status.
  CHECK(t.gateway_status->grpc_routes.at({"default", "b"}).size() == 1);
}

TEST_CASE("a route from another namespace attaches only where allowedRoutes lets it",
          "[gateway_translator]") {
  Translation t = translate_yaml(gateway_base() + grpc_route("foreign", R"(
  parentRefs: [{name: gw, namespace: default, sectionName: http}]
  rules: [{backendRefs: [{name: backend, port: 50051}]}]
)", "infra") + grpc_route("welcome", R"(
  parentRefs: [{name: gw, namespace: default, sectionName: all-namespaces}]
  rules: [{backendRefs: [{name: backend, port: 50051}]}]
)", "infra"));
  const auto& foreign = t.gateway_status->grpc_routes.at({"infra", "foreign"}).front();
  CHECK(find_condition(foreign.conditions, "Accepted")->reason == "NotAllowedByListeners");
  CHECK(cluster_at(t, "all.example.org", "/x.Y/Z") == "infra/backend:50051");
}

TEST_CASE("a backend in another namespace needs a ReferenceGrant, a missing Service is BackendNotFound",
          "[gateway_translator]") {
  std::string routes = grpc_route("cross", R"(
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [cross.test]
  rules: [{backendRefs: [{name: backend, namespace: infra, port: 50051}]}]
)") + grpc_route("missing", R"(
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [missing.test]
  rules: [{backendRefs: [{name: nowhere, port: 50051}]}]
)");
  Translation refused = translate_yaml(gateway_base() + routes);
  const Condition* refs = find_condition(only_parent(refused, "cross").conditions, "ResolvedRefs");
  CHECK_FALSE(refs->status);
  CHECK(refs->reason == "RefNotPermitted");
  CHECK(cluster_at(refused, "cross.test", "/x.Y/Z") == "(unusable)");
  const Condition* missing = find_condition(only_parent(refused, "missing").conditions, "ResolvedRefs");
  CHECK(missing->reason == "BackendNotFound");
  // Still routed, to a cluster without endpoints: callers get UNAVAILABLE.
  CHECK(cluster_at(refused, "missing.test", "/x.Y/Z") == "default/nowhere:50051");

  Translation granted = translate_yaml(gateway_base() + routes + R"(
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow-default, namespace: infra}
spec:
  from: [{group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: default}]
  to: [{group: '', kind: Service}]
)");
  CHECK(find_condition(only_parent(granted, "cross").conditions, "ResolvedRefs")->status);
  CHECK(cluster_at(granted, "cross.test", "/x.Y/Z") == "infra/backend:50051");
}

TEST_CASE("weighted backends, header matches and filters reach the route", "[gateway_translator]") {
  Translation t = translate_yaml(gateway_base() + grpc_route("split", R"(
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [split.test]
  rules:
  - matches: [{headers: [{name: X-Version, value: two}, {name: x-version, value: three}]}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Routed, value: 'yes'}]}}]
    backendRefs: [{name: grpc-echo-v2, port: 50051}]
  - backendRefs: [{name: grpc-echo, port: 50051, weight: 70}, {name: grpc-echo-v2, port: 50051, weight: 30}]
)"));
  const VirtualHost* host = t.table.host_routes("split.test");
  REQUIRE(host);
  REQUIRE(host->routes.size() == 2);
  const Route& by_header = host->routes[0];  // more header matches first
  REQUIRE(by_header.conditions);
  REQUIRE(by_header.conditions->headers.size() == 1);
  CHECK(by_header.conditions->headers[0].name == "x-version");
  CHECK(by_header.conditions->headers[0].value == "two");  // of equivalent names only the first counts
  REQUIRE(by_header.filters);
  CHECK(by_header.filters->request_headers.set == std::vector<std::pair<std::string, std::string>>{{"x-routed", "yes"}});
  const Route& split = host->routes[1];
  REQUIRE(split.backends.size() == 2);
  CHECK(split.backends[0].weight == 70);
  CHECK(split.backends[1].weight == 30);
}

TEST_CASE("an Ingress and a GRPCRoute for the same host are both served, also after the Ingress changes",
          "[gateway_translator]") {
  std::string shared = gateway_base() + grpc_route("echo", R"(
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [shared.test]
  rules: [{matches: [{method: {service: grpc.examples.echo.Echo}}], backendRefs: [{name: grpc-echo, port: 50051}]}]
)");
  auto with_ingress = [&](const std::string& path) {
    return shared + ingress({.name = "ing", .rules = {rule("shared.test", {testing::path(path, "Prefix", "grpc-echo-v2", "50051")})}});
  };
  Store store;
  load_yaml(store, with_ingress("/helloworld.Greeter"));
  Translator translator(TranslatorOptions{});
  Translation first = translator.translate(store, store.take_changes());
  CHECK(cluster_at(first, "shared.test", "/grpc.examples.echo.Echo/UnaryEcho") == "default/grpc-echo:50051");
  CHECK(cluster_at(first, "shared.test", "/helloworld.Greeter/SayHello") == "default/grpc-echo-v2:50051");

  // Only the Ingress changes: a merge of that host keeps the route's rules on it.
  Store next;
  load_yaml(next, with_ingress("/helloworld.GreeterV2"));
  for (const auto& [key, ing] : next.ingresses()) store.upsert(ing);
  Translation second = translator.translate(store, store.take_changes());
  CHECK(cluster_at(second, "shared.test", "/grpc.examples.echo.Echo/UnaryEcho") == "default/grpc-echo:50051");
  CHECK(cluster_at(second, "shared.test", "/helloworld.GreeterV2/SayHello") == "default/grpc-echo-v2:50051");
  CHECK(cluster_at(second, "shared.test", "/helloworld.Greeter/SayHello") == "(no route)");
}
