#include "controller/translate/translator.h"

#include "tests/unit/controller/manifest_fixture.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

// Two Services every routing case can point at: greeter (two ready pods) and
// other (one pod, whose Service port 8080 targets container port 9090).
std::string base_services() {
  return service({.name = "greeter",
                  .target_port = "grpc",
                  .endpoints = {endpoint("127.0.0.5", "greeter-0"),
                                endpoint("127.0.0.6", "greeter-1")}}) +
         service({.name = "other",
                  .port = 8080,
                  .target_port = "9090",
                  .slice_port = "{name: grpc, port: 9090}",
                  .endpoints = {endpoint("127.0.0.7", "other-0")}});
}

constexpr const char* kGreeter = "default/greeter:grpc";
constexpr const char* kOther = "default/other:grpc";
constexpr const char* kNoRoute = "";

struct Lookup {
  std::string authority{};
  std::string path{};
  std::string cluster{};  // kNoRoute: no route matches
};

struct RoutingCase {
  std::string rule{};
  std::string manifests{};  // added to base_services()
  std::vector<Lookup> lookups{};
  std::vector<std::string> rejections{};  // a part of each expected reason, in order
  TranslatorOptions options = {};
};

std::string describe(const std::vector<Rejection>& rejections) {
  std::string out;
  for (const Rejection& r : rejections) {
    out += r.kind + " " + r.namespace_name + "/" + r.name + ": " + r.reason + "\n";
  }
  return out;
}

Translation translate_yaml(const std::string& manifests, const TranslatorOptions& options = {}) {
  Store store;
  load_yaml(store, manifests);
  return translate(store, options);
}

void check_rejections(const Translation& translation, const std::vector<std::string>& expected) {
  INFO("rejections:\n" << describe(translation.rejections));
  REQUIRE(translation.rejections.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK_THAT(translation.rejections[i].reason, Catch::Matchers::Contains(expected[i]));
  }
}

void check_routing(const std::vector<RoutingCase>& cases) {
  for (const RoutingCase& c : cases) {
    DYNAMIC_SECTION(c.rule) {
      Translation translation = translate_yaml(base_services() + c.manifests, c.options);
      INFO("table: " << translation.table.to_json());
      for (const Lookup& lookup : c.lookups) {
        INFO(lookup.authority << lookup.path);
        const Route* route = translation.table.match(lookup.authority, lookup.path);
        if (lookup.cluster.empty()) {
          CHECK(route == nullptr);
        } else {
          REQUIRE(route != nullptr);
          CHECK(translation.table.cluster_of(*route).name == lookup.cluster);
        }
      }
      check_rejections(translation, c.rejections);
    }
  }
}

}  // namespace

