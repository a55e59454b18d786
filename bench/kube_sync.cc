// kube-sync-bench: Kubernetes API mode at scale, against the fake API server
// the tests use. A benchmark, not a test: it prints figures, it asserts nothing.
//
//  1. Initial sync: N Ingresses (one host and one Prefix path each), N Services
//     and N EndpointSlices sharing E endpoints, preloaded into the fake. From the
//     start of grpc-ingress to /readyz 200: the list of each kind (when it
//     completed, from the binary's log), the first table build, RSS and CPU time.
//  2. Change to route: with those objects in place, one more Service of two real
//     gRPC pods; its EndpointSlice is switched from one pod to the other R times
//     through the API while a client calls back to back. Each switch is timed from
//     the API write to the first call the new pod answers; every change rebuilds
//     the whole table of N Ingresses.
//
// Usage: kube-sync-bench [--ingresses 10000] [--endpoints 100000] [--changes 20] [--out FILE]

#include "tests/integration/api_objects.h"
#include "tests/integration/continuous_caller.h"
#include "tests/integration/fake_api_server.h"
#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace grpc_ingress::testing {
namespace {

using nlohmann::json;

struct Options {
  int ingresses = 10'000;
  int endpoints = 100'000;
  int changes = 20;
  std::string out;
};

std::string ip_of(int index) {
  return "10." + std::to_string((index >> 16) & 255) + "." + std::to_string((index >> 8) & 255) + "." +
         std::to_string(index & 255);
}

// The cluster's objects: Ingress i routes host app-i.bench.example.com, path
// /bench.App<i>, to Service app-i, whose EndpointSlice holds its share of the
// endpoints.
json cluster_objects(const Options& options) {
  json objects = json::array();
  objects.push_back(yaml_documents(ManifestDir::ingress_class_yaml())[0]);
  int per_service = std::max(1, options.endpoints / std::max(1, options.ingresses));
  int next_ip = 1;
  for (int i = 0; i < options.ingresses; ++i) {
    std::string name = "app-" + std::to_string(i);
    std::string ns = "bench-" + std::to_string(i % 20);
    objects.push_back({{"apiVersion", "networking.k8s.io/v1"},
                       {"kind", "Ingress"},
                       {"metadata", {{"name", name}, {"namespace", ns}}},
                       {"spec",
                        {{"ingressClassName", "grpc"},
                         {"rules",
                          {{{"host", name + ".bench.example.com"},
                            {"http",
                             {{"paths",
                               {{{"path", "/bench.App" + std::to_string(i)},
                                 {"pathType", "Prefix"},
                                 {"backend", {{"service", {{"name", name}, {"port", {{"name", "grpc"}}}}}}}}}}}}}}}}}});
    objects.push_back({{"apiVersion", "v1"},
                       {"kind", "Service"},
                       {"metadata", {{"name", name}, {"namespace", ns}}},
                       {"spec",
                        {{"clusterIP", "None"},
                         {"ports", {{{"name", "grpc"}, {"port", 80}, {"targetPort", "grpc"}}}}}}});
    json endpoints = json::array();
    for (int e = 0; e < per_service; ++e) {
      endpoints.push_back({{"addresses", {ip_of(next_ip++)}},
                           {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}},
                           {"targetRef", {{"kind", "Pod"}, {"name", name + "-" + std::to_string(e)}}}});
    }
    objects.push_back({{"apiVersion", "discovery.k8s.io/v1"},
                       {"kind", "EndpointSlice"},
                       {"metadata",
                        {{"name", name + "-slice"},
                         {"namespace", ns},
                         {"labels", {{"kubernetes.io/service-name", name}}}}},
                       {"addressType", "IPv4"},
                       {"ports", {{{"name", "grpc"}, {"port", 50051}}}},
                       {"endpoints", endpoints}});
  }
  return objects;
}

// The binary's log, line by line: "<time> <level> <message>".
struct LogLine {
  double seconds = 0;  // since midnight UTC: only differences are used
  std::string message;
};

