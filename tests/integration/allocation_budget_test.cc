// The request path's allocation budget: heap allocations per unary gRPC call
// through the data plane, counted, not timed, so the number does not depend on
// the machine. The Dataplane runs in this process (one worker, access log off,
// as `make bench` runs the binary); the pods (test-pod) and the client (h2load,
// the load generator of `make bench`) are other processes. While h2load runs,
// the only threads here are the worker's and the acceptor's (once per
// connection), so every allocation counted is the data plane's.

#include "common/route_table.h"
#include "dataplane/dataplane.h"
#include "tests/integration/allocation_counter.h"
#include "tests/integration/harness.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

// Allocations per call the request path may make, amortised over many calls
// on kept-alive connections. The goal was two; it makes about 0.05 (c10m10)
// to 0.2 (c50m20, most of it the connections h2load opens), so one is the
// line: a single new allocation per call crosses it.
constexpr double kBudgetPerCall = 1.0;

// Every call goes to the three pods of one Service, as `make demo` routes them.
std::shared_ptr<const RouteTable> greeter_table(const std::vector<std::unique_ptr<Pod>>& pods) {
  auto table = std::make_shared<RouteTable>();
  table->version = 1;
  Cluster greeter{.name = "default/greeter:50051", .service_namespace = "default", .service = "greeter",
                  .port = "50051"};
  for (const auto& pod : pods) greeter.endpoints.push_back({.ip = IpAddress::from(pod->ip()), .port = pod->port(), .pod = pod->name()});
  table->clusters = {std::make_shared<const Cluster>(std::move(greeter))};
  table->any_host = std::make_shared<const VirtualHost>(VirtualHost{
      .routes = {Route{
          .path = "/helloworld.Greeter", .cluster = 0, .ingress_namespace = "default", .ingress_name = "greeter"}}});
  return table;
}

// A gRPC frame holding HelloRequest{name: "world"}: what h2load sends as the body.
std::filesystem::path write_request_body(const std::filesystem::path& dir) {
  static const char kFrame[] = {0, 0, 0, 0, 7, 0x0a, 5, 'w', 'o', 'r', 'l', 'd'};
  std::filesystem::path path = dir / "say_hello.bin";
  std::ofstream(path, std::ios::binary).write(kFrame, sizeof(kFrame));
  return path;
}

// Runs h2load for `calls` SayHello calls over `connections` x `streams`;
// returns how many succeeded (HTTP 200; the gRPC status is checked in the metrics).
uint64_t run_h2load(const TempDir& dir, const std::filesystem::path& body, uint16_t port, int calls,
                    int connections, int streams) {
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/helloworld.Greeter/SayHello";
  auto h2load = Process::start({"h2load", "-d", body.string(), "-H", "content-type: application/grpc", "-H",
                                "te: trailers", "-c", std::to_string(connections), "-m", std::to_string(streams),
                                "-n", std::to_string(calls), url},
                               dir.path(), "h2load");
  REQUIRE(h2load->wait_exit(60s));
  std::smatch match;
  std::string out = h2load->stdout_text();
  INFO(out);
  REQUIRE(std::regex_search(out, match, std::regex(R"((\d+) succeeded)")));
  return std::stoull(match[1].str());
}

// The sum of the samples of metric `family` whose labels contain `label`.
double requests_with(const Dataplane& dataplane, const RouteTable& table, const std::string& family,
                     const std::string& label) {
  MetricsWriter metrics;
  dataplane.write_metrics(metrics, &table, /*per_endpoint=*/true);
  double sum = 0;
  std::regex sample(family + R"(\{([^}]*)\} ([0-9.e+]+))");
  std::istringstream lines(metrics.text());
  std::smatch match;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_match(line, match, sample) && match[1].str().find(label) != std::string::npos) {
      sum += std::stod(match[2].str());
    }
  }
  return sum;
}

}  // namespace

TEST_CASE("a unary gRPC call costs the data plane at most one heap allocation, amortised",
          "[allocations][request_path]") {
  std::optional<uint64_t> before_start = allocations_so_far();
  if (!before_start) {
    WARN("sanitizer build: malloc is the sanitizer's, allocations are not counted here");
    return;
  }
  TempDir dir;
  auto pods = start_pods(dir.path(), "greeter", 3);
  std::filesystem::path body = write_request_body(dir.path());

  DataplaneOptions options;
  options.bind_address = "127.0.0.1";
  options.http_port = 0;
  options.https_port = 0;
  options.threads = 1;
  Dataplane dataplane(options);
  REQUIRE(dataplane.start());
  auto table = greeter_table(pods);
  std::atomic<bool> applied{false};
  dataplane.publish(table, [&] { applied = true; });
  REQUIRE(wait_until([&] { return applied.load(); }, 5s));

  struct Load {
    int connections, streams, calls;
  };
  // The issue's two loads: few streams per connection, and many.
  for (Load load : {Load{10, 10, 20000}, Load{50, 20, 20000}}) {
    DYNAMIC_SECTION("c" << load.connections << "m" << load.streams) {
      // Warm-up: connections to the pods, free lists and buffers at their working size.
      REQUIRE(run_h2load(dir, body, dataplane.http_port(), 2000, load.connections, load.streams) == 2000);
      uint64_t before = *allocations_so_far();
      REQUIRE(run_h2load(dir, body, dataplane.http_port(), load.calls, load.connections, load.streams) ==
              static_cast<uint64_t>(load.calls));
      uint64_t made = *allocations_so_far() - before;
      double per_call = static_cast<double>(made) / load.calls;
      // Shown in the test's output: docs/performance.md quotes it.
      std::printf("allocations per unary call, c%dm%d: %.3f (%llu over %d calls)\n", load.connections,
                  load.streams, per_call, static_cast<unsigned long long>(made), load.calls);
      CHECK(per_call <= kBudgetPerCall);

      // The calls were real: each answered OK by a pod, spread over all three.
      CHECK(requests_with(dataplane, *table, "grpc_ingress_requests_total", "grpc_code=\"OK\"") >= 2000 + load.calls);
      for (const auto& pod : pods) {
        INFO(pod->name());
        CHECK(requests_with(dataplane, *table, "grpc_ingress_endpoint_requests_total",
                            "pod=\"" + pod->name() + "\"") > 0);
      }
    }
  }
  dataplane.stop();
}
