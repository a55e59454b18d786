#pragma once

#include "common/route_table.h"

#include <memory>
#include <string>
#include <vector>

namespace grpc_ingress {

// Picks the endpoint for one request (one HTTP/2 stream) of one cluster.
// One instance per cluster per worker; worker thread only, so no locks.
class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;

  // The endpoint to use, skipping those in `exclude` (already tried by this
  // request); nullptr when none is left.
  virtual const Endpoint* pick(const Cluster& cluster, const std::vector<std::string>& exclude) = 0;
};

// A new balancer for `policy`; `seed` spreads workers' starting points.
std::unique_ptr<LoadBalancer> make_load_balancer(LoadBalancePolicy policy, uint64_t seed);

}  // namespace grpc_ingress