std::vector<LogLine> log_lines(const std::string& text) {
  static const std::regex kLine(R"(^\S+T(\d\d):(\d\d):(\d\d\.\d+)Z \S+ (.*)$)");
  std::vector<LogLine> out;
  std::istringstream in(text);
  std::string line;
  std::smatch match;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, match, kLine)) continue;
    out.push_back({std::stoi(match[1]) * 3600.0 + std::stoi(match[2]) * 60.0 + std::stod(match[3]), match[4]});
  }
  return out;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

// utime + stime of a process, from /proc/PID/stat.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) {
      stime = std::stoul(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string fixed(double value, int digits = 1) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

int run(const Options& options) {
  TempDir tmp;
  std::ostringstream report;
  std::cerr << "writing " << options.ingresses << " Ingresses, Services and EndpointSlices ("
            << options.endpoints << " endpoints)...\n";
  auto initial = tmp.path() / "initial.json";
  std::ofstream(initial) << cluster_objects(options).dump();

  FakeApiServerOptions api_options;
  api_options.extra_args = {"--initial", initial.string()};
  api_options.start_timeout = std::chrono::minutes(10);
  api_options.request_timeout = std::chrono::minutes(1);
  auto load_started = Clock::now();
  auto api = FakeApiServer::start(tmp.path() / "api", api_options);
  auto loaded = std::chrono::duration<double>(Clock::now() - load_started).count();
  std::cerr << "fake API server loaded the objects in " << fixed(loaded) << " s; starting grpc-ingress...\n";

  IngressOptions ingress_options;
  ingress_options.threads = 2;
  ingress_options.ready_timeout = std::chrono::minutes(10);
  ingress_options.extra_args = {"--log-level", std::getenv("KUBE_BENCH_DEBUG") ? "debug" : "info", "--access-log=false"};
  auto started = Clock::now();
  auto ingress = start_api_mode(*api, tmp.path(), ingress_options);
  double ready_s = std::chrono::duration<double>(Clock::now() - started).count();
  double sync_cpu = cpu_seconds(ingress->process().pid());
  long sync_rss = ingress->rss_kib();

  auto lines = log_lines(ingress->process().stderr_text());
  double start_at = lines.empty() ? 0 : lines.front().seconds;
  report << "## Initial sync: " << options.ingresses << " Ingresses, " << options.endpoints << " endpoints\n\n"
         << "| step | seconds after start |\n|---|---|\n";
  static const std::regex kListed(R"(kube: listed (\d+) (\w+) at resourceVersion \S+ \((\d+) page)");
  static const std::regex kFirst(R"(publishing routing table v(\d+): (\d+) route\(s\), (\d+) service port\(s\), (\d+) endpoint\(s\).*\(built in (\d+) us)");
  static const std::regex kBuilt(R"(publishing routing table v(\d+): .*\(built in (\d+) us)");
  std::smatch match;
  std::string first_build;
  for (const LogLine& line : lines) {
    if (std::regex_search(line.message, match, kListed)) {
      report << "| listed " << match[1] << " " << match[2] << " (" << match[3] << " pages) | "
             << fixed(line.seconds - start_at, 2) << " |\n";
    } else if (std::regex_search(line.message, match, kFirst) && match[1] == "1") {
      first_build = std::string(match[2]) + " routes, " + std::string(match[3]) + " service ports, " +
                    std::string(match[4]) + " endpoints, built in " + fixed(std::stod(match[5]) / 1000.0) + " ms";
      report << "| first table published | " << fixed(line.seconds - start_at, 2) << " |\n";
    }
  }
  report << "| /readyz 200 (as the harness saw it) | " << fixed(ready_s, 2) << " |\n\n"
         << "First table: " << first_build << ". grpc-ingress after the sync: RSS " << fixed(sync_rss / 1024.0)
         << " MiB, CPU " << fixed(sync_cpu, 2) << " s (user + system, the whole start-up).\n\n";

  // ---- change to route ----
  std::cerr << "ready after " << fixed(ready_s, 2) << " s; measuring " << options.changes << " endpoint changes...\n";
  ApiObjects objects(*api);
  auto a = Pod::start(tmp.path(), "latency-a");
  auto b = Pod::start(tmp.path(), "latency-b");
  objects.write_service("latency", {a->endpoint()});
  objects.write_ingress({.name = "latency", .paths = {{.path = kGreeterPath, .service = "latency"}}});
  // (Not /debug/routes: with this many routes it is tens of megabytes of JSON.)
  auto probe = helloworld::Greeter::NewStub(make_channel(ingress->target()));
  if (!wait_until([&] { return say_hello(*probe).ok(); }, 60s, 50ms)) {
    std::cerr << "the latency Service was never routed\n";
    return 1;
  }
  ContinuousCaller caller(ingress->target(), 2s, std::chrono::minutes(30));
  if (!caller.wait_for_pod("latency-a", Clock::now() - 1s, 30s)) {
    std::cerr << "the latency Service never answered: " << caller.summary() << "\n";
    return 1;
  }
  size_t log_before = log_lines(ingress->process().stderr_text()).size();
  std::vector<double> delays_ms;
  std::vector<double> applies_ms;
  for (int i = 0; i < options.changes; ++i) {
    const Pod& next = i % 2 == 0 ? *b : *a;
    auto written = Clock::now();
    objects.write_endpoints("latency", {next.endpoint()});
    if (!caller.wait_for_pod(next.name(), written, 30s)) {
      std::cerr << "change " << i << ": " << next.name() << " never answered\n";
      continue;
    }
    delays_ms.push_back(
        std::chrono::duration<double, std::milli>(*caller.first_answer(next.name(), written) - written).count());
    std::this_thread::sleep_for(300ms);  // let the old slice's deletion settle before the next change
    // Build start to every worker using the table, for the last table of this change.
    double apply_s = metric_value(*ingress, "grpc_ingress_config_apply_duration_seconds");
    if (apply_s >= 0) applies_ms.push_back(apply_s * 1000);
  }
  caller.stop();
  std::vector<double> builds_ms;
  auto after = log_lines(ingress->process().stderr_text());
  for (size_t i = log_before; i < after.size(); ++i) {
    if (std::regex_search(after[i].message, match, kBuilt)) builds_ms.push_back(std::stod(match[2]) / 1000.0);
  }
  report << "## EndpointSlice change in the API → first call answered by the new pod\n\n"
         << options.changes << " changes with the " << options.ingresses
         << " Ingresses above in the store; a client calling back to back over one channel.\n\n"
         << "| | median | p90 | max |\n|---|---|---|---|\n"
         << "| API write → first call on the new pod (ms) | " << fixed(percentile(delays_ms, 0.5)) << " | "
         << fixed(percentile(delays_ms, 0.9)) << " | " << fixed(percentile(delays_ms, 1.0)) << " |\n"
         << "| table build per change (ms) | " << fixed(percentile(builds_ms, 0.5)) << " | "
         << fixed(percentile(builds_ms, 0.9)) << " | " << fixed(percentile(builds_ms, 1.0)) << " |\n"
         << "| table build start → every worker uses it (ms) | " << fixed(percentile(applies_ms, 0.5)) << " | "
         << fixed(percentile(applies_ms, 0.9)) << " | " << fixed(percentile(applies_ms, 1.0)) << " |\n\n"
         << "Calls: " << caller.summary() << ". The delay includes the fake API server's write and watch "
         << "delivery and the publisher's 50 ms debounce.\n";

  std::cout << report.str();
  if (!options.out.empty()) std::ofstream(options.out) << report.str();
  return 0;
}

}  // namespace
}  // namespace grpc_ingress::testing

int main(int argc, char** argv) {
  grpc_ingress::testing::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--ingresses") {
      options.ingresses = std::stoi(value());
    } else if (arg == "--endpoints") {
      options.endpoints = std::stoi(value());
    } else if (arg == "--changes") {
      options.changes = std::stoi(value());
    } else if (arg == "--out") {
      options.out = value();
    } else {
      std::cerr << "usage: kube-sync-bench [--ingresses 10000] [--endpoints 100000] [--changes 20] [--out FILE]\n";
      return arg == "--help" ? 0 : 2;
    }
  }
  try {
    return grpc_ingress::testing::run(options);
  } catch (const std::exception& error) {
    std::cerr << "kube-sync-bench: " << error.what() << "\n";
    return 1;
  }
}
