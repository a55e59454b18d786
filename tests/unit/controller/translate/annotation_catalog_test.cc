// Every annotation key is classified (issue 15, "never silently weaker"):
// supported ones are honoured, harmless ones ignored, behaviour-changing
// ones warn, unsupported security ones refuse the Ingress, and a typo of one
// of ours refuses it too.

#include "controller/translate/annotation_catalog.h"
#include "controller/translate/annotations.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>

using namespace grpc_ingress;

namespace {

IngressOptions read(std::map<std::string, std::string> annotations, AnnotationOptions options = {}) {
  ObjectMeta meta;
  meta.name = "a";
  meta.namespace_name = "team";
  meta.annotations = std::move(annotations);
  return read_annotations(meta, options);
}

std::string nginx(const std::string& name) { return std::string(kNginxAnnotationPrefix) + name; }

}  // namespace

TEST_CASE("the catalogs are sorted and without duplicates, so lookups find every entry", "[annotations][catalog]") {
  auto nginx_names = nginx_annotations();
  CHECK(std::adjacent_find(nginx_names.begin(), nginx_names.end(), [](const auto& a, const auto& b) {
          return a.name >= b.name;
        }) == nginx_names.end());
  for (const AnnotationInfo& info : nginx_names) {
    REQUIRE(find_nginx_annotation(info.name) == &info);
    CHECK_FALSE(info.note.empty());
  }
  auto ours = our_annotations();
  CHECK(std::adjacent_find(ours.begin(), ours.end(), std::greater_equal<>()) == ours.end());
  for (std::string_view name : ours) CHECK(is_our_annotation(name));
  CHECK(find_nginx_annotation("no-such-thing") == nullptr);
  CHECK_FALSE(is_our_annotation("no-such-thing"));
}

TEST_CASE("the security annotations grpc-ingress honours are classified supported", "[annotations][catalog]") {
  for (const char* name : {"whitelist-source-range", "allowlist-source-range", "denylist-source-range", "auth-tls-secret",
                           "auth-tls-verify-client", "auth-tls-verify-depth", "auth-tls-pass-certificate-to-upstream",
                           "limit-rps", "limit-rpm", "limit-connections", "limit-burst-multiplier", "limit-whitelist",
                           "limit-allowlist", "auth-url", "auth-method", "auth-response-headers", "auth-signin",
                           "auth-cache-key", "auth-cache-duration", "ssl-redirect", "force-ssl-redirect"}) {
    INFO(name);
    REQUIRE(find_nginx_annotation(name));
    CHECK(find_nginx_annotation(name)->kind == AnnotationClass::kSupported);
  }
}

TEST_CASE("an Ingress with an unsupported security annotation is refused, naming it", "[annotations][catalog]") {
  for (const char* name : {"auth-type", "auth-secret", "auth-realm", "enable-modsecurity", "enable-owasp-core-rules",
                           "modsecurity-snippet", "server-snippet", "configuration-snippet", "auth-snippet",
                           "global-rate-limit", "limit-rate", "auth-tls-match-cn", "auth-proxy-set-headers",
                           "rewrite-target", "ssl-passthrough", "custom-headers"}) {
    INFO(name);
    IngressOptions options = read({{nginx(name), "true"}});
    CHECK(options.refused());
    REQUIRE(options.unsupported_security == std::vector<std::string>{nginx(name)});
    REQUIRE(options.refusals.size() == 1);
    CHECK_THAT(options.refusals[0], Catch::Matchers::Contains("annotation " + nginx(name) + " is security-relevant"));
    CHECK_THAT(options.refusals[0], Catch::Matchers::Contains("--allow-unsupported-security-annotations"));
  }
  IngressOptions two = read({{nginx("auth-type"), "basic"}, {nginx("auth-secret"), "users"}});
  CHECK(two.refusals.size() == 2);
}

TEST_CASE("with --allow-unsupported-security-annotations the Ingress is served, with a warning", "[annotations][catalog]") {
  IngressOptions options = read({{nginx("auth-type"), "basic"}}, {.allow_unsupported_security = true});
  CHECK_FALSE(options.refused());
  CHECK(options.unsupported_security == std::vector<std::string>{nginx("auth-type")});
  REQUIRE(options.problems.size() == 1);
  CHECK_THAT(options.problems[0], Catch::Matchers::Contains("served WITHOUT it"));
  // The flag accepts missing features, not broken ones: a bad value still refuses.
  IngressOptions bad = read({{nginx("whitelist-source-range"), "10.0.0.0/33"}}, {.allow_unsupported_security = true});
  CHECK(bad.refused());
}

