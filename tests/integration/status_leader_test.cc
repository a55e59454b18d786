// Status and leadership in Kubernetes API mode: several replicas route, the
// one holding the Lease writes Ingress status and Events.

#include "tests/integration/api_objects.h"
#include "tests/integration/fake_api_server.h"
#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <csignal>

namespace grpc_ingress::testing {
namespace {

using nlohmann::json;

constexpr auto kLeaseDuration = 3s;
constexpr auto kRetryPeriod = 500ms;

json publish_service(const std::string& ip) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", "grpc-ingress"}, {"namespace", "default"}}},
          {"spec", {{"type", "LoadBalancer"}, {"ports", {{{"name", "http"}, {"port", 80}, {"targetPort", 8080}}}}}},
          {"status", {{"loadBalancer", {{"ingress", {{{"ip", ip}}}}}}}}};
}

// status.loadBalancer.ingress of Ingress `name`, as "ip,ip"; "" when empty or absent.
std::string status_of(FakeApiServer& api, const std::string& name) {
  auto ingress = api.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/" + name);
  std::string out;
  if (!ingress) return out;
  for (const json& entry : ingress->value("/status/loadBalancer/ingress"_json_pointer, json::array())) {
    out += (out.empty() ? "" : ",") + entry.value("ip", entry.value("hostname", ""));
  }
  return out;
}

std::string lease_holder(FakeApiServer& api) {
  auto lease = api.get("/apis/coordination.k8s.io/v1/namespaces/default/leases/test-leader");
  return lease ? lease->value("/spec/holderIdentity"_json_pointer, std::string("(none)")) : "(no lease)";
}

IngressOptions replica(const std::string& name, std::vector<std::string> status_flags) {
  IngressOptions options;
  options.env = {"POD_NAME=" + name};
  options.extra_args = {"--election-id", "test-leader", "--leader-election-lease-duration", "3s",
                        "--leader-election-renew-deadline", "2s", "--leader-election-retry-period", "500ms"};
  options.extra_args.insert(options.extra_args.end(), status_flags.begin(), status_flags.end());
  return options;
}

bool routes_greeter(const Ingress& ingress) {
  auto stub = helloworld::Greeter::NewStub(make_channel(ingress.target()));
  return say_hello(*stub).ok();
}

TEST_CASE("two replicas: both route, exactly one holds the Lease and writes Ingress status, killed, the other takes over within the lease duration",
          "[kube][leader]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto pod = Pod::start(tmp.path(), "greeter-0");
  objects.write_service("greeter", {pod->endpoint()});
  objects.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  api->apply(publish_service("203.0.113.10"));

  std::vector<std::string> status_flags = {"--publish-service", "default/grpc-ingress"};
  std::map<std::string, std::unique_ptr<Ingress>> replicas;
  replicas["replica-a"] = start_api_mode(*api, tmp.path() / "a", replica("replica-a", status_flags));
  replicas["replica-b"] = start_api_mode(*api, tmp.path() / "b", replica("replica-b", status_flags));
  for (const auto& [name, ingress] : replicas) CHECK(routes_greeter(*ingress));

  std::string leader;
  REQUIRE(wait_until([&] { return replicas.count(leader = lease_holder(*api)) > 0; }, 10s, 50ms));
  std::string follower = leader == "replica-a" ? "replica-b" : "replica-a";
  INFO("leader " << leader << ", follower " << follower);
  CHECK(wait_until([&] { return metric_value(*replicas[leader], "grpc_ingress_leader") == 1; }, 3s));
  CHECK(metric_value(*replicas[follower], "grpc_ingress_leader") == 0);

  CHECK(wait_until([&] { return status_of(*api, "grpc") == "203.0.113.10"; }, 5s, 50ms));
  // A new load-balancer address reaches the status.
  api->apply(publish_service("203.0.113.11"));
  CHECK(wait_until([&] { return status_of(*api, "grpc") == "203.0.113.11"; }, 5s, 50ms));
  // Only the leader wrote anything: the follower's requests were reads.
  const std::string follower_writes = "grpc_ingress_kube_requests_total{verb=\"PUT\",code=\"200\"}";
  CHECK(metric_value(*replicas[follower], follower_writes) <= 0);
  CHECK(metric_value(*replicas[leader], follower_writes) > 0);
  CHECK(metric_value(*replicas[follower], "grpc_ingress_leader") == 0);

  // The leader dies without a word: its Lease runs out, the follower takes it.
  auto killed = Clock::now();
  replicas[leader]->process().kill_hard();
  REQUIRE(wait_until([&] { return metric_value(*replicas[follower], "grpc_ingress_leader") == 1; }, 10s, 20ms));
  auto takeover = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed);
  INFO("takeover " << takeover.count() << " ms after the kill (lease duration 3000 ms, retry period 500 ms)");
  // The Lease is valid for its duration after the last renewal the survivor saw,
  // which came at most one (jittered) retry period before the kill.
  CHECK(takeover <= kLeaseDuration + kRetryPeriod * 12 / 10 + 300ms);
  CHECK(lease_holder(*api) == follower);
  api->apply(publish_service("203.0.113.12"));
  CHECK(wait_until([&] { return status_of(*api, "grpc") == "203.0.113.12"; }, 5s, 50ms));
  CHECK(routes_greeter(*replicas[follower]));
}