TEST_CASE("translator applies the path rules of networking.k8s.io/v1", "[translator]") {
  check_routing({
      {"prefix /foo does not match /foobar",
       ingress({.name = "a", .rules = {rule("", {path("/foo", "Prefix")})}}),
       {{"x", "/foo", kGreeter}, {"x", "/foo/bar", kGreeter}, {"x", "/foobar", kNoRoute}}},
      {"exact matches only its path",
       ingress({.name = "a", .rules = {rule("", {path("/foo", "Exact")})}}),
       {{"x", "/foo", kGreeter}, {"x", "/foo/", kNoRoute}, {"x", "/foo/bar", kNoRoute}}},
      {"exact beats prefix at equal length",
       ingress({.name = "a",
                .rules = {rule("", {path("/foo", "Prefix", "other"), path("/foo", "Exact")})}}),
       {{"x", "/foo", kGreeter}, {"x", "/foo/bar", kOther}}},
      {"the longest prefix wins",
       ingress({.name = "a",
                .rules = {rule("", {path("/", "Prefix", "other"), path("/api/v1", "Prefix")})}}),
       {{"x", "/api/v1/x", kGreeter}, {"x", "/api/v2", kOther}, {"x", "/", kOther}}},
      {"ImplementationSpecific is treated as Prefix",
       ingress({.name = "a", .rules = {rule("", {path("/foo", "ImplementationSpecific")})}}),
       {{"x", "/foo/bar", kGreeter}, {"x", "/foobar", kNoRoute}}},
      {"a gRPC service prefix routes its methods",
       ingress({.name = "a", .rules = {rule("", {path("/helloworld.Greeter", "Prefix")})}}),
       {{"x", "/helloworld.Greeter/SayHello", kGreeter},
        {"x", "/helloworld.GreeterV2/SayHello", kNoRoute}}},
      {"a prefix's trailing slash is dropped",
       ingress({.name = "a", .rules = {rule("", {path("/foo/", "Prefix")})}}),
       {{"x", "/foo", kGreeter}, {"x", "/foo/x", kGreeter}}},
      {"a missing pathType rejects the path",
       ingress({.name = "a",
                .rules = {rule("", {"{path: /foo, backend: {service: {name: greeter, port: "
                                    "{name: grpc}}}}",
                                    path("/bar", "Prefix")})}}),
       {{"x", "/foo", kNoRoute}, {"x", "/bar", kGreeter}},
       {"rules[0].paths[0]: pathType is required"}},
      {"a path must start with a slash",
       ingress({.name = "a", .rules = {rule("", {path("foo", "Prefix"), path("/bar", "Exact")})}}),
       {{"x", "/bar", kGreeter}},
       {"path 'foo' must start with '/'"}},
      {"a path with a space or query is rejected",
       ingress({.name = "a",
                .rules = {rule("", {path("/a b", "Prefix"), path("/c?d", "Prefix")})}}),
       {},
       {"may not contain", "may not contain"}},
  });
}

TEST_CASE("translator applies the host rules of networking.k8s.io/v1", "[translator]") {
  check_routing({
      {"an exact host matches case-insensitively",
       ingress({.name = "a", .rules = {rule("Foo.Example.com", {path("/", "Prefix")})}}),
       {{"foo.example.com", "/", kGreeter},
        {"FOO.example.COM:443", "/x", kGreeter},
        {"bar.example.com", "/", kNoRoute}}},
      {"wildcard covers exactly one label",
       ingress({.name = "a", .rules = {rule("*.example.com", {path("/", "Prefix")})}}),
       {{"a.example.com", "/", kGreeter},
        {"b.a.example.com", "/", kNoRoute},
        {"example.com", "/", kNoRoute}}},
      {"an exact host is preferred to a wildcard",
       ingress({.name = "a",
                .rules = {rule("*.example.com", {path("/", "Prefix", "other")}),
                          rule("a.example.com", {path("/", "Prefix")})}}),
       {{"a.example.com", "/", kGreeter}, {"b.example.com", "/", kOther}}},
      {"a rule without host matches every host",
       ingress({.name = "a", .rules = {rule("", {path("/", "Prefix")})}}),
       {{"anything.test", "/x", kGreeter}, {"", "/", kGreeter}}},
      {"an IP address host rejects the rule",
       ingress({.name = "a",
                .rules = {rule("10.0.0.1", {path("/", "Prefix")}),
                          rule("ok.example.com", {path("/", "Prefix")})}}),
       {{"10.0.0.1", "/", kNoRoute}, {"ok.example.com", "/", kGreeter}},
       {"rules[0]: host '10.0.0.1': an IP address is not allowed"}},
      {"a wildcard is only allowed as the first label",
       ingress({.name = "a", .rules = {rule("foo.*.example.com", {path("/", "Prefix")})}}),
       {{"foo.x.example.com", "/", kNoRoute}},
       {"not a valid DNS name"}},
      {"a host with invalid characters rejects the rule",
       ingress({.name = "a", .rules = {rule("under_score.example.com", {path("/", "Prefix")})}}),
       {},
       {"host 'under_score.example.com'"}},
  });
}

