#include "dataplane/upstream/round_robin_lb.h"

namespace grpc_ingress {

long RoundRobinLb::next_index(const Cluster& cluster, const PickContext& context) {
  const size_t n = cluster.endpoints.size();
  for (size_t i = 0; i < n; ++i) {
    size_t index = next_++ % n;
    if (context.usable(index)) return static_cast<long>(index);
  }
  return -1;
}

const Endpoint* RoundRobinLb::pick(const Cluster& cluster, const PickContext& context) {
  long index = next_index(cluster, context);
  return index < 0 ? nullptr : &cluster.endpoints[static_cast<size_t>(index)];
}

}  // namespace grpc_ingress
