#pragma once

#include "dataplane/upstream/load_balancer.h"

namespace grpc_ingress {

// Each request takes the next endpoint in turn.
class RoundRobinLb : public LoadBalancer {
 public:
  explicit RoundRobinLb(uint64_t start) : next_(start) {}
  const Endpoint* pick(const Cluster& cluster, const std::vector<std::string>& exclude) override;

 private:
  uint64_t next_;
};

}  // namespace grpc_ingress
