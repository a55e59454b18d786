// Resilience with real gRPC pods misbehaving the ways pods do: slow, flipping
// their gRPC health, resetting every call, sending GOAWAY, and being replaced
// one by one in a rolling update. The client must not notice.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace grpc_ingress::testing {
namespace {

struct Outcome {
  Clock::time_point at;
  CallResult result;
};

// Unary SayHello calls back to back from `threads` threads over one channel,
// until stopped (or 60 s pass); records every outcome. No assertions inside.
class Caller {
 public:
  Caller(const std::string& target, int threads = 1) {
    auto channel = make_channel(target);
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, channel] {
        auto stub = helloworld::Greeter::NewStub(channel);
        const auto give_up = Clock::now() + 60s;
        while (!stop_ && Clock::now() < give_up) {
          CallResult result = say_hello(*stub, 5s);
          std::lock_guard lock(mutex_);
          outcomes_.push_back({Clock::now(), result});
        }
      });
    }
  }
  ~Caller() { stop(); }

  void stop() {
    stop_ = true;
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  // Calls answered by `pod` that finished after `after`.
  int calls_to(const std::string& pod, Clock::time_point after = {}) {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const Outcome& o : outcomes_) n += o.at >= after && o.result.pod == pod ? 1 : 0;
    return n;
  }
  size_t total() {
    std::lock_guard lock(mutex_);
    return outcomes_.size();
  }
  // "N calls failed: CODE 'message'" lines, empty when none failed.
  std::map<std::string, int> failures() {
    std::lock_guard lock(mutex_);
    std::map<std::string, int> out;
    for (const Outcome& o : outcomes_) {
      if (!o.result.ok()) ++out[code_name(o.result.code) + " '" + o.result.message + "'"];
    }
    return out;
  }
  Clock::time_point last_call_to(const std::string& pod) {
    std::lock_guard lock(mutex_);
    Clock::time_point last{};
    for (const Outcome& o : outcomes_) {
      if (o.result.pod == pod) last = std::max(last, o.at);
    }
    return last;
  }

 private:
  std::mutex mutex_;
  std::vector<Outcome> outcomes_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

void report(const std::map<std::string, int>& failures) {
  for (const auto& [what, count] : failures) UNSCOPED_INFO(count << " calls failed: " << what);
}

// The value of the first sample of `family` in a /metrics text, or -1.
double metric(const Ingress& ingress, const std::string& family) {
  HttpResponse response = ingress.admin_get("/metrics");
  std::istringstream lines(response.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(family + "{") || line.starts_with(family + " ")) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return -1;
}

// Streams the proxy opened to `pod`, from /debug/endpoints.
int64_t endpoint_calls(const Ingress& ingress, const std::string& pod) {
  auto json = nlohmann::json::parse(ingress.admin_get("/debug/endpoints").body);
  int64_t calls = 0;
  for (const auto& cluster : json["clusters"]) {
    for (const auto& endpoint : cluster["endpoints"]) {
      if (endpoint["pod"] == pod) calls += endpoint["calls"].get<int64_t>();
    }
  }
  return calls;
}

}  // namespace

TEST_CASE("a pod 50 ms slower gets far fewer calls under least_request and ewma than under round_robin",
          "[proxy][balancing][resilience]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  std::vector<std::unique_ptr<Pod>> pods;
  pods.push_back(Pod::start(tmp.path(), "greeter-0"));
  pods.push_back(Pod::start(tmp.path(), "greeter-1"));
  pods.push_back(Pod::start(tmp.path(), "greeter-slow", next_pod_ip(), {"--delay-ms", "50"}));
  manifests.write_service("greeter", endpoints_of(pods));

  std::map<std::string, double> slow_share;
  std::unique_ptr<Ingress> ingress;
  for (const char* policy : {"round_robin", "least_request", "ewma"}) {
    manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}},
                             .annotations = {{"grpc-ingress.io/load-balance", policy}}});
    if (!ingress) {
      ingress = Ingress::start(manifests.dir(), tmp.path());
    } else {
      REQUIRE(ingress->wait_for_routes_containing(std::string("\"loadBalance\": \"") + policy + "\"", 5s));
    }
    // 8 calls in flight at any time, 320 in all: a slow pod holds its calls
    // longer, which least_request sees as active streams and ewma as latency.
    Caller caller(ingress->target(), 8);
    REQUIRE(wait_until([&] { return caller.total() >= 320; }, 30s));
    caller.stop();
    report(caller.failures());
    CHECK(caller.failures().empty());
    slow_share[policy] = static_cast<double>(caller.calls_to("greeter-slow")) / caller.total();
    UNSCOPED_INFO(policy << ": the slow pod answered " << 100 * slow_share[policy] << "% of " << caller.total()
                         << " calls");
  }
  CHECK(slow_share["round_robin"] > 0.25);
  CHECK(slow_share["least_request"] < 0.6 * slow_share["round_robin"]);
  CHECK(slow_share["ewma"] < 0.6 * slow_share["round_robin"]);
}