TEST_CASE("translator merges the rules of several Ingresses, the oldest winning", "[translator]") {
  check_routing({
      {"rules from two ingresses for one host merge",
       ingress({.name = "a", .rules = {rule("h.test", {path("/a", "Prefix")})}}) +
           ingress({.name = "b", .rules = {rule("h.test", {path("/b", "Prefix", "other")})}}),
       {{"h.test", "/a", kGreeter}, {"h.test", "/b", kOther}}},
      {"oldest ingress wins a path conflict",
       ingress({.name = "a-young",
                .rules = {rule("h.test", {path("/x", "Prefix", "other")})},
                .created = "2024-06-01T00:00:00Z"}) +
           ingress({.name = "z-old",
                    .rules = {rule("h.test", {path("/x", "Prefix")})},
                    .created = "2024-01-01T00:00:00Z"}),
       {{"h.test", "/x", kGreeter}},
       {"is already routed by the older Ingress default/z-old"}},
      {"namespace and name break a creation time tie",
       ingress({.name = "b", .rules = {rule("h.test", {path("/x", "Prefix", "other")})}}) +
           ingress({.name = "a", .rules = {rule("h.test", {path("/x", "Prefix")})}}),
       {{"h.test", "/x", kGreeter}},
       {"older Ingress default/a"}},
      {"prefix with and without trailing slash conflict",
       ingress({.name = "a", .rules = {rule("", {path("/x", "Prefix"), path("/x/", "Prefix")})}}),
       {{"h", "/x", kGreeter}},
       {"already routed by an earlier path of this Ingress"}},
      {"the same path with another pathType does not conflict",
       ingress({.name = "a", .rules = {rule("h.test", {path("/x", "Exact")})}}) +
           ingress({.name = "b", .rules = {rule("h.test", {path("/x", "Prefix", "other")})}}),
       {{"h.test", "/x", kGreeter}, {"h.test", "/x/y", kOther}}},
      {"the same path on different hosts does not conflict",
       ingress({.name = "a", .rules = {rule("a.test", {path("/x", "Prefix")})}}) +
           ingress({.name = "b", .rules = {rule("b.test", {path("/x", "Prefix", "other")})}}),
       {{"a.test", "/x", kGreeter}, {"b.test", "/x", kOther}}},
      {"defaultBackend catches what no rule matches",
       ingress({.name = "a",
                .rules = {rule("h.test", {path("/x", "Prefix", "other")})},
                .default_backend = "{service: {name: greeter, port: {name: grpc}}}"}),
       {{"h.test", "/x", kOther}, {"h.test", "/y", kGreeter}, {"else.test", "/", kGreeter}}},
      {"the oldest ingress with a defaultBackend wins",
       ingress({.name = "a",
                .created = "2024-06-01T00:00:00Z",
                .default_backend = "{service: {name: other, port: {name: grpc}}}"}) +
           ingress({.name = "b",
                    .created = "2024-01-01T00:00:00Z",
                    .default_backend = "{service: {name: greeter, port: {name: grpc}}}"}),
       {{"x", "/", kGreeter}},
       {"defaultBackend ignored: the older Ingress default/b"}},
  });
}

