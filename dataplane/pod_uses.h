#pragma once

#include "common/ip_address.h"
#include "common/route_table.h"

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace grpc_ingress {

// How many clusters of the running table name each pod, so that a new table
// tells which pods no cluster has any more: the workers' connections to those
// drain, and every other pod connection survives the change. A function of
// the tables alone, so the data plane keeps one for all its workers.
class PodUses {
 public:
  // `after` replaces `before` (nullptr: the first table); `diff` is
  // diff_clusters(before, after). Returns the pods `after` no longer has.
  // Pods of the new clusters are counted before those of the old ones are
  // let go, so a pod that moves between clusters is not.
  std::vector<PodAddress> apply(const RouteTable* before, const RouteTable& after, const ClusterDiff& diff);

  size_t size() const { return uses_.size(); }

 private:
  void count(const Cluster& cluster, int delta, std::vector<PodAddress>& unused);

  std::unordered_map<PodAddress, uint32_t, PodAddressHash> uses_;
};

}  // namespace grpc_ingress
