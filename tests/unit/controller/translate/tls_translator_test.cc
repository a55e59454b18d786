// The TLS part of the translation: certificates from spec.tls Secrets by host,
// the default certificate, ssl-redirect on routes (TLS hosts by default), client
// authorities (auth-tls-secret), and what a broken Secret does.

#include "common/base64.h"
#include "controller/translate/translator.h"
#include "common/tls_certificate.h"
#include "tests/unit/controller/manifest_fixture.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

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
  // No ssl-redirect annotation: TLS hosts redirect cleartext requests (ingress-nginx's default).
  CHECK(out.table.exact_hosts.at("a.example")->routes[0].ssl_redirect);
}

TEST_CASE("the TLS hosts of an Ingress redirect by default, ssl-redirect false serves them in cleartext") {
  Store store;
  load_yaml(store, greeter_service() + secret("a-tls", cert_a().cert_pem, cert_a().key_pem) +
                       tls_ingress("a", "a.example", "a-tls", "grpc-ingress.io/ssl-redirect: 'true'") +
                       tls_ingress("default", "d.example", "a-tls") +
                       ingress({.name = "plain", .rules = {rule("plain.example", {path("/", "Prefix")})},
                                .annotations = "grpc-ingress.io/ssl-redirect: 'true'"}) +
                       tls_ingress("nginx", "n.example", "a-tls", "nginx.ingress.kubernetes.io/ssl-redirect: 'true'") +
                       tls_ingress("off", "off.example", "a-tls", "nginx.ingress.kubernetes.io/ssl-redirect: 'false'") +
                       tls_ingress("ours-off", "ours-off.example", "a-tls",
                                   "grpc-ingress.io/ssl-redirect: 'false', nginx.ingress.kubernetes.io/ssl-redirect: 'true'") +
                       tls_ingress("forced", "forced.example", "a-tls",
                                   "nginx.ingress.kubernetes.io/ssl-redirect: 'false', "
                                   "nginx.ingress.kubernetes.io/force-ssl-redirect: 'true'") +
                       tls_ingress("typo", "typo.example", "a-tls", "grpc-ingress.io/ssl-redirect: 'flase'"));
  Translation out = translate(store, {});
  auto redirects = [&](const std::string& host) { return out.table.exact_hosts.at(host)->routes[0].ssl_redirect; };
  CHECK(redirects("a.example"));
  CHECK(redirects("d.example"));
  CHECK(redirects("n.example"));
  CHECK_FALSE(redirects("plain.example"));  // no spec.tls
  CHECK_FALSE(redirects("off.example"));
  CHECK_FALSE(redirects("ours-off.example"));  // ours wins over nginx's
  CHECK(redirects("forced.example"));          // force-ssl-redirect wins
  CHECK(redirects("typo.example"));            // only "false" turns it off
}

