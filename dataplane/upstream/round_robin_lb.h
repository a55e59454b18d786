#pragma once

#include "dataplane/upstream/load_balancer.h"

namespace grpc_ingress {

// Each request takes the next endpoint in turn.
class RoundRobinLb : public LoadBalancer {
 public:
  explicit RoundRobinLb(uint64_t start) : next_(start) {}
  const Endpoint* pick(const Cluster& cluster, const PickContext& context) override;

  // The index of the next usable endpoint in turn, or -1.
  long next_index(const Cluster& cluster, const PickContext& context);

 private:
  uint64_t next_;
};

}  // namespace grpc_ingress
