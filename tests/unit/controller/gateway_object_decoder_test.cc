// The Gateway API kinds (gateway_object_decoder.cc), as decode_object reads them.
#include "controller/object_decoder.h"

#include "tests/unit/controller/decoded.h"

#include <catch2/catch.hpp>

#include <string>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;
using nlohmann::json;

namespace {

// By value: the decoded object is a temporary of the caller's expression.
template <typename T>
T decoded_as(const std::optional<Object>& object) {
  REQUIRE(object.has_value());
  if (const auto* invalid = std::get_if<InvalidObject>(&*object)) FAIL("invalid: " << invalid->reason);
  REQUIRE(std::holds_alternative<T>(*object));
  return std::get<T>(*object);
}

std::string gateway_api(const std::string& kind, const std::string& rest,
                        const std::string& version = "gateway.networking.k8s.io/v1") {
  return R"({"apiVersion": ")" + version + R"(", "kind": ")" + kind + R"(", "metadata": {"name": "x"}, )" + rest + "}";
}

}  // namespace

TEST_CASE("decoder reads a Namespace's labels and a GatewayClass", "[decoder][gateway]") {
  const auto& ns = decoded_as<Namespace>(decode_object(parse(R"({"apiVersion": "v1", "kind": "Namespace",
      "metadata": {"name": "team-a", "labels": {"expose-apps": "true"}, "generation": 3}})")));
  CHECK(ns.metadata.key() == ObjectKey{"", "team-a"});
  CHECK(ns.metadata.labels.at("expose-apps") == "true");
  CHECK(ns.metadata.generation == 3);

  const auto& gateway_class = decoded_as<GatewayClass>(decode_object(parse(R"({
      "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
      "metadata": {"name": "grpc", "generation": 2},
      "spec": {"controllerName": "grpc-ingress.io/gateway-controller", "description": "ours"}})")));
  CHECK(gateway_class.metadata.key() == ObjectKey{"", "grpc"});  // cluster-scoped
  CHECK(gateway_class.metadata.generation == 2);
  CHECK(gateway_class.controller_name == "grpc-ingress.io/gateway-controller");
}

TEST_CASE("decoder reads a Gateway with its listeners and the CRD's defaults", "[decoder][gateway]") {
  // The Gateway API docs' HTTP + HTTPS example, and a namespace-selector listener.
  const auto& gateway = decoded_as<Gateway>(decode_object(parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
    "metadata": {"name": "example-gateway", "namespace": "infra", "generation": 7},
    "spec": {
      "gatewayClassName": "grpc",
      "listeners": [
        {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example.com"},
        {"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "*.example.com",
         "tls": {"mode": "Terminate", "certificateRefs": [
           {"kind": "Secret", "name": "example-com"},
           {"group": "", "name": "other", "namespace": "certs"}]}},
        {"name": "prod-web", "port": 8080, "protocol": "HTTP",
         "allowedRoutes": {
           "kinds": [{"kind": "GRPCRoute"}, {"group": "example.net", "kind": "Custom"}],
           "namespaces": {"from": "Selector", "selector": {
             "matchLabels": {"expose-apps": "true"},
             "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "staging"]}]}}}},
        {"name": "all", "port": 9090, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}},
        {"name": "tls", "port": 8443, "protocol": "TLS", "tls": {"mode": "Passthrough"}}]}})")));
  CHECK(gateway.metadata.key() == ObjectKey{"infra", "example-gateway"});
  CHECK(gateway.metadata.generation == 7);
  CHECK(gateway.gateway_class_name == "grpc");
  REQUIRE(gateway.listeners.size() == 5);

  const GatewayListener& http = gateway.listeners[0];
  CHECK(http.name == "http");
  CHECK(http.hostname == "*.example.com");
  CHECK(http.port == 80);
  CHECK(http.protocol == "HTTP");
  CHECK(http.routes_from == RoutesFrom::kSame);  // allowedRoutes' default
  CHECK(http.route_kinds.empty());
  CHECK(http.certificate_refs.empty());

  const GatewayListener& https = gateway.listeners[1];
  CHECK(https.tls_mode == "Terminate");
  REQUIRE(https.certificate_refs.size() == 2);
  CHECK(https.certificate_refs[0] == ObjectReference{"", "Secret", "example-com", "", 0});
  CHECK(https.certificate_refs[1] == ObjectReference{"", "Secret", "other", "certs", 0});

  const GatewayListener& selected = gateway.listeners[2];
  CHECK(selected.routes_from == RoutesFrom::kSelector);
  CHECK(selected.routes_selector.match_labels == std::map<std::string, std::string>{{"expose-apps", "true"}});
  REQUIRE(selected.routes_selector.match_expressions.size() == 1);
  CHECK(selected.routes_selector.match_expressions[0] ==
        LabelSelectorRequirement{"env", "In", {"prod", "staging"}});
  REQUIRE(selected.route_kinds.size() == 2);
  CHECK(selected.route_kinds[0] == RouteGroupKind{std::string(kGatewayGroup), "GRPCRoute"});
  CHECK(selected.route_kinds[1] == RouteGroupKind{"example.net", "Custom"});

  CHECK(gateway.listeners[3].routes_from == RoutesFrom::kAll);
  CHECK(gateway.listeners[4].tls_mode == "Passthrough");
}

TEST_CASE("decoder reads a GRPCRoute", "[decoder][gateway]") {
  const auto& route = decoded_as<GRPCRoute>(decode_object(parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
    "metadata": {"name": "foo-route", "namespace": "apps", "generation": 4,
                 "creationTimestamp": "2024-05-01T10:00:00Z"},
    "spec": {
      "parentRefs": [
        {"name": "example-gateway"},
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra",
         "name": "shared", "sectionName": "https", "port": 443}],
      "hostnames": ["foo.example.com", "*.example.net"],
      "rules": [
        {"name": "login",
         "matches": [
           {"method": {"service": "com.example.User", "method": "Login"},
            "headers": [{"name": "version", "value": "2"},
                        {"type": "RegularExpression", "name": "x-tenant", "value": "t-[0-9]+"}]},
           {"method": {"type": "RegularExpression", "service": "com\\.example\\..*"}},
           {"method": {"method": "Health"}},
           {"headers": [{"name": "canary", "value": "yes"}]}],
         "filters": [
           {"type": "RequestHeaderModifier", "requestHeaderModifier": {
              "set": [{"name": "x-route", "value": "login"}], "add": [{"name": "x-extra", "value": "a b"}],
              "remove": ["x-debug"]}},
           {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"remove": ["server"]}},
           {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "shadow", "port": 50051}}},
           {"type": "ExtensionRef", "extensionRef": {"group": "example.net", "kind": "Auth", "name": "a"}}],
         "backendRefs": [
           {"name": "foo-v1", "port": 50051, "weight": 90},
           {"name": "foo-v2", "namespace": "canary", "port": 50051, "weight": 10,
            "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"remove": ["a"]}}]},
           {"group": "multicluster.x-k8s.io", "kind": "ServiceImport", "name": "remote"}]},
        {"backendRefs": [{"name": "fallback", "port": 8080}]}]}})")));
  CHECK(route.metadata.key() == ObjectKey{"apps", "foo-route"});
  CHECK(route.metadata.generation == 4);
  CHECK(route.metadata.creation_timestamp.time_since_epoch().count() == 1714557600);

  REQUIRE(route.parent_refs.size() == 2);
  CHECK(route.parent_refs[0] == ParentReference{std::string(kGatewayGroup), "Gateway", "", "example-gateway", "", 0});
  CHECK(route.parent_refs[1] == ParentReference{std::string(kGatewayGroup), "Gateway", "infra", "shared", "https", 443});
  CHECK(route.hostnames == std::vector<std::string>{"foo.example.com", "*.example.net"});
  REQUIRE(route.rules.size() == 2);

  const RouteRule<GrpcRouteMatch>& rule = route.rules[0];
  CHECK(rule.name == "login");
  REQUIRE(rule.matches.size() == 4);
  CHECK(rule.matches[0].method_type == StringMatchType::kExact);
  CHECK(rule.matches[0].service == "com.example.User");
  CHECK(rule.matches[0].method == "Login");
  REQUIRE(rule.matches[0].headers.size() == 2);
  CHECK(rule.matches[0].headers[0] == ValueMatch{StringMatchType::kExact, "version", "2"});
  CHECK(rule.matches[0].headers[1] == ValueMatch{StringMatchType::kRegularExpression, "x-tenant", "t-[0-9]+"});
  CHECK(rule.matches[1].method_type == StringMatchType::kRegularExpression);
  CHECK(rule.matches[1].service == "com\\.example\\..*");
  CHECK(rule.matches[1].method.empty());
  CHECK(rule.matches[2].service.empty());  // a method of any service
  CHECK(rule.matches[2].method == "Health");
  CHECK(rule.matches[3] == GrpcRouteMatch{StringMatchType::kExact, "", "", {{StringMatchType::kExact, "canary", "yes"}}});

  REQUIRE(rule.filters.size() == 4);
  CHECK(rule.filters[0].type == "RequestHeaderModifier");
  CHECK(rule.filters[0].headers ==
        HeaderChanges{{{"x-route", "login"}}, {{"x-extra", "a b"}}, {"x-debug"}});
  CHECK(rule.filters[1].type == "ResponseHeaderModifier");
  CHECK(rule.filters[1].headers.remove == std::vector<std::string>{"server"});
  CHECK(rule.filters[2].type == "RequestMirror");
  CHECK(rule.filters[2].mirror == ObjectReference{"", "Service", "shadow", "", 50051});
  CHECK(rule.filters[3] == RouteFilter{.type = "ExtensionRef"});  // kept for the translator to report

  REQUIRE(rule.backends.size() == 3);
  CHECK(rule.backends[0] == RouteBackend{{"", "Service", "foo-v1", "", 50051}, 90, false});
  CHECK(rule.backends[1] == RouteBackend{{"", "Service", "foo-v2", "canary", 50051}, 10, true});
  CHECK(rule.backends[2] == RouteBackend{{"multicluster.x-k8s.io", "ServiceImport", "remote", "", 0}, 1, false});

  CHECK(route.rules[1].matches.empty());  // every call; the translator applies the default
  CHECK(route.rules[1].backends == std::vector<RouteBackend>{{{"", "Service", "fallback", "", 8080}, 1, false}});
}

TEST_CASE("decoder reads an HTTPRoute", "[decoder][gateway]") {
  const auto& route = decoded_as<HTTPRoute>(decode_object(parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "web"},
    "spec": {
      "parentRefs": [{"name": "example-gateway", "sectionName": "http"}],
      "hostnames": ["www.example.com"],
      "rules": [
        {"matches": [
           {"path": {"type": "Exact", "value": "/healthz"}, "method": "GET",
            "headers": [{"name": "accept", "value": "text/plain"}],
            "queryParams": [{"name": "verbose", "value": "1"},
                            {"type": "RegularExpression", "name": "v", "value": "[0-9]+"}]},
           {"path": {"type": "RegularExpression", "value": "/api/v[0-9]+/.*"}},
           {"path": {"value": "/prefix"}},
           {"path": {"type": "Exact"}},
           {"headers": [{"name": "x-canary", "value": "1"}]}],
         "filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "shadow", "port": 80}, "percent": 10}},
                     {"type": "CORS", "cors": {"allowOrigins": ["*"]}}],
         "backendRefs": [{"name": "web", "port": 8080}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
         "filters": [{"type": "RequestRedirect", "requestRedirect": {
           "scheme": "https", "hostname": "new.example.com", "port": 8443, "statusCode": 301,
           "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/cardamom"}}],
         "filters": [{"type": "URLRewrite", "urlRewrite": {"hostname": "elsewhere.example",
           "path": {"type": "ReplaceFullPath", "replaceFullPath": "/fennel"}}}],
         "backendRefs": [{"name": "example-svc", "port": 80, "weight": 0}]},
        {"filters": [{"type": "RequestRedirect", "requestRedirect": {}}]}]}})")));
  REQUIRE(route.parent_refs.size() == 1);
  CHECK(route.parent_refs[0].section_name == "http");
  REQUIRE(route.rules.size() == 4);

  const auto& matches = route.rules[0].matches;
  REQUIRE(matches.size() == 5);
  CHECK(matches[0].path_type == StringMatchType::kExact);
  CHECK(matches[0].path == "/healthz");
  CHECK(matches[0].method == "GET");
  CHECK(matches[0].headers == std::vector<ValueMatch>{{StringMatchType::kExact, "accept", "text/plain"}});
  CHECK(matches[0].query_params == std::vector<ValueMatch>{{StringMatchType::kExact, "verbose", "1"},
                                                           {StringMatchType::kRegularExpression, "v", "[0-9]+"}});
  CHECK(matches[1].path_type == StringMatchType::kRegularExpression);
  CHECK(matches[1].path == "/api/v[0-9]+/.*");
  CHECK(matches[2].path_type == StringMatchType::kPrefix);  // type defaults to PathPrefix
  CHECK(matches[2].path == "/prefix");
  CHECK(matches[3].path_type == StringMatchType::kExact);
  CHECK(matches[3].path == "/");  // value defaults to "/"
  CHECK(matches[4].path_type == StringMatchType::kPrefix);  // no path: PathPrefix "/"
  CHECK(matches[4].path == "/");
  CHECK(matches[4].method.empty());

  REQUIRE(route.rules[0].filters.size() == 2);
  CHECK(route.rules[0].filters[0].mirror == ObjectReference{"", "Service", "shadow", "", 80});
  CHECK(route.rules[0].filters[1] == RouteFilter{.type = "CORS"});

  const RouteFilter& redirect = route.rules[1].filters.at(0);
  CHECK(redirect.type == "RequestRedirect");
  CHECK(redirect.scheme == "https");
  CHECK(redirect.hostname == "new.example.com");
  CHECK(redirect.port == 8443);
  CHECK(redirect.status_code == 301);
  CHECK(redirect.path == PathModifier{PathModifier::Type::kReplacePrefixMatch, "/new"});
  CHECK(route.rules[1].backends.empty());

  const RouteFilter& rewrite = route.rules[2].filters.at(0);
  CHECK(rewrite.type == "URLRewrite");
  CHECK(rewrite.hostname == "elsewhere.example");
  CHECK(rewrite.path == PathModifier{PathModifier::Type::kReplaceFullPath, "/fennel"});
  CHECK(route.rules[2].backends.at(0).weight == 0);

  const RouteFilter& bare_redirect = route.rules[3].filters.at(0);
  CHECK(bare_redirect == RouteFilter{.type = "RequestRedirect"});  // status 302, the request's scheme, host, path
  CHECK(bare_redirect.status_code == 302);
  CHECK(route.rules[3].matches.empty());
}

TEST_CASE("decoder applies the Gateway API CRDs' defaults", "[decoder][gateway]") {
  SECTION("an HTTPRoute without rules has one rule matching every path") {
    const auto& route = decoded_as<HTTPRoute>(decode_object(parse(gateway_api("HTTPRoute", R"("spec": {})"))));
    REQUIRE(route.rules.size() == 1);
    CHECK(route.rules[0].matches == std::vector<HttpRouteMatch>{HttpRouteMatch{}});
    CHECK(route.rules[0].backends.empty());
  }
  SECTION("a GRPCRoute without spec has no rules, parents or hostnames") {
    const auto& route = decoded_as<GRPCRoute>(decode_object(parse(gateway_api("GRPCRoute", R"("spec": null)"))));
    CHECK(route == GRPCRoute{route.metadata, {}, {}, {}});
    CHECK(route.metadata.namespace_name == "default");
  }
  SECTION("a listener's tls without mode terminates; allowedRoutes without from is Same") {
    const auto& gateway = decoded_as<Gateway>(decode_object(parse(gateway_api("Gateway", R"("spec": {
        "gatewayClassName": "c", "listeners": [{"name": "a", "port": 443, "protocol": "HTTPS",
        "tls": {"certificateRefs": [{"name": "cert"}]}, "allowedRoutes": {"namespaces": {}}}]})"))));
    CHECK(gateway.listeners[0].tls_mode == "Terminate");
    CHECK(gateway.listeners[0].routes_from == RoutesFrom::kSame);
    CHECK(gateway.listeners[0].certificate_refs[0] == ObjectReference{"", "Secret", "cert", "", 0});
  }
  SECTION("an HTTPS listener without tls is kept for the translator to report") {
    const auto& gateway = decoded_as<Gateway>(decode_object(parse(gateway_api("Gateway", R"("spec": {
        "gatewayClassName": "c", "listeners": [{"name": "a", "port": 443, "protocol": "HTTPS"}]})"))));
    CHECK(gateway.listeners[0].certificate_refs.empty());
  }
  SECTION("a name may be 253 characters in one part, as Kubernetes allows (the conformance tests use one)") {
    std::string name = "gateway-name-maximum-length-" + std::string(253 - 28, 'a');
    const auto& gateway = decoded_as<Gateway>(decode_object(parse(R"({"apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway", "metadata": {"name": ")" + name + R"("}, "spec": {"gatewayClassName": "c",
        "listeners": [{"name": "a", "port": 80, "protocol": "HTTP"}]}})")));
    CHECK(gateway.metadata.name == name);
    CHECK_THAT(reason_of(decode_object(parse(R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": ")" +
                                             name + "a" + R"("}})"))),
               Catch::Matchers::Contains("is not a valid name"));
  }
  SECTION("metadata.generation is read for every kind; absent it is 0") {
    const auto& service = decoded_as<Service>(decode_object(parse(R"({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "s", "generation": 12}})")));
    CHECK(service.metadata.generation == 12);
    const auto& ingress = decoded_as<Ingress>(decode_object(parse(
        R"({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "a"}})")));
    CHECK(ingress.metadata.generation == 0);
  }
}

TEST_CASE("decoder reads a ReferenceGrant at v1beta1 and v1", "[decoder][gateway]") {
  for (std::string version : {"gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1"}) {
    DYNAMIC_SECTION(version) {
      const auto& grant = decoded_as<ReferenceGrant>(decode_object(parse(R"({
        "apiVersion": ")" + version + R"(", "kind": "ReferenceGrant",
        "metadata": {"name": "allow-prod-traffic", "namespace": "backends"},
        "spec": {
          "from": [{"group": "gateway.networking.k8s.io", "kind": "GRPCRoute", "namespace": "prod"},
                   {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra"}],
          "to": [{"group": "", "kind": "Service"}, {"group": "", "kind": "Secret", "name": "cert"}]}})")));
      CHECK(grant.metadata.key() == ObjectKey{"backends", "allow-prod-traffic"});
      CHECK(grant.from == std::vector<ReferenceGrantFrom>{{std::string(kGatewayGroup), "GRPCRoute", "prod"},
                                                          {std::string(kGatewayGroup), "Gateway", "infra"}});
      CHECK(grant.to == std::vector<ReferenceGrantTo>{{"", "Service", ""}, {"", "Secret", "cert"}});
    }
  }
}

TEST_CASE("decoder accepts the older Gateway API versions served with the same schema", "[decoder][gateway]") {
  CHECK(std::holds_alternative<HTTPRoute>(*decode_object(
      parse(gateway_api("HTTPRoute", R"("spec": {})", "gateway.networking.k8s.io/v1beta1")))));
  CHECK(std::holds_alternative<GRPCRoute>(*decode_object(
      parse(gateway_api("GRPCRoute", R"("spec": {})", "gateway.networking.k8s.io/v1alpha2")))));
  CHECK(std::holds_alternative<GatewayClass>(*decode_object(parse(gateway_api(
      "GatewayClass", R"("spec": {"controllerName": "a.io/b"})", "gateway.networking.k8s.io/v1beta1")))));
  CHECK_THAT(reason_of(decode_object(parse(gateway_api("Gateway", R"("spec": {})", "gateway.networking.k8s.io/v1alpha2")))),
             Catch::Matchers::Equals("apiVersion: 'gateway.networking.k8s.io/v1alpha2' is not supported for Gateway; "
                                     "use gateway.networking.k8s.io/v1"));
  CHECK_THAT(reason_of(decode_object(parse(gateway_api("HTTPRoute", R"("spec": {})", "networking.k8s.io/v1")))),
             Catch::Matchers::Contains("is not supported for HTTPRoute"));
  // Typed list items may leave apiVersion and kind out.
  Object item = decode_object_as(ObjectKind::kGRPCRoute, parse(R"({"metadata": {"name": "r"}})"));
  CHECK(std::holds_alternative<GRPCRoute>(item));
}

TEST_CASE("decoder rejects Gateway API objects with the field at fault", "[decoder][gateway]") {
  struct Case {
    std::string rule;
    std::string json;
    std::string reason;
  };
  auto gateway = [](const std::string& listeners) {
    return gateway_api("Gateway", R"("spec": {"gatewayClassName": "c", "listeners": )" + listeners + "}");
  };
  auto grpc_rules = [](const std::string& rules) {
    return gateway_api("GRPCRoute", R"("spec": {"rules": )" + rules + "}");
  };
  auto http_rules = [](const std::string& rules) {
    return gateway_api("HTTPRoute", R"("spec": {"rules": )" + rules + "}");
  };
  auto grpc_match = [&](const std::string& match) { return grpc_rules(R"([{"matches": [)" + match + "]}]"); };
  auto http_match = [&](const std::string& match) { return http_rules(R"([{"matches": [)" + match + "]}]"); };
  auto http_filter = [&](const std::string& filter) { return http_rules(R"([{"filters": [)" + filter + "]}]"); };
  auto backend = [&](const std::string& ref) { return grpc_rules(R"([{"backendRefs": [)" + ref + "]}]"); };
  std::string sixteen_rules = "[{}";
  for (int i = 0; i < 16; ++i) sixteen_rules += ", {}";
  sixteen_rules += "]";
  std::string many_matches = "[";
  for (int rule = 0; rule < 3; ++rule) {
    many_matches += rule ? ", {\"matches\": [" : "{\"matches\": [";
    for (int i = 0; i < 50; ++i) many_matches += i ? ", {}" : "{}";
    many_matches += "]}";
  }
  many_matches += "]";

  const Case cases[] = {
      // GatewayClass, Gateway
      {"a GatewayClass needs a controllerName", gateway_api("GatewayClass", R"("spec": {})"),
       "spec: controllerName is required"},
      {"a controllerName is domain/path", gateway_api("GatewayClass", R"("spec": {"controllerName": "mine"})"),
       "spec.controllerName: 'mine' is not a valid controller name"},
      {"a Gateway needs a gatewayClassName", gateway_api("Gateway", R"("spec": {"listeners": []})"),
       "spec: gatewayClassName is required"},
      {"a Gateway needs listeners", gateway_api("Gateway", R"("spec": {"gatewayClassName": "c"})"),
       "spec: listeners is required"},
      {"a Gateway needs at least one listener", gateway("[]"), "spec.listeners: must have at least 1 item"},
      {"a listener needs a name", gateway(R"([{"port": 80, "protocol": "HTTP"}])"),
       "spec.listeners[0]: name is required"},
      {"a listener port must be in range", gateway(R"([{"name": "a", "port": 0, "protocol": "HTTP"}])"),
       "spec.listeners[0].port: must be an integer in 1..65535"},
      {"a listener needs a protocol", gateway(R"([{"name": "a", "port": 80}])"),
       "spec.listeners[0]: protocol is required"},
      {"a listener hostname is a lower-case DNS name",
       gateway(R"([{"name": "a", "port": 80, "protocol": "HTTP", "hostname": "Foo.example.com"}])"),
       "spec.listeners[0].hostname: 'Foo.example.com' is not a valid hostname"},
      {"a wildcard covers whole labels",
       gateway(R"([{"name": "a", "port": 80, "protocol": "HTTP", "hostname": "*foo.example.com"}])"),
       "spec.listeners[0].hostname: '*foo.example.com' is not a valid hostname"},
      {"an unknown tls mode",
       gateway(R"([{"name": "a", "port": 443, "protocol": "TLS", "tls": {"mode": "Reencrypt"}}])"),
       "spec.listeners[0].tls.mode: 'Reencrypt' is not Terminate or Passthrough"},
      {"HTTPS terminates",
       gateway(R"([{"name": "a", "port": 443, "protocol": "HTTPS", "tls": {"mode": "Passthrough"}}])"),
       "spec.listeners[0].tls.mode: must be Terminate for protocol HTTPS"},
      {"HTTP takes no tls",
       gateway(R"([{"name": "a", "port": 80, "protocol": "HTTP", "tls": {"certificateRefs": [{"name": "c"}]}}])"),
       "spec.listeners[0].tls: must not be set for protocol HTTP"},
      {"Terminate needs a certificate",
       gateway(R"([{"name": "a", "port": 443, "protocol": "HTTPS", "tls": {}}])"),
       "spec.listeners[0].tls: certificateRefs or options must be specified when mode is Terminate"},
      {"a certificateRef needs a name",
       gateway(R"([{"name": "a", "port": 443, "protocol": "HTTPS", "tls": {"certificateRefs": [{"kind": "Secret"}]}}])"),
       "spec.listeners[0].tls.certificateRefs[0]: name is required"},
      {"a certificateRef namespace is a namespace name",
       gateway(R"([{"name": "a", "port": 443, "protocol": "HTTPS",
                   "tls": {"certificateRefs": [{"name": "c", "namespace": "a.b"}]}}])"),
       "spec.listeners[0].tls.certificateRefs[0].namespace: 'a.b' is not a valid namespace"},
      {"routes come from All, Selector or Same",
       gateway(R"([{"name": "a", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "None"}}}])"),
       "spec.listeners[0].allowedRoutes.namespaces.from: 'None' is not All, Selector or Same"},
      {"from Selector needs a selector",
       gateway(R"([{"name": "a", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Selector"}}}])"),
       "spec.listeners[0].allowedRoutes.namespaces: selector is required when from is Selector"},
      {"a selector's labels are strings",
       gateway(R"([{"name": "a", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {
           "from": "Selector", "selector": {"matchLabels": {"expose": true}}}}}])"),
       "spec.listeners[0].allowedRoutes.namespaces.selector.matchLabels.expose: must be a string"},
      {"an allowed kind needs a kind",
       gateway(R"([{"name": "a", "port": 80, "protocol": "HTTP", "allowedRoutes": {"kinds": [{"group": "x.io"}]}}])"),
       "spec.listeners[0].allowedRoutes.kinds[0]: kind is required"},
      {"listener names are unique",
       gateway(R"([{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "a", "port": 81, "protocol": "HTTP"}])"),
       "spec.listeners[1].name: is also the name of listeners[0]"},
      {"listeners differ in port, protocol or hostname",
       gateway(R"([{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "b", "port": 80, "protocol": "HTTP"}])"),
       "spec.listeners[1]: port, protocol and hostname are the same as listeners[0]'s"},
      // Routes: parents, hostnames, bounds
      {"a parentRef needs a name", gateway_api("GRPCRoute", R"("spec": {"parentRefs": [{"sectionName": "a"}]})"),
       "spec.parentRefs[0]: name is required"},
      {"two refs to one parent need section names",
       gateway_api("HTTPRoute", R"("spec": {"parentRefs": [{"name": "g"}, {"name": "g", "sectionName": "a"}]})"),
       "spec.parentRefs[1]: names the parent of parentRefs[0]: both must give a sectionName or port"},
      {"two refs to one parent differ",
       gateway_api("HTTPRoute", R"("spec": {"parentRefs": [{"name": "g", "sectionName": "a"}, {"name": "g", "sectionName": "a"}]})"),
       "spec.parentRefs[1]: names the parent of parentRefs[0] with the same sectionName and port"},
      {"a parentRef port is in range", gateway_api("GRPCRoute", R"("spec": {"parentRefs": [{"name": "g", "port": 70000}]})"),
       "spec.parentRefs[0].port: must be an integer in 1..65535"},
      {"route hostnames are DNS names", gateway_api("GRPCRoute", R"("spec": {"hostnames": ["a_b.example.com"]})"),
       "spec.hostnames[0]: 'a_b.example.com' is not a valid hostname"},
      {"route hostnames carry no port", gateway_api("GRPCRoute", R"("spec": {"hostnames": ["example.com:443"]})"),
       "spec.hostnames[0]: 'example.com:443' is not a valid hostname"},
      {"at most 16 rules", grpc_rules(sixteen_rules), "spec.rules: must have at most 16 items"},
      {"at most 128 matches across the rules", grpc_rules(many_matches),
       "spec.rules: must hold at most 128 matches across all rules"},
      {"an HTTPRoute's rules are not empty", http_rules("[]"), "spec.rules: must have at least 1 item"},
      // GRPCRoute matches
      {"a method match names a service or method", grpc_match(R"({"method": {}})"),
       "spec.rules[0].matches[0].method: one or both of service or method must be specified"},
      {"a method match type is Exact or RegularExpression", grpc_match(R"({"method": {"type": "Prefix", "service": "a"}})"),
       "spec.rules[0].matches[0].method.type: 'Prefix' is not Exact or RegularExpression"},
      {"an exact service is a gRPC service name", grpc_match(R"({"method": {"service": "helloworld/Greeter"}})"),
       "spec.rules[0].matches[0].method.service: 'helloworld/Greeter' is not a valid gRPC service name"},
      {"an exact method is a gRPC method name", grpc_match(R"({"method": {"service": "a.B", "method": "Say Hello"}})"),
       "spec.rules[0].matches[0].method.method: 'Say Hello' is not a valid gRPC method name"},
      {"a header match needs a value", grpc_match(R"({"headers": [{"name": "a"}]})"),
       "spec.rules[0].matches[0].headers[0]: value is required"},
      {"a header match value is not empty", grpc_match(R"({"headers": [{"name": "a", "value": ""}]})"),
       "spec.rules[0].matches[0].headers[0].value: '' is not a valid value"},
      {"a header match name is a token", grpc_match(R"({"headers": [{"name": "a b", "value": "1"}]})"),
       "spec.rules[0].matches[0].headers[0].name: 'a b' is not a valid header name"},
      {"a header match type is Exact or RegularExpression",
       grpc_match(R"({"headers": [{"type": "Prefix", "name": "a", "value": "1"}]})"),
       "spec.rules[0].matches[0].headers[0].type: 'Prefix' is not Exact or RegularExpression"},
      {"a match is an object", grpc_match(R"("x")"), "spec.rules[0].matches[0]: must be an object"},
      // HTTPRoute matches
      {"a path type we do not know", http_match(R"({"path": {"type": "Glob", "value": "/a"}})"),
       "spec.rules[0].matches[0].path.type: 'Glob' is not Exact, PathPrefix or RegularExpression"},
      {"an exact path is absolute", http_match(R"({"path": {"type": "Exact", "value": "a"}})"),
       "spec.rules[0].matches[0].path.value: must be an absolute path and start with '/'"},
      {"a prefix path has no dot segment", http_match(R"({"path": {"value": "/a/../b"}})"),
       "spec.rules[0].matches[0].path.value: must not contain '/../'"},
      {"a path has no encoded slash", http_match(R"({"path": {"value": "/a%2Fb"}})"),
       "spec.rules[0].matches[0].path.value: must not contain '%2F'"},
      {"a path does not end in a dot segment", http_match(R"({"path": {"value": "/a/."}})"),
       "spec.rules[0].matches[0].path.value: must not end with '/.'"},
      {"a path has only path characters", http_match(R"({"path": {"value": "/a b"}})"),
       "spec.rules[0].matches[0].path.value: '/a b' has a character a path may not carry"},
      {"a path has no control characters", http_match(R"({"path": {"type": "RegularExpression", "value": "/a\r\n"}})"),
       "spec.rules[0].matches[0].path.value: '/a\\x0d\\x0a' is not a valid path"},
      {"an unknown method", http_match(R"({"method": "FETCH"})"),
       "spec.rules[0].matches[0].method: 'FETCH' is not GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE or PATCH"},
      {"a query parameter value is at most 1024 characters",
       http_match(R"({"queryParams": [{"name": "q", "value": ")" + std::string(1025, 'x') + R"("}]})"),
       "spec.rules[0].matches[0].queryParams[0].value: 'xxxx"},
      // Filters
      {"a filter needs a type", http_filter(R"({"requestHeaderModifier": {}})"),
       "spec.rules[0].filters[0]: type is required"},
      {"a filter's type selects its member", http_filter(R"({"type": "RequestHeaderModifier"})"),
       "spec.rules[0].filters[0]: requestHeaderModifier is required for type RequestHeaderModifier"},
      {"a filter holds only its type's member",
       http_filter(R"({"type": "RequestHeaderModifier", "requestHeaderModifier": {}, "urlRewrite": {}})"),
       "spec.rules[0].filters[0].urlRewrite: must not be set for type RequestHeaderModifier"},
      {"a header to set needs a value",
       http_filter(R"({"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "a"}]}})"),
       "spec.rules[0].filters[0].requestHeaderModifier.set[0]: value is required"},
      {"a header value has no line break",
       http_filter(R"({"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "a", "value": "x\r\ny: z"}]}})"),
       "spec.rules[0].filters[0].responseHeaderModifier.add[0].value: 'x\\x0d\\x0ay: z' is not a valid header value"},
      {"a header to remove is a header name",
       http_filter(R"({"type": "RequestHeaderModifier", "requestHeaderModifier": {"remove": ["a:b"]}})"),
       "spec.rules[0].filters[0].requestHeaderModifier.remove[0]: 'a:b' is not a valid header name"},
      {"at most 16 headers to set",
       http_filter(R"({"type": "RequestHeaderModifier", "requestHeaderModifier": {"remove": [
           "a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}})"),
       "spec.rules[0].filters[0].requestHeaderModifier.remove: must have at most 16 items"},
      {"a mirror needs a backendRef", http_filter(R"({"type": "RequestMirror", "requestMirror": {}})"),
       "spec.rules[0].filters[0].requestMirror: backendRef is required"},
      {"a mirror percent is 0..100",
       http_filter(R"({"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "s", "port": 80}, "percent": 101}})"),
       "spec.rules[0].filters[0].requestMirror.percent: must be an integer in 0..100"},
      {"a mirror fraction is at most one",
       http_filter(R"({"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "s", "port": 80},
           "fraction": {"numerator": 3, "denominator": 2}}})"),
       "spec.rules[0].filters[0].requestMirror.fraction.numerator: must be less than or equal to the denominator"},
      {"a redirect scheme is http or https",
       http_filter(R"({"type": "RequestRedirect", "requestRedirect": {"scheme": "ftp"}})"),
       "spec.rules[0].filters[0].requestRedirect.scheme: 'ftp' is not http or https"},
      {"a redirect status code is one of five",
       http_filter(R"({"type": "RequestRedirect", "requestRedirect": {"statusCode": 304}})"),
       "spec.rules[0].filters[0].requestRedirect.statusCode: must be 301, 302, 303, 307 or 308"},
      {"a redirect hostname has no wildcard",
       http_filter(R"({"type": "RequestRedirect", "requestRedirect": {"hostname": "*.example.com"}})"),
       "spec.rules[0].filters[0].requestRedirect.hostname: '*.example.com' is not a valid hostname"},
      {"a path modifier needs a type",
       http_filter(R"({"type": "URLRewrite", "urlRewrite": {"path": {"replaceFullPath": "/a"}}})"),
       "spec.rules[0].filters[0].urlRewrite.path: type is required"},
      {"a path modifier's value is in its type's member",
       http_filter(R"({"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath", "replacePrefixMatch": "/a"}}})"),
       "spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch: must not be set when type is ReplaceFullPath"},
      {"a path modifier needs its value",
       http_filter(R"({"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch"}}})"),
       "spec.rules[0].filters[0].urlRewrite.path: replacePrefixMatch is required when type is ReplacePrefixMatch"},
      {"a filter type is not repeated",
       http_filter(R"({"type": "URLRewrite", "urlRewrite": {}}, {"type": "URLRewrite", "urlRewrite": {}})"),
       "spec.rules[0].filters: URLRewrite filter cannot be repeated"},
      {"a redirect and a rewrite exclude each other",
       http_filter(R"({"type": "URLRewrite", "urlRewrite": {}}, {"type": "RequestRedirect", "requestRedirect": {}})"),
       "spec.rules[0].filters: may hold a RequestRedirect or a URLRewrite filter, not both"},
      {"a redirect has no backends",
       http_rules(R"([{"filters": [{"type": "RequestRedirect", "requestRedirect": {}}],
                      "backendRefs": [{"name": "s", "port": 80}]}])"),
       "spec.rules[0]: a RequestRedirect filter must not be used together with backendRefs"},
      {"ReplacePrefixMatch needs one PathPrefix match",
       http_rules(R"([{"matches": [{"path": {"type": "Exact", "value": "/a"}}],
                      "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/b"}}}]}])"),
       "spec.rules[0]: a ReplacePrefixMatch path modifier needs exactly one match, of type PathPrefix"},
      {"a GRPCRoute header modifier is not repeated",
       grpc_rules(R"([{"filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {}},
                                   {"type": "RequestHeaderModifier", "requestHeaderModifier": {}}]}])"),
       "spec.rules[0].filters: RequestHeaderModifier filter cannot be repeated"},
      // Backends
      {"a backend needs a name", backend(R"({"port": 80})"), "spec.rules[0].backendRefs[0]: name is required"},
      {"a Service backend needs a port", backend(R"({"name": "s"})"),
       "spec.rules[0].backendRefs[0]: port is required for a Service"},
      {"a backend weight is at most 1000000", backend(R"({"name": "s", "port": 80, "weight": 1000001})"),
       "spec.rules[0].backendRefs[0].weight: must be an integer in 0..1000000"},
      {"a backend weight is not negative", backend(R"({"name": "s", "port": 80, "weight": -1})"),
       "spec.rules[0].backendRefs[0].weight: must be an integer in 0..1000000"},
      {"a backend kind is a kind name", backend(R"({"name": "s", "kind": "9lives", "port": 80})"),
       "spec.rules[0].backendRefs[0].kind: '9lives' is not a valid kind"},
      {"a backend group is a DNS name", backend(R"({"name": "s", "group": "Core", "port": 80})"),
       "spec.rules[0].backendRefs[0].group: 'Core' is not a valid API group"},
      // ReferenceGrant
      {"a ReferenceGrant needs from", gateway_api("ReferenceGrant", R"("spec": {"to": [{"group": "", "kind": "Service"}]})",
                                                  "gateway.networking.k8s.io/v1beta1"),
       "spec: from is required"},
      {"a ReferenceGrant from needs its group",
       gateway_api("ReferenceGrant", R"("spec": {"from": [{"kind": "GRPCRoute", "namespace": "a"}],
                                                 "to": [{"group": "", "kind": "Service"}]})",
                   "gateway.networking.k8s.io/v1beta1"),
       "spec.from[0]: group is required"},
      {"a ReferenceGrant to is not empty",
       gateway_api("ReferenceGrant", R"("spec": {"from": [{"group": "", "kind": "GRPCRoute", "namespace": "a"}], "to": []})",
                   "gateway.networking.k8s.io/v1beta1"),
       "spec.to: must have at least 1 item"},
      // Metadata
      {"a generation is a non-negative integer", R"({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": "n", "generation": -1}})",
       "metadata.generation: must be an integer in 0.."},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.rule) {
      CHECK_THAT(reason_of(decode_object(parse(c.json))), Catch::Matchers::Contains(c.reason));
    }
  }
}

TEST_CASE("decoder keeps the key of a Gateway API object it rejects", "[decoder][gateway]") {
  auto object = decode_object(parse(R"({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
      "metadata": {"name": "r", "namespace": "apps"}, "spec": {"rules": [{"backendRefs": [{"name": "s"}]}]}})"));
  REQUIRE(object);
  const auto& invalid = std::get<InvalidObject>(*object);
  CHECK(invalid.kind == ObjectKind::kGRPCRoute);
  CHECK(invalid.key == ObjectKey{"apps", "r"});
}
