// The security annotations of issue 15 (source ranges, client certificates,
// rate limits, auth-url, ssl-redirect) as IngressOptions, in ingress-nginx's
// spelling and ours; a bad value refuses the Ingress (fail closed). And the
// translator: a refused Ingress routes nothing; every route of an Ingress
// shares its access policy.

#include "common/base64.h"
#include "common/tls_certificate.h"
#include "controller/translate/annotations.h"
#include "controller/translate/translator.h"

#include "tests/unit/controller/manifest_fixture.h"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;
using namespace std::chrono_literals;

namespace {

IngressOptions read(std::map<std::string, std::string> annotations, AnnotationOptions options = {}) {
  ObjectMeta meta;
  meta.name = "a";
  meta.namespace_name = "team";
  meta.annotations = std::move(annotations);
  return read_annotations(meta, options);
}

std::string nginx(const std::string& name) { return "nginx.ingress.kubernetes.io/" + name; }
std::string ours(const std::string& name) { return "grpc-ingress.io/" + name; }

std::vector<IpRange> ranges(const std::string& list) { return *parse_ip_ranges(list); }

std::string first_refusal(const IngressOptions& options) {
  return options.refusals.empty() ? std::string() : options.refusals.front();
}

}  // namespace

TEST_CASE("no security annotations: an empty access policy, nothing refused", "[annotations][access]") {
  IngressOptions options = read({});
  CHECK(options.access == AccessPolicy{});
  CHECK_FALSE(options.client_ca_secret);
  CHECK_FALSE(options.ssl_redirect);
  CHECK_FALSE(options.refused());
}

TEST_CASE("source ranges: whitelist, allowlist and denylist, IPv4 and IPv6, ours winning", "[annotations][access]") {
  IngressOptions nginx_spelling = read({{nginx("whitelist-source-range"), "10.0.0.0/8, 192.168.1.7"},
                                        {nginx("denylist-source-range"), "10.1.0.0/16,fd00::/64"}});
  CHECK(nginx_spelling.problems.empty());
  CHECK(nginx_spelling.access.allow == ranges("10.0.0.0/8,192.168.1.7/32"));
  CHECK(nginx_spelling.access.deny == ranges("10.1.0.0/16,fd00::/64"));
  CHECK(nginx_spelling.access.deny[1].contains(IpAddress::from("fd00::1234")));

  CHECK(read({{nginx("allowlist-source-range"), "2001:db8::/32"}}).access.allow == ranges("2001:db8::/32"));
  IngressOptions both = read({{nginx("whitelist-source-range"), "10.0.0.0/8"},
                              {ours("allowlist-source-range"), "127.0.0.1"}});
  CHECK(both.access.allow == ranges("127.0.0.1/32"));
  CHECK(read({{ours("denylist-source-range"), "::1"}}).access.deny == ranges("::1/128"));
}

TEST_CASE("an unreadable source range refuses the Ingress, naming annotation and value", "[annotations][access]") {
  IngressOptions bad = read({{nginx("whitelist-source-range"), "10.0.0.0/8, 10.0.0.300"}});
  CHECK(bad.access.allow.empty());
  CHECK(first_refusal(bad) == "annotation nginx.ingress.kubernetes.io/whitelist-source-range: '10.0.0.0/8, 10.0.0.300' "
                              "is not a comma-separated list of IP addresses or CIDR ranges ('10.0.0.300' is neither); "
                              "the Ingress is not routed until it is fixed");
  CHECK(read({{nginx("denylist-source-range"), "fd00::/129"}}).refused());
  CHECK(read({{nginx("allowlist-source-range"), " , "}}).refused());  // empty must not mean "everyone"
}

