// How the translator decides the protocol towards pods (issue 6): the
// backend-protocol annotations, the Service port's appProtocol, and TLS to
// pods with SNI, a CA and a client certificate from Secrets.

#include "controller/translate/annotations.h"
#include "controller/translate/translator.h"
#include "common/tls_certificate.h"

#include "tests/unit/controller/manifest_fixture.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

IngressOptions options_with(std::map<std::string, std::string> annotations) {
  ObjectMeta meta;
  meta.name = "a";
  meta.namespace_name = "team";
  meta.annotations = std::move(annotations);
  return read_annotations(meta);
}

// One Ingress routing everything to Service "web" (port "http", appProtocol
// `app_protocol`), with `annotations` (flow entries), over `extra` objects.
Translation translate_web(const std::string& app_protocol, const std::string& annotations,
                          const std::string& extra = "") {
  Store store;
  load_yaml(store, service({.name = "web", .port_name = "http", .port = 8080,
                            .endpoints = {endpoint("127.0.0.5", "web-0")}, .app_protocol = app_protocol}) +
                       ingress({.name = "web", .rules = {rule("", {path("/", "Prefix", "web", "http")})},
                                .annotations = annotations}) +
                       extra);
  return translate(store, {});
}

const Cluster& web_cluster(const Translation& translation) {
  REQUIRE(translation.table.clusters.size() == 1);
  return *translation.table.clusters.front();
}

std::string rejections_of(const Translation& translation) {
  std::string out;
  for (const Rejection& r : translation.rejections) out += r.kind + " " + r.name + ": " + r.reason + "\n";
  return out;
}

TlsCertificate test_certificate(const std::string& name) {
  auto certificate = make_self_signed_certificate(name);
  REQUIRE(certificate);
  return *certificate;
}

}  // namespace

TEST_CASE("backend-protocol annotations: ours, then ingress-nginx's, any case, bad values reported",
          "[upstream]") {
  CHECK(options_with({{"grpc-ingress.io/backend-protocol", "grpcs"}}).cluster.backend_protocol ==
        BackendProtocol::kGrpcs);
  CHECK(options_with({{"nginx.ingress.kubernetes.io/backend-protocol", "GRPC"}}).cluster.backend_protocol ==
        BackendProtocol::kGrpc);
  auto both = options_with({{"grpc-ingress.io/backend-protocol", "HTTP"},
                            {"nginx.ingress.kubernetes.io/backend-protocol", "GRPC"}});
  CHECK(both.cluster.backend_protocol == BackendProtocol::kHttp);
  CHECK(both.cluster.backend_protocol_annotation == "grpc-ingress.io/backend-protocol: HTTP");

  auto bad = options_with({{"grpc-ingress.io/backend-protocol", "FCGI"}});
  CHECK_FALSE(bad.cluster.backend_protocol);
  REQUIRE(bad.problems.size() == 1);
  CHECK_THAT(bad.problems[0], Catch::Matchers::Contains("'FCGI' is not a backend protocol"));
}

TEST_CASE("upstream TLS annotations name Secrets in the Ingress's namespace or another one", "[upstream]") {
  auto options = options_with({{"grpc-ingress.io/upstream-sni", "Pod.Internal"},
                               {"grpc-ingress.io/upstream-ca-secret", "pods-ca"},
                               {"nginx.ingress.kubernetes.io/proxy-ssl-secret", "certs/client"}});
  CHECK(options.problems.empty());
  CHECK(options.cluster.upstream_sni == "pod.internal");
  CHECK(options.cluster.upstream_ca_secret == ObjectKey{"team", "pods-ca"});
  CHECK(options.cluster.upstream_client_secret == ObjectKey{"certs", "client"});

  auto bad = options_with({{"grpc-ingress.io/upstream-ca-secret", "a/b/c"}, {"grpc-ingress.io/upstream-sni", "a b"}});
  CHECK_FALSE(bad.cluster.upstream_ca_secret);
  CHECK(bad.cluster.upstream_sni.empty());
  CHECK(bad.problems.size() == 1);  // the SNI: the pod's name is sent instead
  // A CA that cannot be named would leave pods unverified: the Ingress is refused.
  REQUIRE(bad.refusals.size() == 1);
  CHECK_THAT(bad.refusals[0], Catch::Matchers::Contains("grpc-ingress.io/upstream-ca-secret: 'a/b/c'"));
}

