// kube-sync-bench: Kubernetes API mode at scale, against the fake API server
// the tests use. A benchmark, not a test: it prints figures, it asserts nothing.
//
//  1. Initial sync: N Ingresses (one host and one Prefix path each), N Services
//     and N EndpointSlices sharing E endpoints, preloaded into the fake. From the
//     start of grpc-ingress to /readyz 200: the list of each kind (when it
//     completed, from the binary's log), the first table build, RSS and CPU time.
//  2. EndpointSlice change to route: with those objects in place, one more
//     Service of two real gRPC pods; its EndpointSlice is switched from one pod
//     to the other R times through the API while a client calls back to back.
//     Each switch is timed from the API write to the first call the new pod
//     answers, and broken into phases from the binary's (debug) log: the watch
//     event decoded, the translation, the comparison with the running table,
//     the hand-over to every worker.
//  3. Ingress change to route: I times, an Ingress for a new host is written; a
//     client already connected with that authority calls until it is answered.
//  4. Sustained churn: EndpointSlices of the N Services rewritten at U per second
//     for S seconds while the client calls; every half second the pods'
//     EndpointSlice is switched and timed as in 2 (the lag under churn), and the
//     client's call latency is compared with an idle stretch just before.
//
// Usage: kube-sync-bench [--ingresses 10000] [--endpoints 100000] [--changes 100]
//          [--ingress-changes 100] [--churn-rate 200] [--churn-seconds 60] [--out FILE]

#include "tests/integration/api_objects.h"
#include "tests/integration/continuous_caller.h"
#include "tests/integration/fake_api_server.h"
#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
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
  int changes = 100;
  int ingress_changes = 100;
  int churn_rate = 200;  // EndpointSlice writes per second
  int churn_seconds = 60;
  std::string out;
};

std::string ip_of(int index) {
  return "10." + std::to_string((index >> 16) & 255) + "." + std::to_string((index >> 8) & 255) + "." +
         std::to_string(index & 255);
}

int per_service(const Options& options) { return std::max(1, options.endpoints / std::max(1, options.ingresses)); }

// The EndpointSlice of Service app-`i`. Version 0 holds its share of the
// endpoints; each later version has one pod replaced (as a rolling update does).
json slice_object(const Options& options, int i, int version) {
  std::string name = "app-" + std::to_string(i);
  int share = per_service(options);
  int first_ip = 1 + i * share;
  json endpoints = json::array();
  for (int e = 0; e < share; ++e) {
    bool replaced = version > 0 && e == version % share;
    int ip = replaced ? 0x800000 + (first_ip + e + version * 7919) % 0x7fffff : first_ip + e;
    std::string pod = name + "-" + std::to_string(e) + (replaced ? "-v" + std::to_string(version) : "");
    endpoints.push_back({{"addresses", {ip_of(ip)}},
                         {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}},
                         {"targetRef", {{"kind", "Pod"}, {"name", pod}}}});
  }
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name + "-slice"},
            {"namespace", "bench-" + std::to_string(i % 20)},
            {"labels", {{"kubernetes.io/service-name", name}}}}},
          {"addressType", "IPv4"},
          {"ports", {{{"name", "grpc"}, {"port", 50051}}}},
          {"endpoints", endpoints}};
}

