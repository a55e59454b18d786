#pragma once

#include "common/metrics.h"
#include "common/route_table.h"
#include "dataplane/endpoint_map.h"
#include "dataplane/downstream/downstream_connection.h"

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace grpc_ingress {

// The `code` label of a finished request: its gRPC status (0-16), or for
// plain HTTP its status for common codes and the class ("5xx") otherwise.
inline constexpr int kHttpCodes[] = {200, 204, 301, 302, 304, 308, 400, 401, 403, 404,
                                     405, 408, 413, 429, 500, 502, 503, 504};
inline constexpr size_t kGrpcCodes = 17;
inline constexpr size_t kCodeSlots = kGrpcCodes + std::size(kHttpCodes) + 5 /* 1xx..5xx */ + 1 /* none */;
size_t grpc_code_slot(int grpc_status);  // out of range -> UNKNOWN (2)
size_t http_code_slot(int http_status);  // 0 (no answer) -> "none"
std::string code_label(size_t slot);

// Counters of one worker, each written by that worker only and read by scrapes.

// Requests per (ingress namespace, ingress, service).
struct RouteStats {
  std::string namespace_name, ingress, service;
  std::array<std::atomic<uint64_t>, kCodeSlots> requests{};
  std::array<std::atomic<uint64_t>, kDurationBuckets + 1> duration_buckets{};  // last: +Inf
  std::atomic<uint64_t> duration_sum_us{0};

  void record(size_t code_slot, std::chrono::microseconds duration);
};

// Upstream traffic per Service port (cluster).
struct ClusterStats {
  std::string namespace_name, service, port;
  std::atomic<uint64_t> upstream_requests{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<int64_t> active_streams{0};
  std::atomic<uint64_t> retries{0};                  // attempts after the first
  std::atomic<uint64_t> retries_over_budget{0};      // retries the 20% budget refused
  std::atomic<uint64_t> outlier_ejections{0};
  std::atomic<uint64_t> over_limit{0};               // calls refused: every endpoint at its circuit limit
};

// Calls per pod, for /debug/endpoints and --metrics-per-endpoint.
struct EndpointStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<int64_t> active_streams{0};
  // Peak-EWMA of response latency for the ewma balancer; worker thread only.
  double ewma_us = 0;
  std::chrono::steady_clock::time_point ewma_at{};
  void record_latency(std::chrono::microseconds latency, std::chrono::steady_clock::time_point now);
};

// HTTP/2 error codes 0x0-0xd, then "other".
inline constexpr size_t kResetReasons = 15;
std::string reset_reason_label(size_t slot);
size_t reset_reason_slot(uint32_t h2_error_code);

// Which buffer budget made the proxy reset a stream.
enum BufferBudget : size_t { kBudgetConnection, kBudgetWorker, kBufferBudgets };

// The stats one worker keeps. The maps change only when the worker resolves
// a cluster or route (when a table is applied, or at its first call after it
// changed) and are read by scrapes (the admin thread): both take the mutex;
// otherwise the request path only touches atomics through resolved pointers.
// Why a request was refused at the edge: grpc_ingress_access_denied_total{reason}.
enum AccessRefusal : size_t {
  kRefusedSourceRange,
  kRefusedClientCertificate,
  kRefusedRateLimit,
  kRefusedConcurrencyLimit,
  kRefusedExternalAuth,   // the auth service said no (401/403)
  kRefusedAuthFailure,    // the auth service could not be asked (down, timeout, bad answer)
  kRefusedCleartext,      // gRPC over cleartext to a host that requires TLS
  kAccessRefusals,
};
const char* access_refusal_label(size_t reason);

class WorkerStats {
 public:
  // Worker thread, when it resolves a cluster or route. Returned pointers stay valid for
  // the worker's life (route and cluster stats are kept so counters never
  // reset); endpoint stats of pods gone from `table` are dropped from the map.
  RouteStats* route(const std::string& namespace_name, const std::string& ingress,
                    const std::string& service);
  ClusterStats* cluster(const Cluster& cluster);
  // The stats of `cluster`'s endpoints, in its order; those of endpoints it
  // no longer has are dropped.
  std::vector<std::shared_ptr<EndpointStats>> endpoints(const Cluster& cluster);
  // The cluster left the table: its endpoints' stats go (its cluster stats stay).
  void forget_endpoints(const std::string& cluster) { endpoints_.forget(cluster); }

  // Any thread.
  template <typename Fn>
  void for_each_route(Fn&& fn) const {
    std::lock_guard lock(mutex_);
    for (const auto& [_, stats] : routes_) fn(*stats);
  }
  template <typename Fn>
  void for_each_cluster(Fn&& fn) const {
    std::lock_guard lock(mutex_);
    for (const auto& [_, stats] : clusters_) fn(*stats);
  }
  // nullptr when this worker has no stats for that endpoint.
  std::shared_ptr<EndpointStats> find_endpoint(const std::string& cluster, const PodAddress& address) const {
    return endpoints_.find(cluster, address);
  }

  // Connection counters.
  std::array<std::atomic<uint64_t>, kDownstreamProtocols> downstream_connections_by_protocol{};
  std::array<std::atomic<int64_t>, kDownstreamProtocols> downstream_open_by_protocol{};
  std::atomic<uint64_t> tls_handshake_failures{0};  // failed or timed out
  std::atomic<uint64_t> downstream_protocol_errors{0};
  // --use-proxy-protocol: connections closed without a valid header (bad,
  // cut short or too slow).
  std::atomic<uint64_t> proxy_protocol_errors{0};
  std::atomic<uint64_t> upstream_protocol_errors{0};
  std::atomic<int64_t> upstream_connections{0};
  std::array<std::atomic<uint64_t>, kResetReasons> downstream_resets{};  // by the client
  std::array<std::atomic<uint64_t>, kResetReasons> upstream_resets{};    // by a pod
  // Body bytes held for streams now, and streams reset for holding the most
  // when a budget was exceeded.
  std::atomic<uint64_t> buffered_bytes{0};
  std::array<std::atomic<uint64_t>, kBufferBudgets> buffer_resets{};
  // Requests refused at the edge (README "Security at the edge"), by reason.
  std::array<std::atomic<uint64_t>, kAccessRefusals> access_refused{};

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<RouteStats>> routes_;
  std::map<std::string, std::unique_ptr<ClusterStats>> clusters_;
  EndpointMap<EndpointStats> endpoints_;
};

}  // namespace grpc_ingress