TEST_CASE("client certificates: auth-tls-secret asks for them, verify-client chooses the mode", "[annotations][access]") {
  IngressOptions on = read({{nginx("auth-tls-secret"), "team/client-ca"}});
  CHECK(on.client_ca_secret == ObjectKey{"team", "client-ca"});
  CHECK(on.access.client_cert == ClientCertMode::kOn);
  CHECK(on.client_verify_depth == 1);
  CHECK_FALSE(on.access.pass_client_cert);

  IngressOptions optional = read({{nginx("auth-tls-secret"), "client-ca"},
                                  {nginx("auth-tls-verify-client"), "optional"},
                                  {nginx("auth-tls-verify-depth"), "3"},
                                  {nginx("auth-tls-pass-certificate-to-upstream"), "true"}});
  CHECK(optional.problems.empty());
  CHECK(optional.client_ca_secret == ObjectKey{"team", "client-ca"});
  CHECK(optional.access.client_cert == ClientCertMode::kOptional);
  CHECK(optional.client_verify_depth == 3);
  CHECK(optional.access.pass_client_cert);

  CHECK(read({{nginx("auth-tls-secret"), "ca"}, {nginx("auth-tls-verify-client"), "optional_no_ca"}}).access.client_cert ==
        ClientCertMode::kOptionalNoCa);
  CHECK(read({{nginx("auth-tls-secret"), "ca"}, {nginx("auth-tls-verify-client"), "off"}}).access.client_cert ==
        ClientCertMode::kOff);
  CHECK(read({{ours("auth-tls-secret"), "ca"}, {nginx("auth-tls-verify-client"), "off"},
              {ours("auth-tls-verify-client"), "ON"}})
            .access.client_cert == ClientCertMode::kOn);
}

TEST_CASE("bad client certificate annotations refuse the Ingress", "[annotations][access]") {
  CHECK_THAT(first_refusal(read({{nginx("auth-tls-secret"), "ca"}, {nginx("auth-tls-verify-client"), "required"}})),
             Catch::Matchers::Contains("auth-tls-verify-client: 'required' is not a client certificate mode"));
  CHECK_THAT(first_refusal(read({{nginx("auth-tls-verify-client"), "on"}})),
             Catch::Matchers::Contains("no auth-tls-secret names the CA"));
  CHECK(read({{nginx("auth-tls-secret"), "Not_A_Name"}}).refused());
  CHECK(read({{nginx("auth-tls-secret"), "ca"}, {nginx("auth-tls-verify-depth"), "0"}}).refused());
  CHECK(read({{nginx("auth-tls-secret"), "ca"}, {nginx("auth-tls-verify-depth"), "deep"}}).refused());
  // Passing a certificate is not a protection: a bad value warns.
  IngressOptions pass = read({{nginx("auth-tls-secret"), "ca"}, {nginx("auth-tls-pass-certificate-to-upstream"), "yes"}});
  CHECK_FALSE(pass.refused());
  CHECK(pass.problems.size() == 1);
}

TEST_CASE("rate limits: rps, rpm, connections, burst and exempt ranges, with the flag's status", "[annotations][access]") {
  IngressOptions options = read({{nginx("limit-rps"), "10"},
                                 {nginx("limit-rpm"), "300"},
                                 {nginx("limit-connections"), "4"},
                                 {nginx("limit-burst-multiplier"), "3"},
                                 {nginx("limit-whitelist"), "10.0.0.0/8,::1"}},
                                {.limit_status = 503});
  REQUIRE(options.access.rate_limit);
  const RateLimit& limit = *options.access.rate_limit;
  CHECK(limit.per_second == 10);
  CHECK(limit.per_minute == 300);
  CHECK(limit.concurrent == 4);
  CHECK(limit.burst_multiplier == 3);
  CHECK(limit.exempt == ranges("10.0.0.0/8,::1"));
  CHECK(limit.http_status == 503);

  IngressOptions defaults = read({{ours("limit-rps"), "5"}, {nginx("limit-rps"), "50"}});
  REQUIRE(defaults.access.rate_limit);
  CHECK(defaults.access.rate_limit->per_second == 5);
  CHECK(defaults.access.rate_limit->burst_multiplier == 5);
  CHECK(defaults.access.rate_limit->http_status == 429);
  CHECK(read({{nginx("limit-allowlist"), "fd00::/8"}, {nginx("limit-rpm"), "1"}}).access.rate_limit->exempt ==
        ranges("fd00::/8"));
  // Only a burst or only exemptions: no limit to apply.
  CHECK_FALSE(read({{nginx("limit-burst-multiplier"), "2"}}).access.rate_limit);
  CHECK_FALSE(read({{nginx("limit-rps"), "0"}}).access.rate_limit);
}