TEST_CASE("a pod whose gRPC health turns NOT_SERVING stops getting calls within two check intervals, and returns "
          "when SERVING",
          "[proxy][health][resilience]") {
  IngressOptions options;
  OneService setup("greeter", kGreeterPath, 3, options);
  setup.manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}},
                                 .annotations = {{"grpc-ingress.io/health-check", "grpc"},
                                                 {"grpc-ingress.io/health-check-interval", "300ms"}}});
  REQUIRE(setup.ingress->wait_for_routes_containing("\"intervalMs\": 300", 5s));
  // Every pod is checked and SERVING before the flip.
  REQUIRE(wait_until([&] {
    return setup.ingress->admin_get("/debug/endpoints").body.find("\"health\": \"unknown\"") == std::string::npos;
  }, 5s));

  Caller caller(setup.ingress->target(), 2);
  REQUIRE(wait_until([&] { return caller.calls_to("greeter-1") > 5; }, 5s));
  const auto flipped = Clock::now();
  setup.pod(1).process().signal(SIGUSR1);  // NOT_SERVING
  // Two intervals (600 ms), the 10% jitter and a call in flight: 1 s.
  std::this_thread::sleep_for(2s);
  Clock::time_point last = caller.last_call_to("greeter-1");
  CHECK(last - flipped < 1000ms);
  CHECK(caller.calls_to("greeter-1", flipped + 1000ms) == 0);
  CHECK(setup.ingress->admin_get("/debug/endpoints").body.find("\"health\": \"unhealthy\"") != std::string::npos);

  const auto serving = Clock::now();
  setup.pod(1).process().signal(SIGUSR2);  // SERVING again
  CHECK(wait_until([&] { return caller.calls_to("greeter-1", serving) > 5; }, 3s));
  caller.stop();
  report(caller.failures());
  CHECK(caller.failures().empty());
}

TEST_CASE("a pod that resets every call (RST_STREAM) is ejected, and the client sees no failure",
          "[proxy][outliers][resilience]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  std::vector<std::unique_ptr<Pod>> pods;
  pods.push_back(Pod::start(tmp.path(), "greeter-0"));
  pods.push_back(Pod::start(tmp.path(), "greeter-1"));
  pods.push_back(Pod::start(tmp.path(), "greeter-broken", next_pod_ip(), {"--reset-calls"}));
  manifests.write_service("greeter", endpoints_of(pods));
  manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());

  Caller caller(ingress->target(), 2);
  REQUIRE(wait_until([&] { return caller.total() >= 300; }, 30s));
  // Ejected for 30 s (the default base): the broken pod sees no more calls.
  int64_t broken_calls = endpoint_calls(*ingress, "greeter-broken");
  auto more = caller.total() + 200;
  REQUIRE(wait_until([&] { return caller.total() >= more; }, 30s));
  caller.stop();
  report(caller.failures());
  CHECK(caller.failures().empty());
  CHECK(caller.calls_to("greeter-broken") == 0);
  CHECK(endpoint_calls(*ingress, "greeter-broken") == broken_calls);
  CHECK(broken_calls >= 5);  // it was tried, failed 5 times in a row, and was ejected
  CHECK(metric(*ingress, "grpc_ingress_outlier_ejections_total") >= 1);
  CHECK(metric(*ingress, "grpc_ingress_upstream_retries_total") >= 5);
  CHECK(ingress->admin_get("/debug/endpoints").body.find("\"ejected\": true") != std::string::npos);
}

TEST_CASE("pods that send GOAWAY every 300 ms (MAX_CONNECTION_AGE) cost no call", "[proxy][goaway][resilience]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  std::vector<std::unique_ptr<Pod>> pods;
  for (int i = 0; i < 3; ++i) {
    pods.push_back(Pod::start(tmp.path(), "greeter-" + std::to_string(i), next_pod_ip(),
                              {"--max-connection-age-ms", "300"}));
  }
  manifests.write_service("greeter", endpoints_of(pods));
  manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());

  Caller caller(ingress->target(), 4);
  std::this_thread::sleep_for(4s);
  caller.stop();
  report(caller.failures());
  CHECK(caller.total() > 100);
  CHECK(caller.failures().empty());
  for (const auto& pod : pods) CHECK(caller.calls_to(pod->name()) > 0);
}

