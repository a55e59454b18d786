// The TLS part of the translation: certificates from spec.tls Secrets by host,
// the default certificate, ssl-redirect on routes, and what a broken Secret does.

#include "common/base64.h"
#include "controller/translate/translator.h"
#include "common/tls_certificate.h"
#include "tests/unit/controller/manifest_fixture.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

const TlsCertificate& cert_a() {
  static const TlsCertificate cert = *make_self_signed_certificate("a.example");
  return cert;
}
const TlsCertificate& cert_b() {
  static const TlsCertificate cert = *make_self_signed_certificate("b.example");
  return cert;
}

std::string secret(const std::string& name, const std::string& cert_pem, const std::string& key_pem,
                   const std::string& namespace_name = "default") {
  return "---\napiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " + namespace_name +
         "}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: " + encode_base64(cert_pem) +
         "\n  tls.key: " + encode_base64(key_pem) + "\n";
}

// An Ingress routing `host` with spec.tls naming `secret_name` for it.
std::string tls_ingress(const std::string& name, const std::string& host, const std::string& secret_name,
                        const std::string& annotations = "", const std::string& created = "") {
  std::string yaml = ingress({.name = name,
                              .rules = {rule(host, {path("/", "Prefix")})},
                              .created = created,
                              .annotations = annotations});
  return yaml + "  tls: [{hosts: ['" + host + "'], secretName: " + secret_name + "}]\n";
}

std::string greeter_service() {
  return service({.name = "greeter", .endpoints = {endpoint("10.0.0.1", "greeter-0")}});
}