TEST_CASE("a bad rate limit value refuses the Ingress rather than dropping the limit", "[annotations][access]") {
  CHECK_THAT(first_refusal(read({{nginx("limit-rps"), "ten"}})),
             Catch::Matchers::StartsWith("annotation nginx.ingress.kubernetes.io/limit-rps: 'ten' is not a whole number"));
  CHECK(read({{nginx("limit-rps"), "-1"}}).refused());
  CHECK(read({{nginx("limit-connections"), "1.5"}}).refused());
  CHECK(read({{nginx("limit-rps"), "10"}, {nginx("limit-whitelist"), "everyone"}}).refused());
  CHECK_FALSE(read({{nginx("limit-rps"), "10"}, {nginx("limit-whitelist"), "everyone"}}).access.rate_limit);
}

TEST_CASE("auth-url: host, port, path and query, method, headers, sign-in, cache and timeout", "[annotations][access]") {
  IngressOptions options = read({{nginx("auth-url"), "http://Auth.Team.svc.cluster.local:9000/verify?scope=api"},
                                 {nginx("auth-method"), "post"},
                                 {nginx("auth-response-headers"), "X-User, X-Groups,x-user"},
                                 {nginx("auth-signin"), "https://login.example.com/start"},
                                 {nginx("auth-cache-key"), "$http_authorization$remote_addr"},
                                 {nginx("auth-cache-duration"), "200 202 401 5m"},
                                 {ours("auth-timeout"), "750ms"}});
  INFO(first_refusal(options));
  REQUIRE(options.access.external_auth);
  const ExternalAuth& auth = *options.access.external_auth;
  CHECK(auth.url == "http://Auth.Team.svc.cluster.local:9000/verify?scope=api");
  CHECK(auth.host == "auth.team.svc.cluster.local");
  CHECK(auth.port == 9000);
  CHECK(auth.path == "/verify?scope=api");
  CHECK(auth.method == "POST");
  CHECK(auth.response_headers == std::vector<std::string>{"x-user", "x-groups"});
  CHECK(auth.signin == "https://login.example.com/start");
  CHECK(auth.cache_key == std::vector<std::string>{"authorization", "$remote_addr"});
  CHECK(auth.cache_duration == 5min);
  CHECK(auth.timeout == 750ms);
  CHECK(options.problems.empty());

  IngressOptions plain = read({{nginx("auth-url"), "http://10.0.0.9"}});
  REQUIRE(plain.access.external_auth);
  CHECK(plain.access.external_auth->host == "10.0.0.9");
  CHECK(plain.access.external_auth->port == 80);
  CHECK(plain.access.external_auth->path == "/");
  CHECK(plain.access.external_auth->method == "GET");
  CHECK(plain.access.external_auth->timeout == 5s);
  CHECK(plain.access.external_auth->cache_duration == 0ms);

  CHECK(read({{nginx("auth-url"), "http://[fd00::9]:8080/a"}}).access.external_auth->host == "fd00::9");
  auto keyed = read({{nginx("auth-url"), "http://a/"}, {nginx("auth-cache-key"), "${http_x_api_key}:$remote_addr"},
                     {nginx("auth-cache-duration"), "200 10m, 401 30s"}});
  CHECK(keyed.access.external_auth->cache_key == std::vector<std::string>{"x-api-key", "$remote_addr"});
  CHECK(keyed.access.external_auth->cache_duration == 30s);  // the shortest
}