TEST_CASE("the Service port's appProtocol chooses the protocol when no annotation does", "[upstream]") {
  struct Case {
    std::string app_protocol;
    UpstreamProtocol protocol;
    bool grpc_only;
    bool tls;
  };
  for (const Case& c : std::vector<Case>{{"", UpstreamProtocol::kAuto, false, false},
                                         {"kubernetes.io/h2c", UpstreamProtocol::kH2, false, false},
                                         {"grpc", UpstreamProtocol::kH2, true, false},
                                         {"kubernetes.io/h2", UpstreamProtocol::kH2, false, true},
                                         {"https", UpstreamProtocol::kAuto, false, true},
                                         {"http", UpstreamProtocol::kHttp1, false, false},
                                         {"kubernetes.io/ws", UpstreamProtocol::kAuto, false, false}}) {
    INFO("appProtocol '" << c.app_protocol << "'");
    Translation translation = translate_web(c.app_protocol, "");
    const Cluster& cluster = web_cluster(translation);
    CHECK(cluster.protocol == c.protocol);
    CHECK(cluster.grpc_only == c.grpc_only);
    CHECK(cluster.tls.enabled == c.tls);
  }
}

TEST_CASE("the EndpointSlice port's appProtocol counts when the Service port has none", "[upstream]") {
  Store store;
  load_yaml(store, service({.name = "web", .port_name = "http", .port = 8080,
                            .slice_port = "{name: http, port: 8080, appProtocol: kubernetes.io/h2c}",
                            .endpoints = {endpoint("127.0.0.5", "web-0")}}) +
                       ingress({.name = "web", .rules = {rule("", {path("/", "Prefix", "web", "http")})}}));
  CHECK(translate(store, {}).table.clusters.at(0)->protocol == UpstreamProtocol::kH2);
}

TEST_CASE("backend-protocol overrides appProtocol", "[upstream]") {
  struct Case {
    std::string value;
    UpstreamProtocol protocol;
    bool grpc_only;
    bool tls;
  };
  for (const Case& c : std::vector<Case>{{"GRPC", UpstreamProtocol::kH2, true, false},
                                         {"GRPCS", UpstreamProtocol::kH2, true, true},
                                         {"H2C", UpstreamProtocol::kH2, false, false},
                                         {"HTTP", UpstreamProtocol::kHttp1, false, false},
                                         {"HTTPS", UpstreamProtocol::kHttp1, false, true}}) {
    INFO("backend-protocol " << c.value);
    Translation translation = translate_web("kubernetes.io/h2c", "grpc-ingress.io/backend-protocol: " + c.value);
    const Cluster& cluster = web_cluster(translation);
    CHECK(cluster.protocol == c.protocol);
    CHECK(cluster.grpc_only == c.grpc_only);
    CHECK(cluster.tls.enabled == c.tls);
    CHECK_THAT(cluster.protocol_source, Catch::Matchers::Contains("backend-protocol: " + c.value));
  }
}

