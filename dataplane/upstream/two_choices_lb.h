#pragma once

#include "dataplane/upstream/round_robin_lb.h"
#include "common/small_random.h"

#include <functional>
#include <random>

namespace grpc_ingress {

// Power of two choices: the next endpoint in turn against a random one; the
// one with the lower cost wins, the one in turn on a tie (so idle pods still
// share calls evenly). Cost: active streams (least_request), or peak-EWMA
// latency times active streams + 1 (ewma).
class TwoChoicesLb : public LoadBalancer {
 public:
  using Cost = double (*)(const EndpointStats& stats);
  TwoChoicesLb(uint64_t seed, Cost cost) : round_robin_(seed), random_(seed), cost_(cost) {}
  const Endpoint* pick(const Cluster& cluster, const PickContext& context) override;

  static double active_streams(const EndpointStats& stats);
  static double ewma_cost(const EndpointStats& stats);

 private:
  RoundRobinLb round_robin_;
  SmallRandom random_;
  Cost cost_;
};

}  // namespace grpc_ingress
