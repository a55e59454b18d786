#include "dataplane/upstream/round_robin_lb.h"

#include <algorithm>

namespace grpc_ingress {

const Endpoint* RoundRobinLb::pick(const Cluster& cluster, const std::vector<std::string>& exclude) {
  const size_t n = cluster.endpoints.size();
  for (size_t i = 0; i < n; ++i) {
    const Endpoint& endpoint = cluster.endpoints[next_++ % n];
    if (exclude.empty() ||
        std::find(exclude.begin(), exclude.end(), endpoint.address()) == exclude.end()) {
      return &endpoint;
    }
  }
  return nullptr;
}

std::unique_ptr<LoadBalancer> make_load_balancer(LoadBalancePolicy policy, uint64_t seed) {
  switch (policy) {
    case LoadBalancePolicy::kRoundRobin:
      return std::make_unique<RoundRobinLb>(seed);
  }
  return std::make_unique<RoundRobinLb>(seed);
}

}  // namespace grpc_ingress