// The cluster's objects: Ingress i routes host app-i.bench.example.com, path
// /bench.App<i>, to Service app-i, whose EndpointSlice holds its share of the
// endpoints.
json cluster_objects(const Options& options) {
  json objects = json::array();
  objects.push_back(yaml_documents(ManifestDir::ingress_class_yaml())[0]);
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
    objects.push_back(slice_object(options, i, 0));
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

// Milliseconds, summarised as one row of a Markdown table.
struct Samples {
  std::vector<double> values;

  Samples() = default;
  explicit Samples(std::vector<double> v) : values(std::move(v)) {}
  void add(double value) { values.push_back(value); }
  size_t size() const { return values.size(); }
  double at(double p) const { return percentile(values, p); }
  static std::string header() { return "| ms | n | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n"; }
  std::string row(const std::string& label) const {
    if (values.empty()) return "| " + label + " | 0 | | | | |\n";
    return "| " + label + " | " + std::to_string(values.size()) + " | " + fixed(at(0.5), 2) + " | " + fixed(at(0.9), 2) +
           " | " + fixed(at(0.99), 2) + " | " + fixed(at(1.0), 2) + " |\n";
  }
};

// As log_lines() counts time: seconds since midnight UTC.
double seconds_of_day(std::chrono::system_clock::time_point at) {
  return std::fmod(std::chrono::duration<double>(at.time_since_epoch()).count(), 86400.0);
}

// Where the time of the changes went, from grpc-ingress's log.
struct Phases {
  Samples decoded;           // API write → the watch event decoded
  std::vector<double> decoded_by_write;  // the same, by write (-1: not found)
  Samples translate;         // per table published
  Samples compare;
  Samples handover;          // handed to the data plane → every worker uses it
  Samples build_to_applied;  // build start → every worker uses it
  int tables = 0;

  std::string rows() const {
    return decoded.row("API write → watch event decoded") + translate.row("translate, per table") +
           compare.row("compare with the running table, per table") +
           handover.row("hand-over → every worker uses the table") +
           build_to_applied.row("build start → every worker uses the table");
  }
};

// The phases in lines[from...]; `written_at` (seconds_of_day) are the API
// writes, each matched to the first later event line containing `event`.
Phases phases_of(const std::vector<LogLine>& lines, size_t from, const std::vector<double>& written_at,
                 const std::string& event) {
  static const std::regex kPublished(
      R"(publishing routing table v\d+: .*\(built in \d+ us: translate (\d+) us, compare (\d+) us\))");
  static const std::regex kApplied(
      R"(routing table v\d+ serves on every worker, (\d+) us after it was handed over \((\d+) us after its build began\))");
  Phases out;
  std::smatch match;
  for (size_t i = from; i < lines.size(); ++i) {
    if (std::regex_search(lines[i].message, match, kPublished)) {
      ++out.tables;
      out.translate.add(std::stod(match[1]) / 1000.0);
      out.compare.add(std::stod(match[2]) / 1000.0);
    } else if (std::regex_search(lines[i].message, match, kApplied)) {
      out.handover.add(std::stod(match[1]) / 1000.0);
      out.build_to_applied.add(std::stod(match[2]) / 1000.0);
    }
  }
  size_t cursor = from;
  for (double written : written_at) {
    while (cursor < lines.size() &&
           (lines[cursor].seconds < written || lines[cursor].message.find("kube: " + event) == std::string::npos)) {
      ++cursor;
    }
    if (cursor == lines.size()) break;
    out.decoded.add((lines[cursor].seconds - written) * 1000.0);
    out.decoded_by_write.push_back(out.decoded.values.back());
  }
  out.decoded_by_write.resize(written_at.size(), -1);
  return out;
}

// What grpc-ingress itself took of each change: from the watch event decoded
// to the first call answered (`delays` and the writes in the same order; -1: missing).
Samples own_share(const std::vector<double>& delays, const Phases& phases) {
  Samples out;
  for (size_t i = 0; i < delays.size() && i < phases.decoded_by_write.size(); ++i) {
    if (delays[i] >= 0 && phases.decoded_by_write[i] >= 0) out.add(delays[i] - phases.decoded_by_write[i]);
  }
  return out;
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
  // Debug: the phases of each change come from the informer's and publisher's debug lines.
  ingress_options.extra_args = {"--log-level", "debug", "--access-log=false"};
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

  // ---- EndpointSlice change to route ----
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
  ContinuousCaller caller(ingress->target(), 2s, std::chrono::minutes(60));
  if (!caller.wait_for_pod("latency-a", Clock::now() - 1s, 30s)) {
    std::cerr << "the latency Service never answered: " << caller.summary() << "\n";
    return 1;
  }
  bool on_a = true;
  // Switches the latency Service to its other pod; ms until that pod answered, or -1.
  auto switch_pods = [&](std::vector<double>& written_at) -> double {
    const Pod& next = on_a ? *b : *a;
    on_a = !on_a;
    auto written = Clock::now();
    written_at.push_back(seconds_of_day(std::chrono::system_clock::now()));
    objects.write_endpoints("latency", {next.endpoint()});
    if (!caller.wait_for_pod(next.name(), written, 30s)) return -1;
    return std::chrono::duration<double, std::milli>(*caller.first_answer(next.name(), written) - written).count();
  };

  size_t log_before = log_lines(ingress->process().stderr_text()).size();
  Samples delays;
  std::vector<double> written_at, delay_by_write;
  for (int i = 0; i < options.changes; ++i) {
    double delay = switch_pods(written_at);
    delay_by_write.push_back(delay);
    if (delay < 0) {
      std::cerr << "change " << i << ": the new pod never answered\n";
      continue;
    }
    delays.add(delay);
    std::this_thread::sleep_for(100ms);  // let the old slice's deletion settle before the next change
  }
  auto slice_lines = log_lines(ingress->process().stderr_text());
  Phases slice_phases = phases_of(slice_lines, log_before, written_at, "EndpointSlice default/latency");
  report << "## EndpointSlice change in the API → first call answered by the new pod\n\n"
         << delays.size() << " changes with the " << options.ingresses
         << " Ingresses above in the store; a client calling back to back over one channel. Phases from "
            "grpc-ingress's log, one sample per routing table published.\n\n"
         << Samples::header() << delays.row("API write → first call on the new pod") << slice_phases.rows()
         << own_share(delay_by_write, slice_phases).row("watch event decoded → first call on the new pod")
         << "\nCalls: " << caller.summary() << ". The first two phases include the fake API server (Python) "
         << "writing and delivering the watch event; the build waits up to 10 ms for more events.\n\n";

  // ---- Ingress change to route ----
  // New hosts route to Service "routed" (pod b); until its Ingress is
  // applied, a new host gets the host-less latency rules (pod a).
  std::cerr << "measuring " << options.ingress_changes << " Ingress changes...\n";
  objects.write_endpoints("latency", {a->endpoint()});
  objects.write_service("routed", {b->endpoint()});
  on_a = true;
  caller.wait_for_pod("latency-a", Clock::now(), 30s);
  log_before = log_lines(ingress->process().stderr_text()).size();
  Samples ingress_delays;
  std::vector<double> ingress_written_at, ingress_delay_by_write;
  for (int i = 0; i < options.ingress_changes; ++i) {
    std::string host = "route-" + std::to_string(i) + ".latency.example.com";
    auto stub = helloworld::Greeter::NewStub(make_channel(ingress->target(), host));
    if (say_hello(*stub, 2s).pod != "latency-a") {  // connected, and not routed yet
      std::cerr << "Ingress change " << i << ": the host is answered before its Ingress exists\n";
      continue;
    }
    auto written = Clock::now();
    ingress_written_at.push_back(seconds_of_day(std::chrono::system_clock::now()));
    objects.write_ingress({.name = "route-" + std::to_string(i), .host = host,
                           .paths = {{.path = kGreeterPath, .service = "routed"}}});
    if (!wait_until([&] { return say_hello(*stub, 1s).pod == "latency-b"; }, 30s, 1ms)) {
      std::cerr << "Ingress change " << i << ": never routed\n";
      ingress_delay_by_write.push_back(-1);
      continue;
    }
    ingress_delays.add(std::chrono::duration<double, std::milli>(Clock::now() - written).count());
    ingress_delay_by_write.push_back(ingress_delays.values.back());
  }
  auto ingress_lines = log_lines(ingress->process().stderr_text());
  Phases ingress_phases = phases_of(ingress_lines, log_before, ingress_written_at, "Ingress default/route-");
  report << "## Ingress change in the API → routed\n\n"
         << ingress_delays.size() << " new Ingresses, each for a new host, written while a client already "
            "connected with that host calls until it is answered (the delay is measured to the end of the "
            "first answered call).\n\n"
         << Samples::header() << ingress_delays.row("API write → first call answered") << ingress_phases.rows()
         << own_share(ingress_delay_by_write, ingress_phases).row("watch event decoded → first call answered") << "\n";

  // ---- sustained churn ----
  if (options.churn_seconds > 0 && options.churn_rate > 0) {
    std::cerr << "idle stretch, then " << options.churn_rate << " EndpointSlice writes/s for " << options.churn_seconds
              << " s...\n";
    // The same calls straight to a pod, as a control: what the machine itself
    // does to latency while the API server and the writer are busy.
    ContinuousCaller direct(b->address(), 2s, std::chrono::minutes(10));
    auto idle_from = Clock::now();
    std::this_thread::sleep_for(10s);
    auto idle_to = Clock::now();
    log_before = log_lines(ingress->process().stderr_text()).size();
    double cpu_before = cpu_seconds(ingress->process().pid());

    std::atomic<bool> stop{false};
    std::atomic<int> writes{0}, write_errors{0};
    const auto churn_from = Clock::now();
    const auto churn_to = churn_from + std::chrono::seconds(options.churn_seconds);
    std::thread writer([&] {
      const auto period = std::chrono::duration<double>(1.0 / options.churn_rate);
      for (int k = 0; !stop && Clock::now() < churn_to; ++k) {
        std::this_thread::sleep_until(churn_from + std::chrono::duration_cast<Clock::duration>(period * k));
        int service = k % options.ingresses;
        json slice = slice_object(options, service, 1 + k / options.ingresses);
        slice["metadata"].erase("resourceVersion");
        try {
          ApiResponse response = api->request("PUT", FakeApiServer::path_of(slice), slice.dump());
          if (response.status == 200) {
            ++writes;
          } else {
            ++write_errors;
          }
        } catch (const std::exception&) {
          ++write_errors;
        }
      }
    });
    Samples lags;
    std::vector<double> lag_written_at, lag_by_write;
    while (Clock::now() + 1s < churn_to) {
      auto next = Clock::now() + 500ms;
      double delay = switch_pods(lag_written_at);
      lag_by_write.push_back(delay);
      if (delay >= 0) lags.add(delay);
      std::this_thread::sleep_until(next);
    }
    std::this_thread::sleep_until(churn_to);
    stop = true;
    writer.join();
    auto churn_end = Clock::now();
    double churn_cpu = cpu_seconds(ingress->process().pid()) - cpu_before;
    auto churn_lines = log_lines(ingress->process().stderr_text());
    Phases churn_phases = phases_of(churn_lines, log_before, lag_written_at, "EndpointSlice default/latency");
    double seconds = std::chrono::duration<double>(churn_end - churn_from).count();
    direct.stop();
    Samples idle_calls(caller.latencies_ms(idle_from, idle_to));
    Samples churn_calls(caller.latencies_ms(churn_from, churn_end));
    Samples idle_direct(direct.latencies_ms(idle_from, idle_to));
    Samples churn_direct(direct.latencies_ms(churn_from, churn_end));
    report << "## Sustained churn: " << options.churn_rate << " EndpointSlice writes/s for " << options.churn_seconds
           << " s\n\n"
           << writes.load() << " writes answered 200 (" << fixed(writes.load() / seconds) << "/s), " << write_errors.load()
           << " failed; " << churn_phases.tables << " routing tables published ("
           << fixed(churn_phases.tables / seconds) << "/s); grpc-ingress CPU " << fixed(100 * churn_cpu / seconds)
           << "% of one core. Every 0.5 s the latency Service's pods are switched as above.\n\n"
           << Samples::header() << lags.row("API write → first call on the new pod, under churn")
           << churn_phases.rows()
           << own_share(lag_by_write, churn_phases).row("watch event decoded → first call on the new pod")
           << idle_calls.row("call through grpc-ingress, idle 10 s before")
           << churn_calls.row("call through grpc-ingress, during the churn")
           << idle_direct.row("call straight to the pod (control), idle") << churn_direct.row("call straight to the pod (control), during the churn") << "\n"
           << "p99 call latency during the churn / idle: through grpc-ingress "
           << fixed(churn_calls.at(0.99) / std::max(1e-9, idle_calls.at(0.99)), 2) << ", straight to the pod "
           << fixed(churn_direct.at(0.99) / std::max(1e-9, idle_direct.at(0.99)), 2)
           << " (the fake API server, the writer and both callers share the 2 cores with grpc-ingress).\n\n";
  }
  caller.stop();

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
    } else if (arg == "--ingress-changes") {
      options.ingress_changes = std::stoi(value());
    } else if (arg == "--churn-rate") {
      options.churn_rate = std::stoi(value());
    } else if (arg == "--churn-seconds") {
      options.churn_seconds = std::stoi(value());
    } else if (arg == "--out") {
      options.out = value();
    } else {
      std::cerr << "usage: kube-sync-bench [--ingresses 10000] [--endpoints 100000] [--changes 100] "
                   "[--ingress-changes 100] [--churn-rate 200] [--churn-seconds 60] [--out FILE]\n";
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
