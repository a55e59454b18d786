#include "dataplane/pod_uses.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace grpc_ingress;

namespace {

ClusterPtr cluster(const std::string& name, const std::vector<std::string>& ips) {
  Cluster out;
  out.name = name;
  for (const std::string& ip : ips) out.endpoints.push_back({.ip = IpAddress::from(ip), .port = 50051});
  return std::make_shared<const Cluster>(std::move(out));
}

std::vector<std::string> texts(const std::vector<PodAddress>& pods) {
  std::vector<std::string> out;
  for (const PodAddress& pod : pods) out.push_back(pod.to_string());
  return out;
}

}  // namespace

TEST_CASE("pod uses: a pod is dropped only when no cluster of the new table has it") {
  PodUses uses;
  auto apply = [&](const RouteTable* before, const RouteTable& after) {
    return texts(uses.apply(before, after, diff_clusters(before, after)));
  };
  RouteTable first;
  first.clusters = {cluster("ns/a:1", {"10.0.0.1", "10.0.0.2"}), cluster("ns/b:1", {"10.0.0.2", "10.0.0.3"})};
  CHECK(apply(nullptr, first).empty());
  CHECK(uses.size() == 3);

  // a loses 10.0.0.2, which b still has; b is the same object (not looked at).
  RouteTable second = first;
  second.clusters[0] = cluster("ns/a:1", {"10.0.0.1"});
  CHECK(apply(&first, second).empty());

  // 10.0.0.3 moves from b to a in one table: kept.
  RouteTable third = second;
  third.clusters[0] = cluster("ns/a:1", {"10.0.0.1", "10.0.0.3"});
  third.clusters[1] = cluster("ns/b:1", {"10.0.0.2"});
  CHECK(apply(&second, third).empty());

  // b leaves the table: its last pod goes.
  RouteTable fourth = third;
  fourth.clusters[1] = nullptr;
  CHECK(apply(&third, fourth) == std::vector<std::string>{"10.0.0.2:50051"});
  CHECK(uses.size() == 2);
}
