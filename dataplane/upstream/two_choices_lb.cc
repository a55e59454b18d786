#include "dataplane/upstream/two_choices_lb.h"

namespace grpc_ingress {

double TwoChoicesLb::active_streams(const EndpointStats& stats) {
  return static_cast<double>(read(stats.active_streams));
}

double TwoChoicesLb::ewma_cost(const EndpointStats& stats) {
  constexpr double kUnknownLatencyUs = 1000;  // a pod with no answers yet
  double latency = stats.ewma_us > 0 ? stats.ewma_us : kUnknownLatencyUs;
  return latency * static_cast<double>(read(stats.active_streams) + 1);
}

const Endpoint* TwoChoicesLb::pick(const Cluster& cluster, const PickContext& context) {
  long first = round_robin_.next_index(cluster, context);
  if (first < 0) return nullptr;
  const size_t n = cluster.endpoints.size();
  if (n == 1 || !context.stats || context.stats->size() != n) return &cluster.endpoints[first];
  size_t second = std::uniform_int_distribution<size_t>(0, n - 2)(random_);
  if (second >= static_cast<size_t>(first)) ++second;  // any endpoint but the first
  if (!context.usable(second)) return &cluster.endpoints[first];
  const auto& stats = *context.stats;
  if (!stats[first] || !stats[second]) return &cluster.endpoints[first];
  return cost_(*stats[second]) < cost_(*stats[first]) ? &cluster.endpoints[second]
                                                       : &cluster.endpoints[first];
}

}  // namespace grpc_ingress
