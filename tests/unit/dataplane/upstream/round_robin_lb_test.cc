#include "dataplane/upstream/round_robin_lb.h"

#include <catch2/catch.hpp>

#include <map>

using namespace grpc_ingress;

namespace {
const std::vector<uint32_t> kNone;  // no endpoint tried yet

Cluster three_pods() {
  Cluster cluster;
  cluster.name = "default/greeter:50051";
  for (int i = 0; i < 3; ++i) {
    cluster.endpoints.push_back({IpAddress::from("10.0.0." + std::to_string(i + 1)), 50051, "pod-" + std::to_string(i), true});
  }
  return cluster;
}
}  // namespace

TEST_CASE("round robin gives each endpoint an equal share of requests", "[round_robin]") {
  Cluster cluster = three_pods();
  RoundRobinLb lb(7);
  std::map<std::string, int> picks;
  for (int i = 0; i < 300; ++i) picks[lb.pick(cluster, PickContext{kNone})->pod]++;
  CHECK(picks.size() == 3);
  for (auto& [pod, n] : picks) CHECK(n == 100);
}

TEST_CASE("round robin skips endpoints a request already tried", "[round_robin]") {
  Cluster cluster = three_pods();
  RoundRobinLb lb(0);
  std::vector<uint32_t> tried = {0, 1};  // pod-0 and pod-1
  for (int i = 0; i < 5; ++i) CHECK(lb.pick(cluster, PickContext{tried})->pod == "pod-2");
  tried.push_back(2);
  CHECK(lb.pick(cluster, PickContext{tried}) == nullptr);
}

TEST_CASE("round robin on an empty cluster picks nothing", "[round_robin]") {
  Cluster cluster;
  RoundRobinLb lb(0);
  CHECK(lb.pick(cluster, PickContext{kNone}) == nullptr);
}
