// The command line of issue 15's annotation handling: refusing Ingresses
// with unsupported security annotations unless the operator accepts them,
// and the HTTP status of rate-limited requests.

#include "common/flags.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("the flag allow-unsupported-security-annotations is off unless given", "[flags]") {
  auto defaults = parse_flags({});
  REQUIRE(defaults);
  CHECK_FALSE(defaults->allow_unsupported_security_annotations);
  CHECK(defaults->limit_req_status_code == 429);  // RESOURCE_EXHAUSTED's HTTP status (DESIGN)

  auto allowed = parse_flags({"--allow-unsupported-security-annotations"});
  REQUIRE(allowed);
  CHECK(allowed->allow_unsupported_security_annotations);
  auto explicit_false = parse_flags({"--allow-unsupported-security-annotations=false"});
  REQUIRE(explicit_false);
  CHECK_FALSE(explicit_false->allow_unsupported_security_annotations);
}

TEST_CASE("the flag limit-req-status-code takes an HTTP error status", "[flags]") {
  auto flags = parse_flags({"--limit-req-status-code", "503"});  // ingress-nginx's default
  REQUIRE(flags);
  CHECK(flags->limit_req_status_code == 503);
  auto bad = parse_flags({"--limit-req-status-code", "200"});
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Matchers::Contains("--limit-req-status-code"));
}