TEST_CASE("translator resolves backends through Services", "[translator]") {
  check_routing({
      {"port by number matches the Service port",
       ingress({.name = "a", .rules = {rule("", {path("/", "Prefix", "other", "8080")})}}),
       {{"x", "/", "default/other:8080"}}},
      {"port by name matches the Service port name",
       ingress({.name = "a", .rules = {rule("", {path("/", "Prefix", "other", "grpc")})}}),
       {{"x", "/", kOther}}},
      {"a missing Service keeps the route, without endpoints",
       ingress({.name = "a", .rules = {rule("", {path("/", "Prefix", "missing")})}}),
       {{"x", "/", "default/missing:grpc"}},
       {"backend default/missing:grpc: Service default/missing not found"}},
      {"a Service without the port keeps the route, without endpoints",
       ingress({.name = "a", .rules = {rule("", {path("/", "Prefix", "greeter", "9999")})}}),
       {{"x", "/", "default/greeter:9999"}},
       {"Service default/greeter has no port 9999"}},
      {"an ExternalName Service keeps the route, without endpoints",
       service({.name = "external", .type = "ExternalName"}) +
           ingress({.name = "a", .rules = {rule("", {path("/", "Prefix", "external")})}}),
       {{"x", "/", "default/external:grpc"}},
       {"ExternalName"}},
      {"a resource backend is rejected",
       ingress({.name = "a",
                .rules = {rule("", {"{path: /r, pathType: Prefix, backend: {resource: "
                                    "{apiGroup: k8s.example.com, kind: Bucket, name: b}}}",
                                    path("/", "Prefix")})}}),
       {{"x", "/r", kGreeter}},
       {"resource backend Bucket/b is not supported"}},
      {"a backend port needs a number or a name",
       ingress({.name = "a",
                .rules = {rule("", {"{path: /p, pathType: Prefix, backend: {service: "
                                    "{name: greeter, port: {}}}}"})}}),
       {{"x", "/p", kNoRoute}},
       {"needs a number or a name"}},
      {"a Service in another namespace is not used",
       service({.name = "elsewhere", .namespace_name = "team-b"}) +
           ingress({.name = "a", .rules = {rule("", {path("/", "Prefix", "elsewhere")})}}),
       {{"x", "/", "default/elsewhere:grpc"}},
       {"Service default/elsewhere not found"}},
  });
}

TEST_CASE("translator selects Ingresses by class", "[translator]") {
  std::string ours_by_name = ingress({.name = "a", .rules = {rule("", {path("/", "Prefix")})}});
  std::string classless =
      ingress({.name = "a", .rules = {rule("", {path("/", "Prefix")})}, .class_name = ""});
  check_routing({
      {"ingressClassName equal to our class is ours without an IngressClass", ours_by_name,
       {{"x", "/", kGreeter}}},
      {"ingress of another class is ignored",
       ingress({.name = "a", .rules = {rule("", {path("/", "Prefix")})}, .class_name = "nginx"}),
       {{"x", "/", kNoRoute}}},
      {"ingressClassName naming an IngressClass of our controller is ours",
       ingress_class("internal", "grpc-ingress.io/controller") +
           ingress({.name = "a", .rules = {rule("", {path("/", "Prefix")})}, .class_name = "internal"}),
       {{"x", "/", kGreeter}}},
      {"our class name owned by another controller's IngressClass is not ours",
       ingress_class("grpc", "k8s.io/ingress-nginx") + ours_by_name,
       {{"x", "/", kNoRoute}}},
      {"legacy annotation with our class is ours",
       ingress({.name = "a",
                .rules = {rule("", {path("/", "Prefix")})},
                .class_name = "",
                .annotations = "kubernetes.io/ingress.class: grpc"}),
       {{"x", "/", kGreeter}}},
      {"legacy annotation with another class is not ours",
       ingress({.name = "a",
                .rules = {rule("", {path("/", "Prefix")})},
                .class_name = "",
                .annotations = "kubernetes.io/ingress.class: nginx"}),
       {{"x", "/", kNoRoute}}},
      {"is-default-class picks class-less ingresses",
       ingress_class("internal", "grpc-ingress.io/controller", true) + classless,
       {{"x", "/", kGreeter}}},
      {"class-less ingresses are not ours without a default class", classless,
       {{"x", "/", kNoRoute}}},
      {"another controller's default class does not pick class-less ingresses",
       ingress_class("nginx", "k8s.io/ingress-nginx", true) + classless,
       {{"x", "/", kNoRoute}}},
      {"--watch-ingress-without-class picks class-less ingresses",
       classless,
       {{"x", "/", kGreeter}},
       {},
       {.watch_ingress_without_class = true}},
      {"--watch-ingress-without-class leaves another class's ingresses alone",
       ingress({.name = "a",
                .rules = {rule("", {path("/", "Prefix")})},
                .class_name = "",
                .annotations = "kubernetes.io/ingress.class: nginx"}),
       {{"x", "/", kNoRoute}},
       {},
       {.watch_ingress_without_class = true}},
      {"a configured class name is honoured",
       ingress({.name = "a", .rules = {rule("", {path("/", "Prefix")})}, .class_name = "edge"}),
       {{"x", "/", kGreeter}},
       {},
       {.ingress_class = "edge"}},
      {"watch namespace leaves other namespaces out",
       service({.name = "greeter", .namespace_name = "team-b"}) +
           ingress({.name = "b",
                    .rules = {rule("b.test", {path("/", "Prefix")})},
                    .namespace_name = "team-b"}) +
           ingress({.name = "a", .rules = {rule("a.test", {path("/", "Prefix")})}}),
       {{"a.test", "/", kNoRoute}, {"b.test", "/", "team-b/greeter:grpc"}},
       {},
       {.watch_namespace = "team-b"}},
  });
}

