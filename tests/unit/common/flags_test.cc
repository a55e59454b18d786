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

TEST_CASE("durations take a bare number of seconds or Go's form, and refuse anything else", "[flags]") {
  using std::chrono::milliseconds;
  auto parsed = [](const std::string& text) {
    milliseconds out{-1};
    auto status = parse_duration(text, out);
    return status ? out : milliseconds{-1};
  };
  CHECK(parsed("30") == milliseconds(30'000));
  CHECK(parsed("250ms") == milliseconds(250));
  CHECK(parsed("5s") == milliseconds(5'000));
  CHECK(parsed("1m30s") == milliseconds(90'000));
  CHECK(parsed("2h") == milliseconds(7'200'000));
  CHECK(parsed("1h2m3s4ms") == milliseconds(3'723'004));
  CHECK(parsed("1.5h") == milliseconds(5'400'000));
  CHECK(parsed("0.5s") == milliseconds(500));
  CHECK(parsed("0") == milliseconds(0));
  CHECK(parsed("0s") == milliseconds(0));
  CHECK(parsed("1500us") == milliseconds(1));
  CHECK(parsed("10us") == milliseconds(1));  // never rounded down to "none"
  CHECK(parsed("2000000ns") == milliseconds(2));
  for (const char* bad : {"", "s", "5", "1x", "1m30", "ms", "1..5s", ".s", "-1s", "1 m", "5S", "1d", "1e3s"}) {
    if (std::string(bad) == "5") continue;  // a bare number is seconds
    INFO(bad);
    CHECK(parsed(bad) == milliseconds(-1));
  }
  milliseconds out{};
  CHECK_FALSE(parse_duration("100000000000h", out));
}

TEST_CASE("the flag controller-class is ingress-nginx's name for controller-name", "[flags]") {
  auto flags = parse_flags({"--controller-class", "example.com/ingress"});
  REQUIRE(flags);
  CHECK(flags->controller_name == "example.com/ingress");
}

TEST_CASE("the flag watch-ingress-without-class is off unless given", "[flags]") {
  CHECK_FALSE(parse_flags({})->watch_ingress_without_class);
  CHECK(parse_flags({"--watch-ingress-without-class"})->watch_ingress_without_class);
  CHECK_FALSE(parse_flags({"--watch-ingress-without-class=false"})->watch_ingress_without_class);
}

TEST_CASE("the admin flags: bind address (also as ingress-nginx's --healthz-host), /debug access, stall timeout", "[flags]") {
  auto defaults = parse_flags({});
  REQUIRE(defaults);
  CHECK(defaults->admin_bind_address.empty());  // the traffic listeners' --bind-address
  CHECK(defaults->admin_debug_access == DebugAccess::kLoopback);
  CHECK(defaults->healthz_stall_timeout == std::chrono::seconds(10));

  auto set = parse_flags({"--admin-bind-address", "10.1.2.3", "--admin-debug-access=any", "--healthz-stall-timeout=30s"});
  REQUIRE(set);
  CHECK(set->admin_bind_address == "10.1.2.3");
  CHECK(set->admin_debug_access == DebugAccess::kAny);
  CHECK(set->healthz_stall_timeout == std::chrono::seconds(30));
  auto nginx_name = parse_flags({"--healthz-host", "127.0.0.1", "--admin-debug-access", "off"});
  REQUIRE(nginx_name);
  CHECK(nginx_name->admin_bind_address == "127.0.0.1");
  CHECK(nginx_name->admin_debug_access == DebugAccess::kOff);

  auto bad_access = parse_flags({"--admin-debug-access", "public"});
  REQUIRE_FALSE(bad_access);
  CHECK_THAT(bad_access.error().message, Catch::Matchers::Contains("loopback, any or off"));
  auto too_short = parse_flags({"--healthz-stall-timeout", "500ms"});
  REQUIRE_FALSE(too_short);
  CHECK_THAT(too_short.error().message, Catch::Matchers::Contains("at least 2s"));
}