TEST_CASE("TLS to pods: SNI and names from the Service, verified against the CA Secret", "[upstream]") {
  TlsCertificate ca = test_certificate("pods-ca");
  SECTION("no CA: encrypted, not verified; SNI is the Service's cluster DNS name") {
    Translation translation = translate_web("", "grpc-ingress.io/backend-protocol: GRPCS");
    const Cluster& cluster = web_cluster(translation);
    CHECK(cluster.tls.sni == "web.default.svc.cluster.local");
    CHECK(cluster.tls.verify_names ==
          std::vector<std::string>{"web.default.svc.cluster.local", "web.default.svc", "web.default", "web"});
    CHECK(cluster.tls.ca_pem.empty());
    CHECK(cluster.tls.problem.empty());
  }
  SECTION("an Opaque CA Secret and an explicit SNI") {
    Translation translation =
        translate_web("", "grpc-ingress.io/backend-protocol: GRPCS, grpc-ingress.io/upstream-ca-secret: pods-ca, "
                          "grpc-ingress.io/upstream-sni: pod.internal",
                      secret("pods-ca", "Opaque", {{"ca.crt", ca.cert_pem}}));
    const Cluster& cluster = web_cluster(translation);
    INFO(rejections_of(translation));
    CHECK(translation.rejections.empty());
    CHECK(cluster.tls.ca_pem == ca.cert_pem);
    CHECK(cluster.tls.sni == "pod.internal");
    CHECK(cluster.tls.verify_names == std::vector<std::string>{"pod.internal"});
  }
  SECTION("a client certificate Secret (ingress-nginx's proxy-ssl-secret) whose ca.crt verifies the pod") {
    TlsCertificate client = test_certificate("ingress-client");
    Translation translation = translate_web(
        "kubernetes.io/h2", "nginx.ingress.kubernetes.io/proxy-ssl-secret: default/client",
        secret("client", "Opaque", {{"tls.crt", client.cert_pem}, {"tls.key", client.key_pem}, {"ca.crt", ca.cert_pem}}));
    const Cluster& cluster = web_cluster(translation);
    CHECK(translation.rejections.empty());
    CHECK(cluster.tls.cert_pem == client.cert_pem);
    CHECK(cluster.tls.key_pem == client.key_pem);
    CHECK(cluster.tls.ca_pem == ca.cert_pem);
  }
  SECTION("a missing or broken Secret is reported and fails the cluster's calls") {
    Translation missing = translate_web("", "grpc-ingress.io/backend-protocol: GRPCS, "
                                            "grpc-ingress.io/upstream-client-secret: nowhere");
    CHECK_THAT(web_cluster(missing).tls.problem, Catch::Matchers::Contains("default/nowhere not found"));
    CHECK_THAT(rejections_of(missing), Catch::Matchers::Contains("Ingress web: backend default/web:http"));

    Translation broken = translate_web("", "grpc-ingress.io/backend-protocol: GRPCS, "
                                           "grpc-ingress.io/upstream-ca-secret: pods-ca",
                                       secret("pods-ca", "Opaque", {{"ca.crt", "not a certificate"}}));
    CHECK_THAT(web_cluster(broken).tls.problem, Catch::Matchers::Contains("ca.crt holds no PEM certificate"));

    Translation no_key = translate_web("", "grpc-ingress.io/backend-protocol: GRPCS, "
                                           "grpc-ingress.io/upstream-client-secret: client",
                                       secret("client", "Opaque", {{"tls.crt", ca.cert_pem}}));
    CHECK_THAT(web_cluster(no_key).tls.problem, Catch::Matchers::Contains("needs data tls.crt and tls.key"));
  }
  SECTION("TLS annotations on a cleartext backend are reported as ignored") {
    Translation translation = translate_web("kubernetes.io/h2c", "grpc-ingress.io/upstream-sni: pod.internal");
    CHECK_FALSE(web_cluster(translation).tls.enabled);
    CHECK_THAT(rejections_of(translation), Catch::Matchers::Contains("upstream TLS annotations are ignored"));
  }
}

TEST_CASE("a backend shared by two Ingresses keeps the oldest's protocol and reports the other", "[upstream]") {
  Store store;
  load_yaml(store,
            service({.name = "web", .port_name = "http", .port = 8080, .endpoints = {endpoint("127.0.0.5", "web-0")}}) +
                ingress({.name = "old", .rules = {rule("a.example", {path("/", "Prefix", "web", "http")})},
                         .created = "2024-01-01T00:00:00Z", .annotations = "grpc-ingress.io/backend-protocol: GRPC"}) +
                ingress({.name = "new", .rules = {rule("b.example", {path("/", "Prefix", "web", "http")})},
                         .created = "2024-02-01T00:00:00Z", .annotations = "grpc-ingress.io/backend-protocol: HTTP"}));
  Translation translation = translate(store, {});
  REQUIRE(translation.table.clusters.size() == 1);
  CHECK(translation.table.clusters[0]->grpc_only);
  CHECK_THAT(rejections_of(translation), Catch::Matchers::Contains("Ingress new: backend default/web:http is also used"));
}

TEST_CASE("gRPC health checks of an HTTP/1.1 backend are turned off and reported", "[upstream]") {
  Translation translation =
      translate_web("", "grpc-ingress.io/backend-protocol: HTTP, grpc-ingress.io/health-check: grpc");
  CHECK_FALSE(web_cluster(translation).health_check.enabled);
  CHECK_THAT(rejections_of(translation), Catch::Matchers::Contains("gRPC health checks are off"));
}
