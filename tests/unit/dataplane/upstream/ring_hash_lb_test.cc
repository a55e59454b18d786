#include "dataplane/upstream/ring_hash_lb.h"

#include <catch2/catch.hpp>

#include <map>

using namespace grpc_ingress;

namespace {
const std::vector<uint32_t> kNone;  // no endpoint tried yet

Cluster pods(int n) {
  Cluster cluster;
  cluster.name = "default/users:grpc";
  for (int i = 0; i < n; ++i) {
    cluster.endpoints.push_back({IpAddress::from("10.0.1." + std::to_string(i + 1)), 50051, "pod-" + std::to_string(i), true});
  }
  return cluster;
}

std::map<std::string, std::string> assign(RingHashLb& lb, const Cluster& cluster, int keys) {
  std::map<std::string, std::string> out;
  for (int k = 0; k < keys; ++k) {
    std::string key = "user-" + std::to_string(k);
    out[key] = lb.pick(cluster, {kNone, nullptr, key})->pod;
  }
  return out;
}
}  // namespace

TEST_CASE("ring hash sends a key to the same pod every time", "[ring_hash]") {
  Cluster cluster = pods(3);
  RingHashLb lb(0);
  const Endpoint* first = lb.pick(cluster, {kNone, nullptr, "user-42"});
  for (int i = 0; i < 1000; ++i) CHECK(lb.pick(cluster, {kNone, nullptr, "user-42"}) == first);
}

TEST_CASE("ring hash spreads keys and moves about 1/N of them when a pod is added", "[ring_hash]") {
  Cluster three = pods(3), four = pods(4);
  RingHashLb lb(0);
  auto before = assign(lb, three, 4000);
  std::map<std::string, int> load;
  for (auto& [_, pod] : before) load[pod]++;
  for (auto& [pod, n] : load) {
    INFO(pod);
    CHECK(n > 4000 / 3 * 0.6);
    CHECK(n < 4000 / 3 * 1.4);
  }
  auto after = assign(lb, four, 4000);
  int moved = 0;
  for (auto& [key, pod] : before) {
    if (after[key] != pod) {
      ++moved;
      CHECK(after[key] == "pod-3");  // keys only move to the new pod
    }
  }
  CHECK(moved > 4000 / 4 * 0.6);
  CHECK(moved < 4000 / 4 * 1.4);
}

TEST_CASE("ring hash without the header falls back to round robin", "[ring_hash]") {
  Cluster cluster = pods(2);
  RingHashLb lb(0);
  std::map<std::string, int> picks;
  for (int i = 0; i < 10; ++i) picks[lb.pick(cluster, {kNone, nullptr, ""})->pod]++;
  CHECK(picks["pod-0"] == 5);
  CHECK(picks["pod-1"] == 5);
}

TEST_CASE("ring hash skips a pod the request already tried", "[ring_hash]") {
  Cluster cluster = pods(3);
  RingHashLb lb(0);
  const Endpoint* home = lb.pick(cluster, {kNone, nullptr, "user-7"});
  std::vector<uint32_t> tried = {static_cast<uint32_t>(home - cluster.endpoints.data())};
  const Endpoint* next = lb.pick(cluster, {tried, nullptr, "user-7"});
  REQUIRE(next != nullptr);
  CHECK(next != home);
}