TEST_CASE("the leader clears the status of an Ingress that leaves its class, leaves other controllers' status alone, records Events on rejected Ingresses, and hands the Lease over on SIGTERM",
          "[kube][leader]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto pod = Pod::start(tmp.path(), "greeter-0");
  objects.write_service("greeter", {pod->endpoint()});
  objects.write_ingress({.name = "web", .paths = {{.path = kGreeterPath, .service = "greeter"}}});
  json theirs = yaml_documents(ManifestDir::ingress_yaml(
      {.name = "theirs", .paths = {{.path = "/other", .service = "greeter"}}, .ingress_class = "nginx"}))[0];
  theirs["status"] = {{"loadBalancer", {{"ingress", {{{"ip", "198.51.100.1"}}}}}}};
  api->apply(theirs);

  auto ingress = start_api_mode(*api, tmp.path(), replica("solo", {"--publish-status-address", "192.0.2.44,lb.example.com"}));
  REQUIRE(wait_until([&] { return status_of(*api, "web") == "lb.example.com,192.0.2.44"; }, 10s, 50ms));

  // "web" moves to another class: what we wrote is taken back.
  objects.write_ingress({.name = "web", .paths = {{.path = kGreeterPath, .service = "greeter"}}, .ingress_class = "nginx"});
  CHECK(wait_until([&] { return status_of(*api, "web").empty(); }, 5s, 50ms));
  CHECK(status_of(*api, "theirs") == "198.51.100.1");

  // A rejected Ingress gets a Warning Event saying why.
  objects.write_ingress({.name = "bad",
                         .paths = {{.path = kEchoPath, .service = "greeter"}},
                         .annotations = {{"grpc-ingress.io/load-balance", "fastest"}}});
  json event;
  CHECK(wait_until(
      [&] {
        json events = api->list("/api/v1/namespaces/default/events");  // the loop must not range over a temporary
        for (const json& item : events["items"]) {
          if (item.value("/involvedObject/name"_json_pointer, std::string()) == "bad") {
            event = item;
            return true;
          }
        }
        return false;
      },
      5s, 100ms));
  INFO(event.dump());
  CHECK(event.value("type", "") == "Warning");
  CHECK(event.value("reason", "") == "Rejected");
  CHECK_THAT(event.value("message", ""), Catch::Contains("fastest"));
  CHECK(!event.value("/involvedObject/uid"_json_pointer, std::string()).empty());

  // SIGTERM: the Lease is released at once, not left to expire.
  REQUIRE(lease_holder(*api) == "solo");
  auto signalled = Clock::now();
  ingress->process().signal(SIGTERM);
  CHECK(wait_until([&] { return lease_holder(*api).empty(); }, 2s, 20ms));
  CHECK(Clock::now() - signalled < kLeaseDuration);
}

TEST_CASE("POD_NAME and POD_NAMESPACE name the replica and the Lease's namespace when no flag does, as in ingress-nginx",
          "[kube][leader]") {
  FakeCluster cluster;
  auto& [tmp, api, objects] = cluster;
  auto pod = Pod::start(tmp.path(), "greeter-0");
  objects.write_service("greeter", {pod->endpoint()});
  objects.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});

  api->apply({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ingress-system"}}}});
  IngressOptions options = replica("grpc-ingress-5f7c9-x2x4q", {});
  options.env.push_back("POD_NAMESPACE=ingress-system");  // the kubeconfig's context says "default"
  auto ingress = start_api_mode(*api, tmp.path(), options);
  std::string holder;
  CHECK(wait_until(
      [&] {
        auto lease = api->get("/apis/coordination.k8s.io/v1/namespaces/ingress-system/leases/test-leader");
        holder = lease ? lease->value("/spec/holderIdentity"_json_pointer, std::string()) : "";
        return holder == "grpc-ingress-5f7c9-x2x4q";
      },
      10s, 50ms));
  INFO("holder '" << holder << "'");
  CHECK(lease_holder(*api) == "(no lease)");  // nothing in the context's namespace
}

}  // namespace
}  // namespace grpc_ingress::testing
