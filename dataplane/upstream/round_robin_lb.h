#pragma once

#include "dataplane/upstream/load_balancer.h"

namespace grpc_ingress {

// Each request takes the next endpoint in turn.
class RoundRobinLb : public LoadBalancer {
 public:
  explicit RoundRobinLb(uint64_t start) : next_(start) {}
  const Endpoint* pick(const Cluster& cluster, const PickContext& context) override;

  // The index of the next endpoint in turn that is not excluded, or -1.
  long next_index(const Cluster& cluster, const std::vector<std::string>& exclude);

 private:
  uint64_t next_;
};

}  // namespace grpc_ingress