TEST_CASE("IngressOptions::ssl_redirect, when the annotations set it, decides the redirect") {
  ObjectMeta meta;
  meta.annotations["grpc-ingress.io/ssl-redirect"] = "false";
  IngressOptions options;
  CHECK_FALSE(tls_options_of(meta, options).redirect);
  options.ssl_redirect = true;
  CHECK(tls_options_of(meta, options).redirect);
  options.ssl_redirect = false;
  meta.annotations.clear();
  CHECK_FALSE(tls_options_of(meta, options).redirect);
  CHECK(tls_options_of(meta, IngressOptions{}).redirect);
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

namespace {

using TestCa = std::pair<TlsCertificate, TlsCertificate>;  // two self-signed roots
const TestCa& client_ca() {
  static const TestCa ca{*make_self_signed_certificate("client-ca.example"), *make_self_signed_certificate("other-ca.example")};
  return ca;
}

std::string ca_secret(const std::string& name, const std::string& ca_pem, const std::string& type = "Opaque") {
  return "---\napiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: default}\ntype: " + type +
         "\ndata:\n  ca.crt: " + encode_base64(ca_pem) + "\n";
}

// The Ingresses of `store` with the auth-tls options given by name (as the
// annotation parser fills IngressOptions), oldest first, through translate_tls.
struct TlsRun {
  TlsSettings tls;
  std::vector<Rejection> rejections;
  std::map<std::string, std::set<std::string>> redirected;  // Ingress -> hosts
};
TlsRun run_tls(const Store& store, const std::map<std::string, IngressTlsOptions>& options) {
  std::vector<TlsIngress> ours;
  for (const auto& [key, ingress] : store.ingresses()) {
    auto it = options.find(key.name);
    ours.push_back({&ingress, it == options.end() ? IngressTlsOptions{} : it->second});
  }
  std::sort(ours.begin(), ours.end(), [](const TlsIngress& a, const TlsIngress& b) {
    return a.ingress->metadata.creation_timestamp < b.ingress->metadata.creation_timestamp;
  });
  TlsRun out;
  translate_tls(
      store, ours, {}, {}, out.tls,
      [&](const ObjectMeta& meta, const std::string& host) { out.redirected[meta.name].insert(host); }, out.rejections);
  return out;
}

bool has_rejection(const TlsRun& run, const std::string& name, const std::string& text) {
  for (const Rejection& r : run.rejections) {
    if (r.name == name && r.reason.find(text) != std::string::npos) return true;
  }
  return false;
}

IngressTlsOptions auth_tls(const std::string& secret, ClientCertMode mode = ClientCertMode::kOn, uint32_t depth = 1) {
  IngressTlsOptions options;
  if (!secret.empty()) options.client_ca_secret = ObjectKey{"default", secret};
  options.client_cert = mode;
  options.verify_depth = depth;
  return options;
}

}  // namespace

TEST_CASE("auth-tls-secret: the Ingress's hosts ask for client certificates verified by the ca.crt of the Secret") {
  Store store;
  load_yaml(store, greeter_service() + secret("a-tls", cert_a().cert_pem, cert_a().key_pem) +
                       ca_secret("clients", client_ca().first.cert_pem) +
                       ca_secret("tls-typed", client_ca().second.cert_pem, "kubernetes.io/tls") +
                       tls_ingress("a", "a.example", "a-tls") + tls_ingress("w", "*.w.example", "a-tls") +
                       tls_ingress("open", "open.example", "a-tls") +
                       ingress({.name = "no-tls", .rules = {rule("rules-only.example", {path("/", "Prefix")})}}));
  TlsRun run = run_tls(store, {{"a", auth_tls("clients", ClientCertMode::kOn, 2)},
                               {"w", auth_tls("tls-typed", ClientCertMode::kOptional)},
                               {"no-tls", auth_tls("clients", ClientCertMode::kOptionalNoCa)}});
  INFO(run.rejections.size());
  CHECK(run.rejections.empty());
  REQUIRE(run.tls.client_authorities.size() == 3);
  const ClientAuthority& a = run.tls.client_authorities.at("a.example");
  CHECK(a.secret == "default/clients");
  CHECK(a.ca_pem == client_ca().first.cert_pem);
  CHECK(a.mode == ClientCertMode::kOn);
  CHECK(a.verify_depth == 2);
  CHECK(run.tls.client_authorities.at("*.w.example").mode == ClientCertMode::kOptional);
  CHECK(run.tls.find_client_authority("x.w.example")->secret == "default/tls-typed");
  // A host in rules but not in spec.tls asks too (with the default certificate).
  CHECK(run.tls.client_authorities.at("rules-only.example").mode == ClientCertMode::kOptionalNoCa);
  CHECK(run.tls.find_client_authority("open.example") == nullptr);
  CHECK(run.tls.certificates.count("open.example"));
}

TEST_CASE("a missing or broken CA Secret is reported and its hosts fail closed: asked, with no CA that verifies") {
  Store store;
  load_yaml(store, greeter_service() + secret("a-tls", cert_a().cert_pem, cert_a().key_pem) +
                       ca_secret("garbage", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n") +
                       ca_secret("empty", "no PEM here") +
                       "---\napiVersion: v1\nkind: Secret\nmetadata: {name: no-ca, namespace: default}\ntype: Opaque\n"
                       "data: {tls.crt: " + encode_base64(cert_a().cert_pem) + "}\n" +
                       tls_ingress("missing", "missing.example", "a-tls") + tls_ingress("garbage", "garbage.example", "a-tls") +
                       tls_ingress("empty", "empty.example", "a-tls") + tls_ingress("no-ca", "no-ca.example", "a-tls") +
                       tls_ingress("no-secret", "no-secret.example", "a-tls"));
  TlsRun run = run_tls(store, {{"missing", auth_tls("nothing")},
                               {"garbage", auth_tls("garbage", ClientCertMode::kOptional)},
                               {"empty", auth_tls("empty")},
                               {"no-ca", auth_tls("no-ca")},
                               {"no-secret", auth_tls("")}});
  CHECK(has_rejection(run, "missing", "auth-tls-secret default/nothing: no such Secret"));
  CHECK(has_rejection(run, "garbage", "does not parse"));
  CHECK(has_rejection(run, "empty", "holds no PEM certificate"));
  CHECK(has_rejection(run, "no-ca", "has no data ca.crt"));
  CHECK(has_rejection(run, "no-secret", "needs auth-tls-secret"));
  CHECK(has_rejection(run, "missing", "every certificate fails verification"));
  for (const char* host : {"missing.example", "garbage.example", "empty.example", "no-ca.example", "no-secret.example"}) {
    INFO(host);
    REQUIRE(run.tls.client_authorities.count(host));
    CHECK(run.tls.client_authorities.at(host).ca_pem.empty());
    CHECK(run.tls.client_authorities.at(host).mode != ClientCertMode::kOff);
  }
  // The server certificate is not affected.
  CHECK(run.tls.certificates.count("missing.example"));
}

TEST_CASE("the oldest Ingress with auth-tls on a host decides its client authority, a different one is reported") {
  Store store;
  load_yaml(store, greeter_service() + secret("a-tls", cert_a().cert_pem, cert_a().key_pem) +
                       ca_secret("first", client_ca().first.cert_pem) + ca_secret("second", client_ca().second.cert_pem) +
                       tls_ingress("plain", "a.example", "a-tls", "", "2023-01-01T00:00:00Z") +
                       tls_ingress("old", "a.example", "a-tls", "", "2024-01-01T00:00:00Z") +
                       tls_ingress("same", "a.example", "a-tls", "", "2024-06-01T00:00:00Z") +
                       tls_ingress("new", "a.example", "a-tls", "", "2025-01-01T00:00:00Z"));
  TlsRun run = run_tls(store, {{"old", auth_tls("first")}, {"same", auth_tls("first")}, {"new", auth_tls("second")}});
  // The older Ingress without auth-tls does not turn it off for the host.
  CHECK(run.tls.client_authorities.at("a.example").secret == "default/first");
  CHECK(has_rejection(run, "new", "already asks client certificates as the older Ingress default/old says"));
  CHECK_FALSE(has_rejection(run, "same", "already asks"));
  CHECK_FALSE(has_rejection(run, "plain", "auth-tls"));
}

TEST_CASE("auth-tls-verify-client off asks for nothing") {
  Store store;
  load_yaml(store, greeter_service() + secret("a-tls", cert_a().cert_pem, cert_a().key_pem) +
                       ca_secret("clients", client_ca().first.cert_pem) + tls_ingress("a", "a.example", "a-tls"));
  TlsRun run = run_tls(store, {{"a", auth_tls("clients", ClientCertMode::kOff)}});
  CHECK(run.tls.client_authorities.empty());
  CHECK(run.rejections.empty());
}

TEST_CASE("a changed CA Secret is a change of routing, and never shown in /debug/routes beyond its name") {
  Store store;
  std::string base = greeter_service() + secret("a-tls", cert_a().cert_pem, cert_a().key_pem) + tls_ingress("a", "a.example", "a-tls");
  load_yaml(store, base + ca_secret("clients", client_ca().first.cert_pem));
  TlsRun before = run_tls(store, {{"a", auth_tls("clients")}});
  load_yaml(store, base + ca_secret("clients", client_ca().second.cert_pem));
  TlsRun after = run_tls(store, {{"a", auth_tls("clients")}});
  CHECK_FALSE(before.tls == after.tls);
  RouteTable table;
  table.tls = after.tls;
  std::string json = table.to_json();
  CHECK(json.find("default/clients") != std::string::npos);
  CHECK(json.find("BEGIN CERTIFICATE") == std::string::npos);
}