TEST_CASE("a security annotation set to its off value asks for nothing and is not refused", "[annotations][catalog]") {
  CHECK_FALSE(read({{nginx("enable-modsecurity"), "false"}}).refused());
  CHECK_FALSE(read({{nginx("enable-owasp-core-rules"), " False "}}).refused());
  CHECK_FALSE(read({{nginx("satisfy"), "all"}}).refused());
  CHECK(read({{nginx("satisfy"), "any"}}).refused());
  CHECK_FALSE(read({{nginx("ssl-passthrough"), "false"}}).refused());
}

TEST_CASE("harmless ingress-nginx annotations are ignored without a word", "[annotations][catalog]") {
  IngressOptions options = read({{nginx("proxy-buffer-size"), "16k"},
                                 {nginx("proxy-body-size"), "0"},
                                 {nginx("proxy-read-timeout"), "3600"},
                                 {nginx("client-body-buffer-size"), "1m"},
                                 {nginx("enable-opentelemetry"), "true"},
                                 {nginx("service-upstream"), "true"},
                                 {nginx("auth-keepalive"), "10"}});
  CHECK_FALSE(options.refused());
  CHECK(options.problems.empty());
}

TEST_CASE("behaviour-changing ingress-nginx annotations that protect nothing warn and are served",
          "[annotations][catalog]") {
  IngressOptions options = read({{nginx("affinity"), "cookie"}, {nginx("permanent-redirect"), "https://x.example"}});
  CHECK_FALSE(options.refused());
  REQUIRE(options.problems.size() == 2);
  CHECK_THAT(options.problems[0], Catch::Matchers::Contains("annotation " + nginx("affinity") + " is not implemented"));
  CHECK_THAT(options.problems[1], Catch::Matchers::Contains("permanent-redirect"));
}

TEST_CASE("enable-cors warns only when no cors-allow-origin says what to answer", "[annotations][catalog]") {
  CHECK(read({{nginx("enable-cors"), "true"}}).problems.size() == 1);
  CHECK(read({{nginx("enable-cors"), "true"}, {nginx("cors-allow-origin"), "*"}}).problems.empty());
  CHECK(read({{nginx("enable-cors"), "false"}}).problems.empty());
}

TEST_CASE("an unknown ingress-nginx annotation warns and the Ingress is served", "[annotations][catalog]") {
  IngressOptions options = read({{nginx("made-up-thing"), "1"}});
  CHECK_FALSE(options.refused());
  REQUIRE(options.problems.size() == 1);
  CHECK(options.problems[0] == "annotation " + nginx("made-up-thing") + " is not a known ingress-nginx annotation; ignored");
}

TEST_CASE("an unknown grpc-ingress.io annotation is a typo: the Ingress is refused, with the closest name",
          "[annotations][catalog]") {
  IngressOptions typo = read({{"grpc-ingress.io/whitelist-source-rnage", "10.0.0.0/8"}});
  REQUIRE(typo.refusals.size() == 1);
  CHECK_THAT(typo.refusals[0], Catch::Matchers::StartsWith("unknown annotation grpc-ingress.io/whitelist-source-rnage "
                                                            "(did you mean grpc-ingress.io/whitelist-source-range?)"));
  IngressOptions far = read({{"grpc-ingress.io/xyz", "1"}});
  REQUIRE(far.refusals.size() == 1);
  CHECK_THAT(far.refusals[0], Catch::Matchers::StartsWith("unknown annotation grpc-ingress.io/xyz;"));
  // A security annotation of ingress-nginx's that we do not implement under our prefix.
  IngressOptions nginx_only = read({{"grpc-ingress.io/modsecurity-snippet", "x"}});
  REQUIRE(nginx_only.refusals.size() == 1);
  CHECK_THAT(nginx_only.refusals[0], Catch::Matchers::Contains("is unsupported-security here"));
  // The flag does not make a typo acceptable.
  CHECK(read({{"grpc-ingress.io/retires", "1"}}, {.allow_unsupported_security = true}).refused());
  CHECK(closest_our_annotation("retires") == "retries");
  CHECK(closest_our_annotation("limit-rpss") == "limit-rps");
  CHECK(closest_our_annotation("zzzzzzzzzzzz").empty());
}

TEST_CASE("annotations of other prefixes are not ours to judge", "[annotations][catalog]") {
  IngressOptions options = read({{"kubernetes.io/ingress.class", "grpc"}, {"example.com/anything", "x"},
                                 {"ingress.kubernetes.io/auth-type", "basic"}});
  CHECK_FALSE(options.refused());
  CHECK(options.problems.empty());
}