bool rejected(const Translation& translation, const std::string& kind, const std::string& name,
              const std::string& text) {
  for (const Rejection& r : translation.rejections) {
    if (r.kind == kind && r.name == name && r.reason.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("each TLS host gets the certificate of the Secret its Ingress names") {
  Store store;
  load_yaml(store, greeter_service() + secret("a-tls", cert_a().cert_pem, cert_a().key_pem) +
                       secret("b-tls", cert_b().cert_pem, cert_b().key_pem) +
                       tls_ingress("a", "a.example", "a-tls") + tls_ingress("b", "*.b.example", "b-tls"));
  Translation out = translate(store, {});
  INFO(out.table.to_json());
  REQUIRE(out.table.tls.certificates.size() == 2);
  CHECK(out.table.tls.certificates.at("a.example").secret == "default/a-tls");
  CHECK(out.table.tls.certificates.at("a.example").cert_pem == cert_a().cert_pem);
  CHECK(out.table.tls.certificates.at("*.b.example").key_pem == cert_b().key_pem);
  CHECK(out.table.tls.find("x.b.example")->secret == "default/b-tls");
  CHECK_FALSE(out.table.tls.default_certificate);
  CHECK(out.rejections.empty());
  // No ssl-redirect annotation: served on both ports.
  CHECK_FALSE(out.table.exact_hosts.at("a.example")->routes[0].ssl_redirect);
}

TEST_CASE("ssl-redirect marks the routes of the Ingress's TLS hosts only") {
  Store store;
  load_yaml(store, greeter_service() + secret("a-tls", cert_a().cert_pem, cert_a().key_pem) +
                       tls_ingress("a", "a.example", "a-tls", "grpc-ingress.io/ssl-redirect: 'true'") +
                       ingress({.name = "plain", .rules = {rule("plain.example", {path("/", "Prefix")})},
                                .annotations = "grpc-ingress.io/ssl-redirect: 'true'"}) +
                       tls_ingress("nginx", "n.example", "a-tls", "nginx.ingress.kubernetes.io/ssl-redirect: 'true'"));
  Translation out = translate(store, {});
  CHECK(out.table.exact_hosts.at("a.example")->routes[0].ssl_redirect);
  CHECK(out.table.exact_hosts.at("n.example")->routes[0].ssl_redirect);
  CHECK_FALSE(out.table.exact_hosts.at("plain.example")->routes[0].ssl_redirect);  // no spec.tls
}

TEST_CASE("a missing or broken Secret is reported and its host keeps the certificate it had, else gets the default") {
  Store store;
  std::string base = greeter_service() + tls_ingress("a", "a.example", "a-tls");
  load_yaml(store, base + secret("a-tls", cert_a().cert_pem, cert_a().key_pem));
  Translation good = translate(store, {});
  REQUIRE(good.table.tls.certificates.count("a.example"));

  // The Secret's key is replaced by one that does not match.
  load_yaml(store, base + secret("a-tls", cert_a().cert_pem, cert_b().key_pem));
  TlsHistory history{.last_good = &good.table.tls};
  Translation broken = translate(store, {}, history);
  CHECK(rejected(broken, "Secret", "a-tls", "does not match"));
  CHECK(rejected(broken, "Secret", "a-tls", "keeps the certificate it had"));
  REQUIRE(broken.table.tls.certificates.count("a.example"));
  CHECK(broken.table.tls.certificates.at("a.example") == good.table.tls.certificates.at("a.example"));

  // Without a previous certificate (a fresh start), the host gets the default.
  Translation fresh = translate(store, {});
  CHECK(rejected(fresh, "Secret", "a-tls", "gets the default certificate"));
  CHECK(fresh.table.tls.certificates.empty());

  // Deleted outright.
  load_yaml(store, base);
  Translation missing = translate(store, {}, history);
  CHECK(rejected(missing, "Secret", "a-tls", "no such Secret"));
  CHECK(missing.table.tls.certificates.count("a.example"));

  // A Secret without tls.key.
  load_yaml(store, base + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: a-tls, namespace: default}\n"
                          "type: Opaque\ndata: {tls.crt: " + encode_base64(cert_a().cert_pem) + "}\n");
  CHECK(rejected(translate(store, {}), "Secret", "a-tls", "needs data tls.crt and tls.key"));
}

TEST_CASE("the oldest Ingress decides a TLS host's certificate") {
  Store store;
  load_yaml(store, greeter_service() + secret("a-tls", cert_a().cert_pem, cert_a().key_pem) +
                       secret("b-tls", cert_b().cert_pem, cert_b().key_pem) +
                       tls_ingress("old", "a.example", "a-tls", "", "2024-01-01T00:00:00Z") +
                       tls_ingress("new", "a.example", "b-tls", "", "2025-01-01T00:00:00Z"));
  Translation out = translate(store, {});
  CHECK(out.table.tls.certificates.at("a.example").secret == "default/a-tls");
  CHECK(rejected(out, "Ingress", "new", "already has the certificate of Secret default/a-tls"));
}

TEST_CASE("the flag --default-ssl-certificate names the Secret that answers hosts without a certificate") {
  Store store;
  load_yaml(store, greeter_service() + secret("fallback", cert_b().cert_pem, cert_b().key_pem, "ingress") +
                       ingress({.name = "a", .rules = {rule("a.example", {path("/", "Prefix")})}}));
  TranslatorOptions options;
  options.tls.default_certificate = "ingress/fallback";
  options.tls.redirect_port = 8443;
  Translation out = translate(store, options);
  REQUIRE(out.table.tls.default_certificate);
  CHECK(out.table.tls.default_certificate->secret == "ingress/fallback");
  CHECK(out.table.tls.redirect_port == 8443);

  options.tls.default_certificate = "ingress/nothing";
  Translation missing = translate(store, options);
  CHECK_FALSE(missing.table.tls.default_certificate);
  CHECK(rejected(missing, "Secret", "nothing", "self-signed"));
}

TEST_CASE("a changed certificate is a change of routing: the table is published again") {
  Store store;
  std::string base = greeter_service() + tls_ingress("a", "a.example", "a-tls");
  load_yaml(store, base + secret("a-tls", cert_a().cert_pem, cert_a().key_pem));
  Translation before = translate(store, {});
  load_yaml(store, base + secret("a-tls", cert_b().cert_pem, cert_b().key_pem));
  Translation after = translate(store, {});
  CHECK_FALSE(before.table.same_routing(after.table));
  CHECK(after.table.to_json().find("PRIVATE KEY") == std::string::npos);  // never in /debug/routes
}
