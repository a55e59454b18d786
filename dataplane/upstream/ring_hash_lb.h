#pragma once

#include "dataplane/upstream/round_robin_lb.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace grpc_ingress {

// Consistent hashing of a request header onto a ring of kPointsPerEndpoint
// points per endpoint: a key keeps its pod, and adding or removing a pod moves
// only about 1/N of the keys. Requests without the header go round robin.
class RingHashLb : public LoadBalancer {
 public:
  static constexpr int kPointsPerEndpoint = 100;

  explicit RingHashLb(uint64_t seed) : fallback_(seed) {}
  const Endpoint* pick(const Cluster& cluster, const PickContext& context) override;

  static uint64_t hash(std::string_view text);

 private:
  void build(const Cluster& cluster);

  RoundRobinLb fallback_;
  std::vector<Endpoint> built_for_;                 // the endpoints the ring was built from
  std::vector<std::pair<uint64_t, size_t>> ring_;  // (point, endpoint index), sorted
};

}  // namespace grpc_ingress