TEST_CASE("auth-url that grpc-ingress cannot honour refuses the Ingress with the reason", "[annotations][access]") {
  CHECK_THAT(first_refusal(read({{nginx("auth-url"), "https://auth.example.com/verify"}})),
             Catch::Matchers::Contains("is an https:// URL; grpc-ingress calls auth services over http:// only"));
  CHECK_THAT(first_refusal(read({{nginx("auth-url"), "http://$host/oauth2/auth"}})),
             Catch::Matchers::Contains("nginx variables"));
  for (const char* bad : {"auth.example.com/verify", "http://", "http://a:0/", "http://a:99999/", "http://a b/",
                          "http://user@a/", "http://[fd00::1/"}) {
    INFO(bad);
    IngressOptions options = read({{nginx("auth-url"), bad}});
    CHECK(options.refused());
    CHECK_FALSE(options.access.external_auth);
  }
  CHECK(read({{nginx("auth-url"), "http://a/"}, {nginx("auth-method"), "DELETE"}}).refused());
  CHECK(read({{nginx("auth-url"), "http://a/"}, {nginx("auth-response-headers"), "x user"}}).refused());
  CHECK_THAT(first_refusal(read({{nginx("auth-url"), "http://a/"}, {nginx("auth-cache-key"), "$request_uri"}})),
             Catch::Matchers::Contains("uses $request_uri"));
  CHECK(read({{nginx("auth-url"), "http://a/"}, {nginx("auth-cache-key"), "constant"}}).refused());
  CHECK(read({{nginx("auth-url"), "http://a/"}, {nginx("auth-cache-key"), "$http_a"},
              {nginx("auth-cache-duration"), "ok 5m"}})
            .refused());
  // Not protections: a bad timeout or sign-in URL warns.
  IngressOptions timeout = read({{nginx("auth-url"), "http://a/"}, {ours("auth-timeout"), "forever"}});
  CHECK_FALSE(timeout.refused());
  CHECK(timeout.problems.size() == 1);
  CHECK(timeout.access.external_auth->timeout == 5s);
}

TEST_CASE("ssl-redirect: ours wins, force-ssl-redirect true wins over ssl-redirect", "[annotations][access]") {
  CHECK(read({{nginx("ssl-redirect"), "false"}}).ssl_redirect == false);
  CHECK(read({{nginx("ssl-redirect"), "true"}}).ssl_redirect == true);
  CHECK(read({{nginx("ssl-redirect"), "false"}, {nginx("force-ssl-redirect"), "true"}}).ssl_redirect == true);
  CHECK(read({{nginx("force-ssl-redirect"), "false"}}).ssl_redirect == false);
  CHECK(read({{nginx("force-ssl-redirect"), "true"}, {ours("ssl-redirect"), "false"}}).ssl_redirect == false);
  IngressOptions bad = read({{nginx("ssl-redirect"), "yes"}});
  CHECK_FALSE(bad.ssl_redirect);  // the default: TLS hosts redirect
  CHECK(bad.problems.size() == 1);
}

TEST_CASE("proxy-ssl-verify on verifies pods with proxy-ssl-secret's CA", "[annotations][access]") {
  IngressOptions options = read({{nginx("proxy-ssl-secret"), "certs/client"}, {nginx("proxy-ssl-verify"), "on"}});
  CHECK(options.cluster.upstream_ca_secret == ObjectKey{"certs", "client"});
  CHECK(read({{nginx("proxy-ssl-verify"), "on"}}).refused());
  CHECK(read({{nginx("proxy-ssl-verify"), "maybe"}}).refused());
  CHECK_FALSE(read({{nginx("proxy-ssl-verify"), "off"}}).refused());
}

// ---- the translator ----

namespace {

std::string greeter_service() {
  return service({.name = "greeter", .target_port = "grpc", .endpoints = {endpoint("127.0.0.5", "greeter-0")}});
}

Translation translate_yaml(const std::string& manifests, const TranslatorOptions& options = {}) {
  Store store;
  load_yaml(store, greeter_service() + manifests);
  return translate(store, options);
}

std::string describe(const Translation& translation) {
  std::string out;
  for (const Rejection& r : translation.rejections) out += r.name + ": " + r.reason + "\n";
  return out;
}

}  // namespace