TEST_CASE("translator reads the load-balance annotations", "[translator]") {
  auto with_annotation = [](const std::string& annotations) {
    return ingress(
        {.name = "a", .rules = {rule("", {path("/", "Prefix")})}, .annotations = annotations});
  };
  check_routing({
      {"round_robin is accepted", with_annotation("grpc-ingress.io/load-balance: round_robin"),
       {{"x", "/", kGreeter}}},
      {"ingress-nginx's annotation is honoured",
       with_annotation("nginx.ingress.kubernetes.io/load-balance: round_robin"),
       {{"x", "/", kGreeter}}},
      {"an unknown policy falls back to least_request with a note",
       with_annotation("grpc-ingress.io/load-balance: fastest"),
       {{"x", "/", kGreeter}},
       {"annotation grpc-ingress.io/load-balance: 'fastest' is not a known policy"}},
  });
}

TEST_CASE("each load-balance annotation value picks its policy", "[translator]") {
  struct Case {
    const char* name;
    std::string annotations;
    LoadBalancePolicy policy;
    std::string hash_header;
  };
  const Case cases[] = {
      {"no annotation: least_request", "", LoadBalancePolicy::kLeastRequest, ""},
      {"least_request", "grpc-ingress.io/load-balance: least_request", LoadBalancePolicy::kLeastRequest, ""},
      {"round_robin", "grpc-ingress.io/load-balance: round_robin", LoadBalancePolicy::kRoundRobin, ""},
      {"ewma", "grpc-ingress.io/load-balance: ewma", LoadBalancePolicy::kEwma, ""},
      {"nginx ewma", "nginx.ingress.kubernetes.io/load-balance: ewma", LoadBalancePolicy::kEwma, ""},
      {"hash-by picks ring_hash", "grpc-ingress.io/hash-by: X-User-Id", LoadBalancePolicy::kRingHash, "x-user-id"},
      {"ring_hash with hash-by", "grpc-ingress.io/load-balance: ring_hash, grpc-ingress.io/hash-by: x-user-id",
       LoadBalancePolicy::kRingHash, "x-user-id"},
      {"nginx upstream-hash-by $http_ header", "nginx.ingress.kubernetes.io/upstream-hash-by: '$http_x_user_id'",
       LoadBalancePolicy::kRingHash, "x-user-id"},
      {"ring_hash without a header falls back", "grpc-ingress.io/load-balance: ring_hash",
       LoadBalancePolicy::kLeastRequest, ""},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Translation translation = translate_yaml(
        base_services() +
        ingress({.name = "a", .rules = {rule("", {path("/", "Prefix")})}, .annotations = c.annotations}));
    REQUIRE(translation.table.clusters.size() == 1);
    CHECK(translation.table.clusters[0]->lb_policy == c.policy);
    CHECK(translation.table.clusters[0]->hash_header == c.hash_header);
  }
}