TEST_CASE("a rolling replacement of all three pods under continuous calls and a long stream fails no call",
          "[proxy][endpoints][resilience]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  std::vector<std::unique_ptr<Pod>> old_pods = start_pods(tmp.path(), "greeter-old", 3);
  std::vector<std::unique_ptr<Pod>> new_pods;
  manifests.write_service("greeter", endpoints_of(old_pods));
  manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"},
                                     {.path = kEchoPath, .service = "greeter"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());

  // One long server stream: 60 messages, 100 ms apart (6 s), on some old pod.
  std::atomic<int> stream_messages{0};
  std::string stream_pod;
  grpc::Status stream_status;
  std::atomic<bool> stream_started{false};
  std::thread streamer([&] {
    auto stub = test::Echo::NewStub(make_channel(ingress->target()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    test::EchoRequest request;
    request.set_count(60);
    request.set_interval_ms(100);
    auto reader = stub->ServerStream(&context, request);
    test::EchoReply reply;
    while (reader->Read(&reply)) {
      if (stream_messages++ == 0) {
        stream_pod = reply.pod();
        stream_started = true;
      }
    }
    stream_status = reader->Finish();
    stream_started = true;
  });
  REQUIRE(wait_until([&] { return stream_started.load(); }, 5s));

  Caller caller(ingress->target(), 2);
  auto write = [&](size_t replaced, bool terminating) {
    std::vector<EndpointSpec> endpoints;
    for (size_t i = 0; i < old_pods.size(); ++i) {
      if (i < replaced) continue;  // removed
      EndpointSpec endpoint = old_pods[i]->endpoint();
      if (i == replaced && terminating) {
        endpoint.ready = false;
        endpoint.serving = true;
        endpoint.terminating = true;
      }
      endpoints.push_back(endpoint);
    }
    for (const auto& pod : new_pods) endpoints.push_back(pod->endpoint());
    manifests.write_endpoints("greeter", endpoints);
  };
  for (size_t i = 0; i < old_pods.size(); ++i) {
    // A new pod becomes ready, the old one turns terminating, then leaves the
    // slice and shuts down (unless it carries the long stream: then it lives
    // on until the stream ends, as its graceful shutdown would allow).
    new_pods.push_back(Pod::start(tmp.path(), "greeter-new-" + std::to_string(i)));
    write(i, false);
    REQUIRE(ingress->wait_for_routes_containing(new_pods.back()->address(), 3s));
    std::this_thread::sleep_for(300ms);
    write(i, true);
    std::this_thread::sleep_for(300ms);
    write(i + 1, false);
    REQUIRE(wait_until([&] {
      return ingress->admin_get("/debug/routes").body.find(old_pods[i]->address()) == std::string::npos;
    }, 3s));
    std::this_thread::sleep_for(300ms);
    if (old_pods[i]->name() != stream_pod) old_pods[i]->process().stop();
  }
  const auto replaced = Clock::now();
  std::this_thread::sleep_for(500ms);
  caller.stop();
  streamer.join();

  report(caller.failures());
  CHECK(caller.failures().empty());
  CHECK(caller.total() > 50);
  for (const auto& pod : old_pods) CHECK(caller.calls_to(pod->name(), replaced) == 0);
  for (const auto& pod : new_pods) CHECK(caller.calls_to(pod->name()) > 0);
  INFO("stream on " << stream_pod << ": " << stream_status.error_message());
  CHECK(stream_status.ok());
  CHECK(stream_messages == 60);
}

}  // namespace grpc_ingress::testing

namespace grpc_ingress::testing {

TEST_CASE("serving but terminating endpoints get calls only when no ready endpoint is left",
          "[proxy][endpoints][resilience]") {
  OneService setup("greeter", kGreeterPath, 3);
  auto terminating = [](EndpointSpec endpoint) {
    endpoint.ready = false;
    endpoint.serving = true;
    endpoint.terminating = true;
    return endpoint;
  };
  auto count_calls = [&](int calls) {
    auto stub = helloworld::Greeter::NewStub(setup.channel());
    std::map<std::string, int> per_pod;
    for (int i = 0; i < calls; ++i) {
      CallResult result = say_hello(*stub);
      ++per_pod[result.ok() ? result.pod : code_name(result.code) + " " + result.message];
    }
    return per_pod;
  };

  setup.manifests.write_endpoints("greeter", {setup.pod(0).endpoint(), setup.pod(1).endpoint(),
                                              terminating(setup.pod(2).endpoint())});
  // Not in the table at all while ready endpoints exist.
  REQUIRE(wait_until([&] {
    return setup.ingress->admin_get("/debug/routes").body.find(setup.pod(2).address()) == std::string::npos;
  }, 3s));
  auto mixed = count_calls(100);
  for (const auto& [who, n] : mixed) UNSCOPED_INFO(who << ": " << n);
  CHECK(mixed["greeter-0"] + mixed["greeter-1"] == 100);
  CHECK(mixed.count("greeter-2") == 0);

  setup.manifests.write_endpoints("greeter", {terminating(setup.pod(0).endpoint()),
                                              terminating(setup.pod(1).endpoint()),
                                              terminating(setup.pod(2).endpoint())});
  REQUIRE(wait_until([&] {
    auto routes = setup.ingress->admin_get("/debug/routes").body;
    return routes.find("\"ready\": true") == std::string::npos;
  }, 3s));
  auto last_resort = count_calls(90);
  for (const auto& [who, n] : last_resort) UNSCOPED_INFO(who << ": " << n);
  CHECK(last_resort["greeter-0"] + last_resort["greeter-1"] + last_resort["greeter-2"] == 90);
  CHECK(last_resort["greeter-2"] > 0);
}

}  // namespace grpc_ingress::testing
