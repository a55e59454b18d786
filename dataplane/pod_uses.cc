#include "dataplane/pod_uses.h"

namespace grpc_ingress {

std::vector<PodAddress> PodUses::apply(const RouteTable* before, const RouteTable& after, const ClusterDiff& diff) {
  std::vector<PodAddress> unused;
  for (uint32_t slot : diff.changed) count(*after.clusters[slot], +1, unused);
  auto drop = [&](uint32_t slot) {
    if (before && slot < before->clusters.size() && before->clusters[slot]) count(*before->clusters[slot], -1, unused);
  };
  for (uint32_t slot : diff.emptied) drop(slot);
  for (uint32_t slot : diff.changed) drop(slot);
  return unused;
}

void PodUses::count(const Cluster& cluster, int delta, std::vector<PodAddress>& unused) {
  for (const Endpoint& endpoint : cluster.endpoints) {
    PodAddress address = endpoint.pod_address();
    if (delta > 0) {
      ++uses_[address];
      continue;
    }
    auto it = uses_.find(address);
    if (it == uses_.end() || --it->second > 0) continue;
    uses_.erase(it);
    unused.push_back(address);
  }
}

}  // namespace grpc_ingress