// A table routing "/" to svc:port; it must have exactly that one cluster.
Translation translate_svc(const std::string& manifests, const std::string& port = "grpc") {
  Translation translation = translate_yaml(
      manifests + ingress({.name = "a", .rules = {rule("", {path("/", "Prefix", "svc", port)})}}));
  INFO("rejections:\n" << describe(translation.rejections));
  REQUIRE(translation.table.clusters.size() == 1);
  return translation;
}

// "ip:port pod", with " (terminating)" when not ready.
std::vector<std::string> endpoint_texts(const Cluster& cluster) {
  std::vector<std::string> out;
  for (const Endpoint& e : cluster.endpoints) {
    out.push_back(e.address() + " " + e.pod + (e.ready ? "" : " (terminating)"));
  }
  return out;
}

TEST_CASE("translator keeps the usable endpoints of EndpointSlices", "[translator]") {
  struct Case {
    std::string rule;
    std::string manifests;
    std::vector<std::string> endpoints;
    std::string port = "grpc";
  };
  const std::vector<Case> cases = {
      {"loopback addresses are accepted",
       service({.name = "svc", .endpoints = {endpoint("127.0.0.5", "p0")}}),
       {"127.0.0.5:50051 p0"}},
      {"ready:false endpoints are excluded",
       service({.name = "svc",
                .endpoints = {endpoint("127.0.0.5", "p0", "ready: false"),
                              endpoint("127.0.0.6", "p1", "ready: true")}}),
       {"127.0.0.6:50051 p1"}},
      {"an absent or null ready condition counts as ready",
       service({.name = "svc",
                .endpoints = {endpoint("127.0.0.5", "p0"),
                              endpoint("127.0.0.6", "p1", "ready: null")}}),
       {"127.0.0.5:50051 p0", "127.0.0.6:50051 p1"}},
      {"terminating endpoints used only as last resort",
       service({.name = "svc",
                .endpoints = {endpoint("127.0.0.5", "p0", "ready: true"),
                              endpoint("127.0.0.6", "p1",
                                       "ready: false, serving: true, terminating: true")}}),
       {"127.0.0.5:50051 p0"}},
      {"serving terminating endpoints are used when none is ready",
       service({.name = "svc",
                .endpoints = {endpoint("127.0.0.5", "p0", "ready: false, serving: false"),
                              endpoint("127.0.0.6", "p1",
                                       "ready: false, serving: true, terminating: true")}}),
       {"127.0.0.6:50051 p1 (terminating)"}},
      {"port by name resolves through targetPort and slice port name",
       service({.name = "svc",
                .port_name = "api",
                .port = 80,
                .target_port = "grpc-port",
                .slice_port = "{name: api, port: 9000}",
                .endpoints = {endpoint("127.0.0.5", "p0")}}),
       {"127.0.0.5:9000 p0"},
       "api"},
      {"a numeric targetPort finds a slice port of that number when names differ",
       service({.name = "svc",
                .port_name = "api",
                .port = 80,
                .target_port = "9000",
                .slice_port = "{name: other, port: 9000}",
                .endpoints = {endpoint("127.0.0.5", "p0")}}),
       {"127.0.0.5:9000 p0"},
       "80"},
      {"an unnamed Service port matches an unnamed slice port",
       service({.name = "svc",
                .port_name = "''",
                .port = 80,
                .target_port = "grpc",
                .slice_port = "{port: 7000}",
                .endpoints = {endpoint("127.0.0.5", "p0")}}),
       {"127.0.0.5:7000 p0"},
       "80"},
      {"duplicates are removed and endpoints sorted by ip",
       service({.name = "svc",
                .endpoints = {endpoint("127.0.0.9", "p9"), endpoint("127.0.0.5", "p5"),
                              endpoint("127.0.0.9", "p9")}}),
       {"127.0.0.5:50051 p5", "127.0.0.9:50051 p9"}},
      {"IPv6 addresses are written canonically",
       service({.name = "svc",
                .endpoints = {endpoint("0:0:0:0:0:0:0:1", "p0")},
                .address_type = "IPv6"}),
       {"[::1]:50051 p0"}},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.rule) {
      CHECK(endpoint_texts(*translate_svc(c.manifests, c.port).table.clusters[0]) == c.endpoints);
    }
  }
}

