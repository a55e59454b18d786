// Kubernetes API mode against the fake API server (TLS, bearer token): routing
// follows what is written through the API, and keeps serving through the
// trouble real API servers cause.

#include "tests/integration/api_objects.h"
#include "tests/integration/continuous_caller.h"
#include "tests/integration/fake_api_server.h"
#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace grpc_ingress::testing {
namespace {

using nlohmann::json;

std::vector<std::string> addresses_of(const std::vector<const Pod*>& pods) {
  std::vector<std::string> out;
  for (const Pod* pod : pods) out.push_back(pod->address());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<EndpointSpec> endpoints_of(const std::vector<const Pod*>& pods) {
  std::vector<EndpointSpec> out;
  for (const Pod* pod : pods) out.push_back(pod->endpoint());
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

// Polls /readyz on its own thread and counts every answer that was not 200.
class ReadyzProbe {
 public:
  explicit ReadyzProbe(const Ingress& ingress)
      : thread_([this, &ingress] {
          while (!stop_) {
            HttpResponse response = ingress.admin_get("/readyz", 1s);
            ++probes_;
            if (response.status != 200) ++not_ready_;
            std::this_thread::sleep_for(50ms);
          }
        }) {}
  ~ReadyzProbe() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int probes() const { return probes_; }
  int not_ready() const { return not_ready_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> probes_{0};
  std::atomic<int> not_ready_{0};
  std::thread thread_;
};

TEST_CASE("API mode: Ingresses and EndpointSlices created, changed and deleted through the API are routed within a second, with no failed call",
          "[kube]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto a = Pod::start(tmp.path(), "greeter-a");
  auto b = Pod::start(tmp.path(), "greeter-b");
  auto c = Pod::start(tmp.path(), "greeter-c");
  auto echo = Pod::start(tmp.path(), "echo-0");
  objects.write_service("greeter", {a->endpoint()});
  objects.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  auto ingress = start_api_mode(*api, tmp.path());

  ContinuousCaller caller(ingress->target());
  REQUIRE(caller.wait_for_pod("greeter-a", Clock::now() - 1s, 5s));

  // An EndpointSlice gains a pod.
  auto added = Clock::now();
  objects.write_endpoints("greeter", {a->endpoint(), b->endpoint()});
  REQUIRE(caller.wait_for_pod("greeter-b", added, 3s));
  auto b_delay = *caller.first_answer("greeter-b", added) - added;
  INFO("greeter-b first answered " << std::chrono::duration_cast<std::chrono::milliseconds>(b_delay).count()
                                   << " ms after its EndpointSlice was written");
  CHECK(b_delay < 1s);

  // A rollout step: greeter-a leaves (its slice is deleted), greeter-c comes in a new slice.
  auto replaced = Clock::now();
  objects.write_endpoints("greeter", {b->endpoint(), c->endpoint()});
  REQUIRE(caller.wait_for_pod("greeter-c", replaced, 3s));
  auto c_delay = *caller.first_answer("greeter-c", replaced) - replaced;
  INFO("greeter-c first answered " << std::chrono::duration_cast<std::chrono::milliseconds>(c_delay).count() << " ms after");
  CHECK(c_delay < 1s);
  std::this_thread::sleep_until(replaced + 1500ms);
  CHECK(a->process().stop() == 0);  // the terminated pod goes away for good
  CHECK(caller.answers_from("greeter-a", replaced + 1s) == 0);

  // An Ingress of another class changes nothing the data plane sees.
  double generation = metric_value(*ingress, "grpc_ingress_config_generation");
  objects.write_ingress({.name = "nginx-only", .paths = {{.path = "/other.Service", .service = "greeter"}},
                         .ingress_class = "nginx"});
  std::this_thread::sleep_for(300ms);  // several debounce periods
  CHECK(metric_value(*ingress, "grpc_ingress_config_generation") == generation);

  // A second Ingress is created, then deleted.
  objects.write_service("echo", {echo->endpoint()});
  auto echo_stub = test::Echo::NewStub(make_channel(ingress->target()));
  auto created = Clock::now();
  objects.write_ingress({.name = "echo", .paths = {{.path = kEchoPath, .service = "echo"}}});
  CallResult last;
  REQUIRE(wait_until([&] { return (last = echo_unary(*echo_stub, {}, 1s)).ok(); }, 3s, 20ms));
  CHECK(last.pod == "echo-0");
  CHECK(Clock::now() - created < 1s);

  auto deleted = Clock::now();
  objects.remove_ingress("echo");
  REQUIRE(wait_until([&] { return (last = echo_unary(*echo_stub, {}, 1s)).code == grpc::StatusCode::UNIMPLEMENTED; },
                     3s, 20ms));
  CHECK(Clock::now() - deleted < 1s);

  caller.stop();
  INFO(caller.summary());
  CHECK(caller.failures().empty());
  CHECK(caller.answers_from("greeter-c", replaced) > 0);
}

TEST_CASE("API mode: dropped watches, 5 s of 500s, a forced 410 and a token rotation lose no call, /readyz stays 200, and routing converges to the API",
          "[kube]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto pods = start_pods(tmp.path(), "greeter", 4);
  const Pod *a = pods[0].get(), *b = pods[1].get(), *c = pods[2].get(), *d = pods[3].get();
  objects.write_service("greeter", {a->endpoint()});
  objects.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  auto ingress = start_api_mode(*api, tmp.path());

  ContinuousCaller caller(ingress->target());
  REQUIRE(caller.wait_for_pod("greeter-0", Clock::now() - 1s, 5s));
  ReadyzProbe readyz(*ingress);

  // Writes `pods` as the Service's endpoints, then waits until the proxy
  // routes to exactly them and the newest one answers.
  auto converge = [&](const std::vector<const Pod*>& now, std::chrono::milliseconds timeout) {
    auto written = Clock::now();
    objects.write_endpoints("greeter", endpoints_of(now));
    std::vector<std::string> routed;
    bool same = wait_until([&] { return (routed = routed_endpoints(*ingress)) == addresses_of(now); }, timeout, 50ms);
    INFO("routed: " << joined(routed) << "; in the API: " << joined(addresses_of(now)));
    CHECK(same);
    CHECK(caller.wait_for_pod(now.back()->name(), written, 3s));
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - written);
  };

  api->drop_watches();
  auto took = converge({a, b}, 5s);
  INFO("after dropped watches: converged in " << took.count() << " ms");

  api->fail_requests(500, 5s);
  std::this_thread::sleep_for(5200ms);
  // The watches are still backing off: this change must come from resuming at the last version.
  took = converge({b, c}, 15s);
  INFO("after 5 s of 500s: converged in " << took.count() << " ms");

  api->compact();
  took = converge({c, d}, 10s);
  INFO("after a compaction (410): converged in " << took.count() << " ms");
  CHECK(metric_value(*ingress, "grpc_ingress_kube_watch_restarts_total{resource=\"endpointslices\",reason=\"expired\"}") >= 1);

  std::string old_token = api->token();
  api->rotate_token();
  api->drop_watches();
  took = converge({d, a}, 10s);
  INFO("after a token rotation: converged in " << took.count() << " ms");
  CHECK(api->token() != old_token);

  caller.stop();
  readyz.stop();
  INFO(caller.summary());
  CHECK(caller.failures().empty());
  INFO(readyz.probes() << " /readyz probes");
  CHECK(readyz.not_ready() == 0);
  CHECK(readyz.probes() > 50);
}

TEST_CASE("a 401 makes grpc-ingress re-read its token file and retry at once, even when the file looks unchanged",
          "[kube]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto a = Pod::start(tmp.path(), "greeter-a");
  auto b = Pod::start(tmp.path(), "greeter-b");
  objects.write_service("greeter", {a->endpoint()});
  objects.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});

  // Our own copy of the token, named by a kubeconfig that has no inline token.
  auto token_file = tmp.path() / "token";
  std::ofstream(token_file) << api->token();
  auto kubeconfig = tmp.path() / "kubeconfig";
  std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
                            << "clusters:\n- name: fake\n  cluster:\n    server: " << api->url()
                            << "\n    certificate-authority: " << api->ca_file().string() << "\n"
                            << "users:\n- name: fake\n  user:\n    tokenFile: " << token_file.string() << "\n"
                            << "contexts:\n- name: fake\n  context: {cluster: fake, user: fake}\n";
  auto ingress = Ingress::start_with_source({"--kubeconfig", kubeconfig.string()}, tmp.path());
  ContinuousCaller caller(ingress->target());
  REQUIRE(caller.wait_for_pod("greeter-a", Clock::now() - 1s, 5s));
  // Every kind's watch answered (a reset before its answer is a failed
  // request, not a dropped watch), so the rotation below meets open watches.
  REQUIRE(wait_until(
      [&] { return metric_value(*ingress, "grpc_ingress_kube_requests_total{verb=\"WATCH\",code=\"200\"}") >= 5; }, 5s));

  // The server rotates; the file gets the new token in place, same size, and
  // its old mtime back: only the 401 can tell the client to read it again.
  auto mtime = std::filesystem::last_write_time(token_file);
  std::string rotated = api->rotate_token();
  {
    std::fstream file(token_file, std::ios::in | std::ios::out | std::ios::binary);
    file << rotated;
  }
  std::filesystem::last_write_time(token_file, mtime);
  api->drop_watches();

  auto changed = Clock::now();
  objects.write_endpoints("greeter", {b->endpoint()});
  CHECK(caller.wait_for_pod("greeter-b", changed, 5s));
  CHECK(Clock::now() - changed < 2s);  // no backoff: the retry follows the 401 at once
  CHECK(metric_value(*ingress, "grpc_ingress_kube_requests_total{verb=\"WATCH\",code=\"401\"}") >= 1);
  for (const char* resource : {"ingresses", "services", "endpointslices"}) {
    INFO(resource);
    CHECK(metric_value(*ingress, std::string("grpc_ingress_kube_watch_restarts_total{resource=\"") + resource +
                                     "\",reason=\"error\"}") < 0);
  }
  caller.stop();
  INFO(caller.summary());
  CHECK(caller.failures().empty());
}

TEST_CASE("a kubeconfig with a client certificate and key instead of a token reaches the API", "[kube]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto pod = Pod::start(tmp.path(), "greeter-0");
  objects.write_service("greeter", {pod->endpoint()});
  objects.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  api->reset_log();

  auto ingress = Ingress::start_with_source({"--kubeconfig", (api->dir() / "kubeconfig-client-cert").string()}, tmp.path());
  auto stub = helloworld::Greeter::NewStub(make_channel(ingress->target()));
  CallResult hello = say_hello(*stub);
  CHECK(hello.ok());
  CHECK(hello.pod == "greeter-0");
  int answered = 0;
  for (const json& request : api->requests()) {
    if (request.value("user_agent", "").rfind("grpc-ingress", 0) == 0) answered += request.value("status", 0) == 200;
  }
  CHECK(answered >= 10);
}

TEST_CASE("in-cluster: with no source flag the service account's token and CA reach the API, --watch-namespace keeps to that namespace",
          "[kube]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto greeter = Pod::start(tmp.path(), "greeter-0");
  auto echo = Pod::start(tmp.path(), "echo-0");
  objects.write_service("greeter", {greeter->endpoint()});
  objects.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  // The same objects in another namespace route a second path; they must stay unseen.
  for (json object : yaml_documents(ManifestDir::service_yaml("echo") +
                                    ManifestDir::endpoint_slices_yaml("echo", {echo->endpoint()}) + "---\n" +
                                    ManifestDir::ingress_yaml({.name = "echo", .paths = {{.path = kEchoPath, .service = "echo"}}}))) {
    object["metadata"]["namespace"] = "elsewhere";
    api->apply(object);
  }
  api->reset_log();

  IngressOptions options;
  // The fake's directory holds "token" and "ca.crt", as a service-account mount does.
  options.env = {"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=" + std::to_string(api->port()),
                 "GRPC_INGRESS_SERVICE_ACCOUNT_DIR=" + api->dir().string()};
  options.extra_args = {"--watch-namespace", "default"};
  auto ingress = Ingress::start_with_source({}, tmp.path(), options);

  auto greeter_stub = helloworld::Greeter::NewStub(make_channel(ingress->target()));
  CallResult hello = say_hello(*greeter_stub);
  CHECK(hello.ok());
  CHECK(hello.pod == "greeter-0");
  auto echo_stub = test::Echo::NewStub(make_channel(ingress->target()));
  CHECK(echo_unary(*echo_stub, {}).code == grpc::StatusCode::UNIMPLEMENTED);

  // Every namespaced list and watch was of namespace "default"; IngressClasses
  // are cluster-wide. (The leader-election Lease lives in the pod's namespace,
  // read from the namespace file of the fake's directory: "default" too.)
  json requests = api->requests();
  int reads = 0;
  for (const json& request : requests) {
    std::string path = request.value("path", "");
    if (request.value("user_agent", "").rfind("grpc-ingress", 0) != 0 || request.value("method", "") != "GET" ||
        path.find("/leases/") != std::string::npos) {
      continue;
    }
    ++reads;
    INFO(path);
    CHECK(request.value("status", 0) == 200);
    // Cluster-scoped: IngressClasses, GatewayClasses, Namespaces; and the Gateway API's discovery.
    bool cluster_scoped = path.ends_with("/ingressclasses") || path.ends_with("/gatewayclasses") ||
                          path == "/api/v1/namespaces" || path == "/apis/gateway.networking.k8s.io/v1" ||
                          path == "/apis/gateway.networking.k8s.io/v1beta1";
    CHECK((path.find("/namespaces/default/") != std::string::npos || cluster_scoped));
  }
  CHECK(reads >= 10);  // five lists and five watches at least
}

// What an incremental control plane is for: in a big cluster some Service is
// always rolling. A Service whose own objects do not change must not notice.
TEST_CASE("API mode: while other Services' EndpointSlices and Ingresses churn, a client of one Service loses no call and keeps its pod connection",
          "[kube][incremental]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto steady = Pod::start(tmp.path(), "steady-0");
  objects.write_service("steady", {steady->endpoint()});
  objects.write_ingress({.name = "steady", .paths = {{.path = kEchoPath, .service = "steady"}}});
  constexpr int kOthers = 20;
  auto other_endpoints = [](int service, int round) {
    // Addresses no call goes to (other hosts): only the tables change.
    std::vector<EndpointSpec> endpoints;
    for (int i = 0; i < 1 + (round % 3); ++i) {
      endpoints.push_back({.ip = "10.9." + std::to_string(service) + "." + std::to_string(1 + (round + i) % 200),
                           .port = 50051, .pod = "other-" + std::to_string(service) + "-" + std::to_string(i)});
    }
    return endpoints;
  };
  for (int s = 0; s < kOthers; ++s) {
    std::string name = "other-" + std::to_string(s);
    objects.write_service(name, other_endpoints(s, 0));
    objects.write_ingress({.name = name, .host = name + ".example.com", .paths = {{.path = "/", .service = name}}});
  }
  auto ingress = start_api_mode(*api, tmp.path());

  // One client, one channel, calling back to back on its own thread; it only records.
  struct Outcome {
    grpc::StatusCode code;
    std::string peer;  // the pod's view of the connection it came over
  };
  std::mutex mutex;
  std::vector<Outcome> outcomes;
  std::atomic<bool> stop{false};
  std::thread caller([&] {
    auto stub = test::Echo::NewStub(make_channel(ingress->target()));
    const auto give_up = Clock::now() + 60s;
    while (!stop && Clock::now() < give_up) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 2s);
      test::EchoRequest request;
      test::EchoReply reply;
      grpc::Status status = stub->Unary(&context, request, &reply);
      std::lock_guard lock(mutex);
      outcomes.push_back({status.error_code(), reply.peer()});
    }
  });
  auto answered = [&] {
    std::lock_guard lock(mutex);
    return std::count_if(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.code == grpc::StatusCode::OK; });
  };
  REQUIRE(wait_until([&] { return answered() > 0; }, 5s));

  // Churn: every other Service's slice is rewritten again and again, and
  // every tenth round an Ingress comes or goes; bounded in rounds and time.
  double generation = metric_value(*ingress, "grpc_ingress_config_generation");
  const auto churn_until = Clock::now() + 6s;
  int writes = 0;
  for (int round = 1; round <= 40 && Clock::now() < churn_until; ++round) {
    for (int s = 0; s < kOthers; ++s) {
      objects.write_endpoints("other-" + std::to_string(s), other_endpoints(s, round));
      ++writes;
    }
    if (round % 10 == 0) {
      objects.write_ingress({.name = "extra", .host = "extra.example.com", .paths = {{.path = "/", .service = "other-0"}}});
    } else if (round % 10 == 5) {
      objects.remove_ingress("extra");
    }
  }
  std::this_thread::sleep_for(500ms);  // the last tables reach the workers, calls go on
  stop = true;
  caller.join();
  double tables = metric_value(*ingress, "grpc_ingress_config_generation") - generation;

  std::lock_guard lock(mutex);
  INFO(writes << " slice writes, " << tables << " tables published, " << outcomes.size() << " calls");
  CHECK(tables >= 10);  // the churn reached the data plane
  CHECK(outcomes.size() >= 100);
  std::set<std::string> peers;
  size_t failed = 0;
  for (const Outcome& outcome : outcomes) {
    if (outcome.code != grpc::StatusCode::OK) {
      ++failed;
    } else {
      peers.insert(outcome.peer);
    }
  }
  CHECK(failed == 0);
  INFO("connections the pod saw: " << peers.size());
  CHECK(peers.size() == 1);  // one connection from grpc-ingress to the pod, never replaced
}

}  // namespace
}  // namespace grpc_ingress::testing
