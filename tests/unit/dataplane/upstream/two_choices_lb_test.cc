#include "dataplane/upstream/two_choices_lb.h"

#include <catch2/catch.hpp>

#include <map>

using namespace grpc_ingress;

namespace {
const std::vector<uint32_t> kNone;  // no endpoint tried yet

struct Pods {
  Cluster cluster;
  std::vector<std::shared_ptr<EndpointStats>> stats;
  explicit Pods(int n) {
    cluster.name = "default/greeter:grpc";
    for (int i = 0; i < n; ++i) {
      cluster.endpoints.push_back({IpAddress::from("10.0.0." + std::to_string(i + 1)), 50051, "pod-" + std::to_string(i), true});
      stats.push_back(std::make_shared<EndpointStats>());
    }
  }
};
}  // namespace

TEST_CASE("least request shares idle pods evenly", "[least_request]") {
  Pods pods(3);
  TwoChoicesLb lb(1, &TwoChoicesLb::active_streams);
  std::map<std::string, int> picks;
  for (int i = 0; i < 300; ++i) picks[lb.pick(pods.cluster, {kNone, &pods.stats})->pod]++;
  for (auto& [pod, n] : picks) CHECK(n == 100);
}

TEST_CASE("least request sends fewer calls to a pod with many active streams", "[least_request]") {
  Pods pods(3);
  bump(pods.stats[0]->active_streams, int64_t{50});
  TwoChoicesLb lb(2, &TwoChoicesLb::active_streams);
  std::map<std::string, int> picks;
  for (int i = 0; i < 3000; ++i) picks[lb.pick(pods.cluster, {kNone, &pods.stats})->pod]++;
  // The busy pod wins only when it is drawn against itself, which never happens:
  // it gets a call only when it is first in turn and the other draw is busier.
  CHECK(picks["pod-0"] < 100);
  CHECK(picks["pod-1"] > 1200);
  CHECK(picks["pod-2"] > 1200);
}

TEST_CASE("ewma prefers the pod that answers faster", "[ewma]") {
  Pods pods(2);
  auto now = std::chrono::steady_clock::now();
  pods.stats[0]->record_latency(std::chrono::milliseconds(50), now);
  pods.stats[1]->record_latency(std::chrono::milliseconds(1), now);
  TwoChoicesLb lb(3, &TwoChoicesLb::ewma_cost);
  std::map<std::string, int> picks;
  for (int i = 0; i < 1000; ++i) picks[lb.pick(pods.cluster, {kNone, &pods.stats})->pod]++;
  CHECK(picks["pod-1"] == 1000);
}

TEST_CASE("peak ewma jumps to a slower sample and decays after faster ones", "[ewma]") {
  EndpointStats stats;
  auto t0 = std::chrono::steady_clock::now();
  stats.record_latency(std::chrono::microseconds(1000), t0);
  stats.record_latency(std::chrono::microseconds(9000), t0 + std::chrono::milliseconds(1));
  CHECK(stats.ewma_us == 9000);
  stats.record_latency(std::chrono::microseconds(1000), t0 + std::chrono::seconds(30));
  CHECK(stats.ewma_us < 2000);
}

TEST_CASE("two choices skips excluded pods", "[least_request]") {
  Pods pods(3);
  TwoChoicesLb lb(4, &TwoChoicesLb::active_streams);
  std::vector<uint32_t> tried = {0, 2};  // pod-0 and pod-2
  for (int i = 0; i < 20; ++i) CHECK(lb.pick(pods.cluster, {tried, &pods.stats})->pod == "pod-1");
}
