#pragma once

#include "common/route_table.h"
#include "dataplane/endpoint_map.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace grpc_ingress {

// What every worker must agree on about one endpoint of one cluster: its
// gRPC health, whether outlier detection ejected it, and the streams it runs
// (for the circuit limits). Written and read from any worker with atomics.
struct EndpointState {
  enum Health : uint8_t { kUnknown, kHealthy, kUnhealthy };
  using Clock = std::chrono::steady_clock;

  // Active health checks (the checker on worker 0 writes it).
  std::atomic<uint8_t> health{kUnknown};
  // Passive outlier detection.
  std::atomic<uint32_t> consecutive_failures{0};
  std::atomic<int64_t> ejected_until{0};  // Clock ticks; 0 or past: not ejected
  std::atomic<uint32_t> ejections{0};     // so far in a row: the back-off doubles with each
  // Circuit limits, over all workers. Streams are counted only for clusters
  // with a per-endpoint stream limit: unlimited calls write nothing shared.
  std::atomic<int64_t> active_streams{0};
  std::atomic<int64_t> pending_streams{0};  // waiting for a connection to the pod

  bool ejected(Clock::time_point now) const {
    return ejected_until.load(std::memory_order_relaxed) > now.time_since_epoch().count();
  }
  bool unhealthy() const { return health.load(std::memory_order_relaxed) == kUnhealthy; }
};

// The state of every (cluster, endpoint) of the running table, shared by the
// workers. The publisher drops what a new table no longer has; a worker
// resolves a cluster when it applies a table that changed it, or at the
// cluster's first call after that.
using EndpointStates = EndpointMap<EndpointState>;

}  // namespace grpc_ingress