TEST_CASE("an Ingress with auth-type basic gets no routes and a rejection naming the annotation",
          "[annotations][access][translator]") {
  std::string manifests =
      ingress({.name = "protected",
               .rules = {rule("secret.example.com", {path("/", "Prefix")})},
               .created = "2024-01-01T00:00:00Z",
               .annotations = "nginx.ingress.kubernetes.io/auth-type: basic, nginx.ingress.kubernetes.io/auth-secret: users",
               .default_backend = "{service: {name: greeter, port: {name: grpc}}}"}) +
      ingress({.name = "open", .rules = {rule("open.example.com", {path("/", "Prefix")})}});
  Translation refused = translate_yaml(manifests);
  INFO(describe(refused));
  CHECK(refused.table.exact_hosts.count("secret.example.com") == 0);
  CHECK_FALSE(refused.table.default_route);
  CHECK(refused.table.exact_hosts.count("open.example.com") == 1);
  REQUIRE(refused.rejections.size() == 2);
  CHECK(refused.rejections[0].kind == "Ingress");
  CHECK(refused.rejections[0].name == "protected");
  CHECK_THAT(refused.rejections[0].reason,
             Catch::Matchers::StartsWith("annotation nginx.ingress.kubernetes.io/auth-secret is security-relevant"));
  CHECK_THAT(refused.rejections[1].reason,
             Catch::Matchers::StartsWith("annotation nginx.ingress.kubernetes.io/auth-type is security-relevant"));
  // Still one of ours: its status is written.
  CHECK(std::count(refused.served_ingresses->begin(), refused.served_ingresses->end(), ObjectKey{"default", "protected"}) == 1);

  TranslatorOptions allow;
  allow.annotations.allow_unsupported_security = true;
  Translation served = translate_yaml(manifests, allow);
  INFO(describe(served));
  CHECK(served.table.exact_hosts.count("secret.example.com") == 1);
  CHECK(served.table.default_route);
  REQUIRE(served.rejections.size() == 2);  // still warned
  CHECK_THAT(served.rejections[0].reason, Catch::Matchers::Contains("served WITHOUT it"));
}

TEST_CASE("a refused Ingress serves no certificate either, and is served with it once fixed",
          "[annotations][access][translator]") {
  TlsCertificate cert = *make_self_signed_certificate("a.example.com");
  std::string secret_yaml = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: a-tls, namespace: default}\n"
                            "type: kubernetes.io/tls\ndata:\n  tls.crt: " + encode_base64(cert.cert_pem) +
                            "\n  tls.key: " + encode_base64(cert.key_pem) + "\n";
  auto with_annotations = [&](const std::string& annotations) {
    return secret_yaml +
           ingress({.name = "a", .rules = {rule("a.example.com", {path("/", "Prefix")})}, .annotations = annotations}) +
           "  tls: [{hosts: ['a.example.com'], secretName: a-tls}]\n";
  };
  Translation refused = translate_yaml(with_annotations("nginx.ingress.kubernetes.io/enable-modsecurity: 'true'"));
  INFO(describe(refused));
  CHECK(refused.table.tls.certificates.empty());
  CHECK(refused.table.exact_hosts.empty());
  Translation fixed = translate_yaml(with_annotations("nginx.ingress.kubernetes.io/enable-modsecurity: 'false'"));
  INFO(describe(fixed));
  CHECK(fixed.table.tls.certificates.count("a.example.com") == 1);
  CHECK(fixed.table.exact_hosts.count("a.example.com") == 1);
}

