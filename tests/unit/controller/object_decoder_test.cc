#include "controller/object_decoder.h"

#include "tests/unit/controller/decoded.h"

#include <catch2/catch.hpp>

#include <string>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;
using nlohmann::json;

namespace {

constexpr const char* kIngressHead =
    R"("apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "a"})";
constexpr const char* kServiceHead =
    R"("apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"})";

}  // namespace

TEST_CASE("decoder rejects hostile or malformed objects with the field at fault", "[decoder]") {
  struct Case {
    std::string rule;
    std::string json;
    std::string reason;
  };
  auto ingress_spec = [](const std::string& spec) {
    return std::string("{") + kIngressHead + R"(, "spec": )" + spec + "}";
  };
  auto service_ports = [](const std::string& ports) {
    return std::string("{") + kServiceHead + R"(, "spec": {"ports": )" + ports + "}}";
  };
  const Case cases[] = {
      {"a known kind with another apiVersion is rejected",
       R"({"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "a"}})",
       "apiVersion: 'extensions/v1beta1' is not supported for Ingress; use networking.k8s.io/v1"},
      {"apiVersion is required", R"({"kind": "Service", "metadata": {"name": "s"}})",
       "apiVersion is required"},
      {"metadata is required", R"({"apiVersion": "v1", "kind": "Service"})", "metadata is required"},
      {"a name is required", R"({"apiVersion": "v1", "kind": "Service", "metadata": {}})",
       "metadata: name is required"},
      {"a name must be an RFC 1123 subdomain",
       R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "Bad_Name"}})",
       "metadata.name: 'Bad_Name' is not a valid name"},
      {"a name of the wrong type is rejected",
       R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": 7}})",
       "metadata.name: must be a string"},
      {"an annotation value must be a string",
       R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s",
           "annotations": {"grpc-ingress.io/x": true}}})",
       "metadata.annotations[\"grpc-ingress.io/x\"]: must be a string (quote the value in YAML)"},
      {"a bad creationTimestamp is rejected",
       R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s",
           "creationTimestamp": "yesterday"}})",
       "metadata.creationTimestamp: must be an RFC 3339 time"},
      {"rules must be a list", ingress_spec(R"({"rules": {"host": "a"}})"),
       "spec.rules: must be a list"},
      {"spec must be an object", ingress_spec(R"("text")"), "spec: must be an object"},
      {"an unknown pathType is rejected",
       ingress_spec(R"({"rules": [{"http": {"paths": [{"path": "/", "pathType": "Regex",
           "backend": {}}]}}]})"),
       "spec.rules[0].http.paths[0].pathType: 'Regex' is not Exact, Prefix or ImplementationSpecific"},
      {"a path needs a backend",
       ingress_spec(R"({"rules": [{"http": {"paths": [{"path": "/", "pathType": "Exact"}]}}]})"),
       "spec.rules[0].http.paths[0]: backend is required"},
      {"a backend port number out of range is rejected",
       ingress_spec(R"({"defaultBackend": {"service": {"name": "s", "port": {"number": 70000}}}})"),
       "spec.defaultBackend.service.port.number: must be an integer in 1..65535"},
      {"a huge backend port number is rejected",
       ingress_spec(
           R"({"defaultBackend": {"service": {"name": "s", "port": {"number": 99999999999999999999999}}}})"),
       "must be an integer in 1..65535"},
      {"a negative port is rejected", service_ports(R"([{"port": -1}])"),
       "spec.ports[0].port: must be an integer in 1..65535"},
      {"a fractional port is rejected", service_ports(R"([{"port": 80.5}])"),
       "spec.ports[0].port: must be an integer in 1..65535"},
      {"a port given as a string is rejected", service_ports(R"([{"port": "80"}])"),
       "spec.ports[0].port: must be an integer in 1..65535"},
      {"a Service port is required", service_ports(R"([{"name": "grpc"}])"),
       "spec.ports[0]: port is required"},
      {"a targetPort of zero is rejected", service_ports(R"([{"port": 80, "targetPort": 0}])"),
       "spec.ports[0].targetPort: must be an integer in 1..65535"},
      {"an empty targetPort name is rejected",
       service_ports(R"([{"port": 80, "targetPort": ""}])"),
       "spec.ports[0].targetPort: must be a port number or a non-empty port name"},
      {"an EndpointSlice needs an addressType",
       R"({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"}})",
       "addressType is required"},
      {"an endpoint condition must be a boolean",
       R"({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"},
           "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"],
           "conditions": {"ready": "yes"}}]})",
       "endpoints[0].conditions.ready: must be true or false"},
      {"Secret data must be base64",
       R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t"},
           "data": {"tls.crt": "not base64!"}})",
       "data[\"tls.crt\"]: is not valid base64"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.rule) {
      CHECK_THAT(reason_of(decode_object(parse(c.json))), Catch::Matchers::Contains(c.reason));
    }
  }
}

TEST_CASE("decoder ignores kinds it does not use", "[decoder]") {
  CHECK_FALSE(decode_object(parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
                                      "metadata": {"name": "d"}})")));
  CHECK_FALSE(decode_object(parse(R"({"metadata": {"name": "no-kind"}})")));
  CHECK_FALSE(decode_object(parse("[1, 2]")));
}

TEST_CASE("decoder keeps the name of an object it rejects", "[decoder]") {
  auto object = decode_object(parse(R"({"apiVersion": "v1", "kind": "Service",
      "metadata": {"name": "s", "namespace": "team"}, "spec": {"ports": 3}})"));
  REQUIRE(object);
  const auto& invalid = std::get<InvalidObject>(*object);
  CHECK(invalid.kind == ObjectKind::kService);
  CHECK(invalid.key == ObjectKey{"team", "s"});
}