TEST_CASE("translator rejects EndpointSlices it cannot use", "[translator]") {
  struct Case {
    std::string rule;
    std::string manifests;
    std::vector<std::string> endpoints;
    std::string rejection;
  };
  const std::vector<Case> cases = {
      {"FQDN slices are rejected",
       service({.name = "svc", .endpoints = {endpoint("pod.example.com", "p0")},
                .address_type = "FQDN"}),
       {},
       "addressType FQDN is not supported"},
      {"an address of the wrong family is skipped",
       service({.name = "svc",
                .endpoints = {endpoint("::1", "p0"), endpoint("127.0.0.5", "p1")}}),
       {"127.0.0.5:50051 p1"},
       "1 endpoint address(es) are not valid IPv4 addresses (first: '::1')"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.rule) {
      Translation translation = translate_svc(c.manifests);
      CHECK(endpoint_texts(*translation.table.clusters[0]) == c.endpoints);
      check_rejections(translation, {c.rejection});
      CHECK(translation.rejections[0].kind == "EndpointSlice");
      CHECK(translation.rejections[0].name == "svc-slice");
    }
  }
}

TEST_CASE("translator shares one cluster per Service port", "[translator]") {
  Translation translation = translate_yaml(
      base_services() +
      ingress({.name = "a", .rules = {rule("a.test", {path("/1", "Prefix"), path("/2", "Exact")})}}) +
      ingress({.name = "b",
               .rules = {rule("b.test", {path("/", "Prefix"), path("/o", "Prefix", "other")})}}));
  REQUIRE(translation.table.clusters.size() == 2);
  CHECK(translation.table.clusters[0]->name == kGreeter);
  CHECK(translation.table.clusters[0]->service_namespace == "default");
  CHECK(translation.table.clusters[0]->service == "greeter");
  CHECK(translation.table.clusters[0]->port == "grpc");
  CHECK(translation.table.clusters[1]->name == kOther);
  CHECK(translation.table.match("a.test", "/1")->cluster == 0);
  CHECK(translation.table.match("b.test", "/")->cluster == 0);
  const Route* route = translation.table.match("b.test", "/o");
  REQUIRE(route != nullptr);
  CHECK(route->cluster == 1);
  CHECK(route->ingress_namespace == "default");
  CHECK(route->ingress_name == "b");
  CHECK(translation.rejections.empty());
}

TEST_CASE("translator reports objects that did not decode", "[translator]") {
  Translation translation = translate_yaml(
      "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old}\nspec: {}\n");
  REQUIRE(translation.rejections.size() == 1);
  CHECK(translation.rejections[0] ==
        Rejection{"Ingress", "default", "old",
                  "apiVersion: 'extensions/v1beta1' is not supported for Ingress; use "
                  "networking.k8s.io/v1"});
}

TEST_CASE("translator is deterministic", "[translator]") {
  std::string manifests =
      base_services() +
      ingress({.name = "b", .rules = {rule("*.x.test", {path("/b", "Prefix", "other")})}}) +
      ingress({.name = "a",
               .rules = {rule("a.test", {path("/a", "Prefix")}), rule("", {path("/", "Exact")})},
               .default_backend = "{service: {name: missing, port: {number: 80}}}"});
  Translation first = translate_yaml(manifests);
  Translation second = translate_yaml(manifests);
  CHECK(first.table.same_routing(second.table));
  CHECK(first.table.to_json() == second.table.to_json());
  CHECK(first.rejections == second.rejections);
}
