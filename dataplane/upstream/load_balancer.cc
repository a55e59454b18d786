#include "dataplane/upstream/load_balancer.h"

#include "dataplane/upstream/two_choices_lb.h"
#include "dataplane/upstream/ring_hash_lb.h"
#include "dataplane/upstream/round_robin_lb.h"

#include <algorithm>

namespace grpc_ingress {

bool PickContext::at_limit(size_t index) const {
  if (!states || index >= states->size()) return false;
  const EndpointState& state = *(*states)[index];
  return (max_streams && state.active_streams.load(std::memory_order_relaxed) >= max_streams) ||
         (max_pending && state.pending_streams.load(std::memory_order_relaxed) >= max_pending);
}

bool PickContext::usable(size_t index) const {
  if (std::find(exclude.begin(), exclude.end(), index) != exclude.end()) return false;
  if (!states || index >= states->size()) return true;
  const EndpointState& state = *(*states)[index];
  return !state.unhealthy() && !state.ejected(now) && !at_limit(index);
}

std::unique_ptr<LoadBalancer> make_load_balancer(LoadBalancePolicy policy, uint64_t seed) {
  switch (policy) {
    case LoadBalancePolicy::kRoundRobin:
      return std::make_unique<RoundRobinLb>(seed);
    case LoadBalancePolicy::kEwma:
      return std::make_unique<TwoChoicesLb>(seed, &TwoChoicesLb::ewma_cost);
    case LoadBalancePolicy::kRingHash:
      return std::make_unique<RingHashLb>(seed);
    case LoadBalancePolicy::kLeastRequest:
      break;
  }
  return std::make_unique<TwoChoicesLb>(seed, &TwoChoicesLb::active_streams);
}

}  // namespace grpc_ingress