TEST_CASE("decoder reads an Ingress", "[decoder]") {
  auto object = decode_object(parse(R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
    "metadata": {"name": "web", "namespace": "team", "creationTimestamp": "2024-05-01T10:00:00Z",
                 "annotations": {"kubernetes.io/ingress.class": "grpc"}},
    "spec": {
      "ingressClassName": "grpc",
      "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
      "tls": [{"hosts": ["a.example.com"], "secretName": "a-tls"}],
      "rules": [
        {"host": "a.example.com", "http": {"paths": [
          {"path": "/x", "pathType": "Exact", "backend": {"service": {"name": "s", "port": {"name": "grpc"}}}},
          {"path": "/y", "pathType": "ImplementationSpecific",
           "backend": {"resource": {"kind": "Bucket", "name": "b"}}}]}},
        {"host": "no-http.example.com"}]}})"));
  REQUIRE(object);
  REQUIRE(std::holds_alternative<Ingress>(*object));
  const auto& ingress = std::get<Ingress>(*object);
  CHECK(ingress.metadata.key() == ObjectKey{"team", "web"});
  CHECK(ingress.metadata.creation_timestamp.time_since_epoch().count() == 1714557600);
  CHECK(ingress.metadata.annotations.at("kubernetes.io/ingress.class") == "grpc");
  CHECK(ingress.ingress_class_name == "grpc");
  REQUIRE(ingress.default_backend);
  CHECK(ingress.default_backend->service_name == "fallback");
  CHECK(ingress.default_backend->service_port == PortRef{80, ""});
  REQUIRE(ingress.tls.size() == 1);
  CHECK(ingress.tls[0].secret_name == "a-tls");
  REQUIRE(ingress.rules.size() == 2);
  CHECK(ingress.rules[0].host == "a.example.com");
  REQUIRE(ingress.rules[0].paths.size() == 2);
  CHECK(ingress.rules[0].paths[0].path_type == IngressPathType::kExact);
  CHECK(ingress.rules[0].paths[0].backend.service_port == PortRef{0, "grpc"});
  CHECK(ingress.rules[0].paths[1].path_type == IngressPathType::kImplementationSpecific);
  CHECK(ingress.rules[0].paths[1].backend.resource_kind == "Bucket");
  CHECK(ingress.rules[1].paths.empty());
}

TEST_CASE("decoder applies the API defaults", "[decoder]") {
  SECTION("a namespaced object without namespace is in default") {
    auto object = decode_object(parse(R"({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}, {"port": 81, "targetPort": "web"}]}})"));
    const auto& service = std::get<Service>(*object);
    CHECK(service.metadata.namespace_name == "default");
    CHECK(service.type == "ClusterIP");
    CHECK(service.ports[0].target_port == PortRef{80, ""});  // targetPort defaults to port
    CHECK(service.ports[1].target_port == PortRef{0, "web"});
  }
  SECTION("an IngressClass has no namespace") {
    auto object = decode_object(parse(R"({"apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass", "metadata": {"name": "grpc", "namespace": "x"},
        "spec": {"controller": "grpc-ingress.io/controller"}})"));
    const auto& ingress_class = std::get<IngressClass>(*object);
    CHECK(ingress_class.metadata.key() == ObjectKey{"", "grpc"});
    CHECK(ingress_class.controller == "grpc-ingress.io/controller");
  }
  SECTION("absent endpoint conditions mean ready, serving, not terminating") {
    auto object = decode_object(parse(R"({"apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice", "metadata": {"name": "e"}, "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": null}],
        "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": null}}]})"));
    const auto& slice = std::get<EndpointSlice>(*object);
    CHECK(slice.ports[0] == EndpointSlicePort{"", 80});
    CHECK(slice.ports[1] == EndpointSlicePort{"", 0, ""});
    CHECK(slice.endpoints[0].conditions == EndpointConditions{true, true, false});
  }
  SECTION("Secret data is decoded from base64 and stringData merged over it; only certificate keys are kept") {
    auto object = decode_object(parse(R"({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "t"}, "type": "kubernetes.io/tls",
        "data": {"tls.crt": "aGVsbG8=", "tls.key": "aGk=", "ca.crt": "", "password": "YWJj"},
        "stringData": {"tls.key": "plain", "token": "x"}})"));
    const auto& secret = std::get<Secret>(*object);
    CHECK(secret.type == "kubernetes.io/tls");
    CHECK(secret.data == std::map<std::string, std::string>{{"tls.crt", "hello"}, {"tls.key", "plain"}, {"ca.crt", ""}});
  }
  SECTION("a timestamp with an offset and a fraction is read as UTC seconds") {
    auto object = decode_object(parse(R"({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "s", "creationTimestamp": "2024-05-01T12:00:00.5+02:00"}})"));
    CHECK(std::get<Service>(*object).metadata.creation_timestamp.time_since_epoch().count() ==
          1714557600);
  }
}

TEST_CASE("decoder checks the kind of a typed list item", "[decoder]") {
  Object object = decode_object_as(ObjectKind::kService, parse(R"({"metadata": {"name": "s"}})"));
  CHECK(std::holds_alternative<Service>(object));
  Object wrong = decode_object_as(ObjectKind::kService,
                                  parse(R"({"kind": "Secret", "metadata": {"name": "s"}})"));
  REQUIRE(std::holds_alternative<InvalidObject>(wrong));
  CHECK(std::get<InvalidObject>(wrong).reason == "kind: expected Service");
}
