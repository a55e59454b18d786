#pragma once

#include "common/route_table.h"
#include "dataplane/endpoint_state.h"
#include "dataplane/stats.h"

#include <chrono>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace grpc_ingress {

// What a balancer may look at for one pick.
struct PickContext {
  // Indexes into the cluster's endpoints of the pods this request already tried.
  std::span<const uint32_t> exclude;
  // This worker's stats of each endpoint of the cluster (same order), or
  // nullptr when the cluster is from an older snapshot.
  const std::vector<std::shared_ptr<EndpointStats>>* stats = nullptr;
  std::string_view hash_key{};  // ring hash: the request's key; empty when absent
  // The shared state of each endpoint (same order), or nullptr for an older
  // snapshot: unhealthy, ejected and full endpoints get no new calls.
  const std::vector<std::shared_ptr<EndpointState>>* states = nullptr;
  uint32_t max_streams = 0;    // per endpoint; 0 = no limit
  uint32_t max_pending = 0;    // per endpoint; 0 = no limit
  std::chrono::steady_clock::time_point now{};

  // May endpoint `index` of the cluster take this call?
  bool usable(size_t index) const;
  // Is it over its circuit limits (as opposed to unhealthy or already tried)?
  bool at_limit(size_t index) const;
};

// Picks the endpoint for one request (one HTTP/2 stream) of one cluster.
// One instance per cluster per worker; worker thread only, so no locks.
class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;

  // The endpoint to use; nullptr when every endpoint is excluded.
  virtual const Endpoint* pick(const Cluster& cluster, const PickContext& context) = 0;
};

// A new balancer for `policy`; `seed` spreads workers' starting points.
std::unique_ptr<LoadBalancer> make_load_balancer(LoadBalancePolicy policy, uint64_t seed);


}  // namespace grpc_ingress
