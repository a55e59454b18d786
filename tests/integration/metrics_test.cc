// /metrics and /debug/endpoints after real traffic, as Prometheus and an
// operator read them: a valid exposition (promtool), counters that add up to
// the calls a client made, per-pod balance visible without per-pod series
// unless --metrics-per-endpoint asks for them.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/prometheus_text.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace grpc_ingress::testing {
namespace {

constexpr int kOkCalls = 90;
constexpr int kNotFoundCalls = 4;    // answered NOT_FOUND (5) by a pod
constexpr int kUnroutedCalls = 3;    // no route: UNIMPLEMENTED (12) from the proxy
constexpr int kRoutedCalls = kOkCalls + kNotFoundCalls;

// ---- the traffic ----

struct Traffic {
  std::map<std::string, int> ok_per_pod;  // from the replies
};

// Over one channel: kOkCalls Echo/Unary (OK), kNotFoundCalls that the pod
// answers NOT_FOUND, kUnroutedCalls Greeter calls that no Ingress routes.
Traffic make_calls(const std::shared_ptr<grpc::Channel>& channel) {
  auto echo = test::Echo::NewStub(channel);
  auto greeter = helloworld::Greeter::NewStub(channel);
  Traffic traffic;
  for (int i = 0; i < kOkCalls; ++i) {
    test::EchoRequest request;
    request.set_message("call-" + std::to_string(i));
    CallResult result = echo_unary(*echo, request);
    INFO("call " << i << ": " << code_name(result.code) << " '" << result.message << "'");
    REQUIRE(result.ok());
    ++traffic.ok_per_pod[result.pod];
  }
  for (int i = 0; i < kNotFoundCalls; ++i) {
    test::EchoRequest request;
    request.set_fail_code(grpc::StatusCode::NOT_FOUND);
    request.set_fail_message("no such thing");
    CallResult result = echo_unary(*echo, request);
    INFO(code_name(result.code) << " '" << result.message << "'");
    REQUIRE(result.code == grpc::StatusCode::NOT_FOUND);
  }
  for (int i = 0; i < kUnroutedCalls; ++i) {
    CallResult result = say_hello(*greeter);
    INFO(code_name(result.code) << " '" << result.message << "'");
    REQUIRE(result.code == grpc::StatusCode::UNIMPLEMENTED);
  }
  return traffic;
}

const LabelFilter kEchoRoute = {{"namespace", "default"}, {"ingress", "grpc"}, {"service", "echo"}};
const LabelFilter kUnrouted = {{"namespace", ""}, {"ingress", ""}, {"service", ""}};

// Scrapes /metrics until the echo route has counted every routed call (a
// request is counted when the proxy closes its stream, a moment after the
// client saw the trailers). Returns the last scrape's body.
std::string scrape_after_traffic(const Ingress& ingress) {
  std::string body;
  wait_until(
      [&] {
        HttpResponse response = ingress.admin_get("/metrics");
        if (response.status != 200) return false;
        body = response.body;
        auto samples = parse_exposition(body);
        return sum_of(samples, "grpc_ingress_requests_total", kEchoRoute).value_or(0) >= kRoutedCalls &&
               sum_of(samples, "grpc_ingress_requests_total", kUnrouted).value_or(0) >= kUnroutedCalls;
      },
      3s, 20ms);
  return body;
}

// /debug/endpoints: pod name -> calls, for the endpoints of Service `service`.
std::map<std::string, int64_t> debug_endpoint_calls(const Ingress& ingress, const std::string& service,
                                                    const std::vector<std::unique_ptr<Pod>>& pods) {
  HttpResponse response = ingress.admin_get("/debug/endpoints");
  INFO("/debug/endpoints: " << response.status << " " << response.error << "\n" << response.body);
  REQUIRE(response.status == 200);
  auto doc = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(doc.is_discarded());
  std::map<std::string, int64_t> calls;
  int clusters_found = 0;
  for (const auto& cluster : doc.value("clusters", nlohmann::json::array())) {
    if (cluster.value("service", "") != service) continue;
    ++clusters_found;
    for (const auto& endpoint : cluster.value("endpoints", nlohmann::json::array())) {
      std::string pod = endpoint.value("pod", "");
      INFO("endpoint " << endpoint.dump());
      CHECK(endpoint.value("state", "") == "ready");
      CHECK(endpoint.value("active_streams", int64_t{-1}) == 0);
      bool known_address = false;
      for (const auto& p : pods) known_address |= p->name() == pod && p->address() == endpoint.value("address", "");
      CHECK(known_address);
      calls[pod] += endpoint.value("calls", int64_t{-1});
    }
  }
  CHECK(clusters_found == 1);
  return calls;
}

int64_t sum_values(const std::map<std::string, int64_t>& m) {
  int64_t sum = 0;
  for (const auto& [_, v] : m) sum += v;
  return sum;
}

TEST_CASE("after real traffic /metrics passes promtool and its request, histogram and per-pod counts add up to the calls made",
          "[proxy][metrics]") {
  const double started_unix =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  OneService setup("echo", kEchoPath, 3, {.extra_args = {"--metrics-per-endpoint"}});
  const double ready_unix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  Traffic traffic = make_calls(setup.channel());
  const std::string body = scrape_after_traffic(*setup.ingress);
  const auto samples = parse_exposition(body);
  UNSCOPED_INFO("scrape:\n" << body);

  // (a) a valid exposition, as Prometheus' own linter reads it.
  REQUIRE(::access(kPromtool, X_OK) == 0);  // missing: install Debian package prometheus (make deps)
  PromtoolResult promtool = promtool_check(setup.tmp.path(), body);
  {
    INFO("promtool check metrics exited " << promtool.exit_code << ":\n" << promtool.output);
    CHECK(promtool.exit_code == 0);
  }

  // (b) requests by code: exactly the calls made, nothing else on the route.
  auto requests = [&](const LabelFilter& route, const std::string& code) {
    LabelFilter filter = route;
    if (!code.empty()) filter["grpc_code"] = code;
    return sum_of(samples, "grpc_ingress_requests_total", filter).value_or(0);
  };
  CHECK(requests(kEchoRoute, "OK") == kOkCalls);
  CHECK(requests(kEchoRoute, "NOT_FOUND") == kNotFoundCalls);
  CHECK(requests(kEchoRoute, "") == kRoutedCalls);
  CHECK(requests(kUnrouted, "UNIMPLEMENTED") == kUnroutedCalls);
  // gRPC calls carry grpc_code and never http_code (nor the old code label).
  for (const Sample& sample : samples) {
    if (sample.name != "grpc_ingress_requests_total") continue;
    CHECK(sample.labels.count("grpc_code") == 1);
    CHECK(sample.labels.count("http_code") == 0);
    CHECK(sample.labels.count("code") == 0);
  }
  CHECK(requests(kUnrouted, "") == kUnroutedCalls);
  CHECK(sum_of(samples, "grpc_ingress_requests_total").value_or(0) == kRoutedCalls + kUnroutedCalls);
  CHECK(sum_of(samples, "grpc_ingress_upstream_requests_total", {{"service", "echo"}}).value_or(0) == kRoutedCalls);

  // (c) /debug/endpoints: every routed call counted on the pod that served it,
  // and the pods agree with the proxy.
  auto per_pod = debug_endpoint_calls(*setup.ingress, "echo", setup.pods);
  CHECK(per_pod.size() == 3);
  CHECK(sum_values(per_pod) == kRoutedCalls);
  for (const auto& pod : setup.pods) {
    int64_t pod_says = pod_stats(pod->address(), "").calls();
    INFO(pod->name() << ": /debug/endpoints " << per_pod[pod->name()] << " calls, the pod counted " << pod_says
                     << ", OK replies from it " << traffic.ok_per_pod[pod->name()]);
    CHECK(per_pod[pod->name()] == pod_says);
    CHECK(per_pod[pod->name()] >= traffic.ok_per_pod[pod->name()]);
    CHECK(per_pod[pod->name()] > 0);
  }

  // (d) --metrics-per-endpoint: the same counts as Prometheus series.
  CHECK(count_of(samples, "grpc_ingress_endpoint_requests_total", {{"service", "echo"}}) == 3);
  CHECK(sum_of(samples, "grpc_ingress_endpoint_requests_total", {{"service", "echo"}}).value_or(-1) == kRoutedCalls);
  for (const auto& pod : setup.pods) {
    LabelFilter filter = {{"namespace", "default"}, {"service", "echo"}, {"pod", pod->name()}, {"endpoint", pod->address()}};
    INFO(pod->name());
    CHECK(sum_of(samples, "grpc_ingress_endpoint_requests_total", filter).value_or(-1) == per_pod[pod->name()]);
    CHECK(sum_of(samples, "grpc_ingress_endpoint_active_streams", filter).value_or(-1) == 0);
  }

  // (e) the duration histogram counts every request of its route, buckets cumulative.
  for (const auto& [route, total] : {std::pair{kEchoRoute, kRoutedCalls}, std::pair{kUnrouted, kUnroutedCalls}}) {
    INFO("route service='" << route.at("service") << "'");
    CHECK(sum_of(samples, "grpc_ingress_request_duration_seconds_count", route).value_or(-1) == total);
    LabelFilter inf = route;
    inf["le"] = "+Inf";
    CHECK(sum_of(samples, "grpc_ingress_request_duration_seconds_bucket", inf).value_or(-1) == total);
    double sum = sum_of(samples, "grpc_ingress_request_duration_seconds_sum", route).value_or(-1);
    CHECK(sum > 0);
    CHECK(sum < total * 2.0);  // every call took well under the 2 s deadline
    double previous = 0;
    size_t buckets = 0;
    for (const Sample& sample : samples) {
      if (!matches(sample, "grpc_ingress_request_duration_seconds_bucket", route)) continue;
      ++buckets;
      CHECK(sample.value >= previous);
      previous = sample.value;
    }
    CHECK(buckets > 5);
  }

  // (f) standard process metrics, with values that fit this process; unix
  // timestamps written to the second at least.
  const double now_unix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto rss = sum_of(samples, "process_resident_memory_bytes");
  auto fds = sum_of(samples, "process_open_fds");
  auto max_fds = sum_of(samples, "process_max_fds");
  auto start_time = sum_of(samples, "process_start_time_seconds");
  auto cpu = sum_of(samples, "process_cpu_seconds_total");
  REQUIRE(rss);
  REQUIRE(fds);
  REQUIRE(start_time);
  REQUIRE(cpu);
  const double measured_rss = setup.ingress->rss_kib() * 1024.0;
  INFO("RSS " << *rss << " bytes (measured " << measured_rss << "), open fds " << *fds << ", start time " << std::fixed
              << *start_time << " (test started " << started_unix << ", ready " << ready_unix << ", now " << now_unix
              << "), cpu " << *cpu);
  CHECK(*rss > 1 << 20);
  CHECK(*rss > measured_rss / 2);
  CHECK(*rss < measured_rss * 2);
  CHECK(*fds >= 5);  // stdio, listeners, the scrape's own connection
  CHECK(*fds < 1000);
  if (max_fds) CHECK(*fds <= *max_fds);
  // The process started between these two moments (the margin: boot time
  // and clock ticks in /proc have limited resolution).
  CHECK(*start_time >= started_unix - 1.5);
  CHECK(*start_time <= ready_unix + 1.5);
  for (const char* name : {"process_start_time_seconds", "grpc_ingress_config_last_applied_timestamp_seconds"}) {
    const Sample* sample = find_sample(samples, name);
    INFO(name << " written as '" << (sample ? sample->text : "<absent>") << "'");
    REQUIRE(sample);
    CHECK(written_resolution(sample->text) <= 1.0);
    CHECK(sample->value >= started_unix - 1.5);
    CHECK(sample->value <= now_unix + 1.5);
  }
  CHECK(*cpu >= 0);
  CHECK(*cpu < 120);
}

TEST_CASE("per-pod Prometheus series appear only with --metrics-per-endpoint, /debug/endpoints counts calls per pod always",
          "[proxy][metrics]") {
  OneService setup("echo", kEchoPath, 3);  // no --metrics-per-endpoint
  make_calls(setup.channel());
  const std::string body = scrape_after_traffic(*setup.ingress);
  const auto samples = parse_exposition(body);
  INFO("scrape:\n" << body);

  CHECK(body.find("grpc_ingress_endpoint_") == std::string::npos);  // no series, no HELP/TYPE either
  CHECK(sum_of(samples, "grpc_ingress_requests_total", kEchoRoute).value_or(0) == kRoutedCalls);

  auto per_pod = debug_endpoint_calls(*setup.ingress, "echo", setup.pods);
  CHECK(per_pod.size() == 3);
  CHECK(sum_values(per_pod) == kRoutedCalls);
  for (const auto& pod : setup.pods) {
    INFO(pod->name());
    CHECK(per_pod[pod->name()] == pod_stats(pod->address(), "").calls());
  }
}

}  // namespace
}  // namespace grpc_ingress::testing

namespace grpc_ingress::testing {

TEST_CASE("the flag --version prints the version, and /metrics has grpc_ingress_build_info with it", "[metrics]") {
  FILE* pipe = ::popen(GRPC_INGRESS_BINARY " --version", "r");
  REQUIRE(pipe);
  char line[256] = {};
  std::string printed = std::fgets(line, sizeof line, pipe) ? line : "";
  int status = ::pclose(pipe);
  CHECK(status == 0);
  std::smatch match;
  REQUIRE(std::regex_search(printed, match, std::regex("^grpc-ingress ([0-9]+\\.[0-9]+\\.[0-9]+) \\(nghttp2 ")));
  const std::string version = match[1];

  OneService setup("echo", kEchoPath, 1);
  const auto samples = parse_exposition(setup.ingress->admin_get("/metrics").body);
  CHECK(count_of(samples, "grpc_ingress_build_info", {{"version", version}}) == 1);
  CHECK(sum_of(samples, "grpc_ingress_build_info").value_or(0) == 1);
}

}  // namespace grpc_ingress::testing