TEST_CASE("a typo of ours refuses the Ingress in the translation", "[annotations][access][translator]") {
  Translation translation = translate_yaml(ingress({.name = "typo",
                                                    .rules = {rule("a.example.com", {path("/", "Prefix")})},
                                                    .annotations = "grpc-ingress.io/limit-rsp: '10'"}));
  CHECK(translation.table.exact_hosts.empty());
  REQUIRE(translation.rejections.size() == 1);
  CHECK_THAT(translation.rejections[0].reason, Catch::Matchers::StartsWith("unknown annotation grpc-ingress.io/limit-rsp"));
}

TEST_CASE("every route of an Ingress shares one access policy, other Ingresses' routes carry none",
          "[annotations][access][translator]") {
  Translation translation = translate_yaml(
      ingress({.name = "guarded",
               .rules = {rule("a.example.com", {path("/one", "Prefix"), path("/two", "Exact")}),
                         rule("b.example.com", {path("/", "Prefix")})},
               .annotations = "nginx.ingress.kubernetes.io/whitelist-source-range: '10.0.0.0/8, fd00::/8', "
                              "nginx.ingress.kubernetes.io/limit-rps: '20'",
               .default_backend = "{service: {name: greeter, port: {name: grpc}}}"}) +
      ingress({.name = "open", .rules = {rule("c.example.com", {path("/", "Prefix")})}}));
  INFO(describe(translation));
  CHECK(translation.rejections.empty());
  const auto& a = translation.table.exact_hosts.at("a.example.com")->routes;
  const auto& b = translation.table.exact_hosts.at("b.example.com")->routes;
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 1);
  REQUIRE(a[0].access);
  CHECK(a[0].access->allow == ranges("10.0.0.0/8,fd00::/8"));
  CHECK(a[0].access->rate_limit->per_second == 20);
  CHECK(a[0].access.value == a[1].access.value);  // one object
  CHECK(a[0].access.value == b[0].access.value);
  REQUIRE(translation.table.default_route);
  CHECK(translation.table.default_route->access.value == a[0].access.value);
  CHECK_FALSE(translation.table.exact_hosts.at("c.example.com")->routes[0].access);
}

TEST_CASE("a canary's calls pass the main Ingress's policy, the canary's own access annotations are reported",
          "[annotations][access][translator]") {
  Translation translation = translate_yaml(
      ingress({.name = "main",
               .rules = {rule("a.example.com", {path("/", "Prefix")})},
               .created = "2024-01-01T00:00:00Z",
               .annotations = "nginx.ingress.kubernetes.io/denylist-source-range: '192.0.2.0/24'"}) +
      ingress({.name = "canary",
               .rules = {rule("a.example.com", {path("/", "Prefix")})},
               .annotations = "nginx.ingress.kubernetes.io/canary: 'true', nginx.ingress.kubernetes.io/canary-weight: '10', "
                              "nginx.ingress.kubernetes.io/limit-rps: '1'"}));
  INFO(describe(translation));
  const Route& route = translation.table.exact_hosts.at("a.example.com")->routes.at(0);
  REQUIRE(route.canary);
  REQUIRE(route.access);
  CHECK(route.access->deny == ranges("192.0.2.0/24"));
  CHECK_FALSE(route.access->rate_limit);
  REQUIRE(translation.rejections.size() == 1);
  CHECK(translation.rejections[0].name == "canary");
  CHECK_THAT(translation.rejections[0].reason, Catch::Matchers::Contains("the main Ingress's"));
}

TEST_CASE("the --limit-req-status-code flag reaches the routes' rate limits", "[annotations][access][translator]") {
  TranslatorOptions options;
  options.annotations.limit_status = 503;
  Translation translation = translate_yaml(ingress({.name = "limited",
                                                    .rules = {rule("a.example.com", {path("/", "Prefix")})},
                                                    .annotations = "nginx.ingress.kubernetes.io/limit-rpm: '60'"}),
                                           options);
  const Route& route = translation.table.exact_hosts.at("a.example.com")->routes.at(0);
  REQUIRE(route.access);
  CHECK(route.access->rate_limit->http_status == 503);
}
