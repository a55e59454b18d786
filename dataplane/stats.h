#pragma once

#include "common/metrics.h"
#include "common/route_table.h"
#include "dataplane/endpoint_map.h"
#include "dataplane/downstream/downstream_connection.h"
#include "dataplane/method_stats.h"

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace grpc_ingress {

// How a finished request ended, as one label: grpc_code (the status name) for
// gRPC and gRPC-Web calls, slots 0-16; http_code for plain HTTP, its status for
// common codes, the class ("5xx") otherwise, "none" with no answer.
inline constexpr int kHttpCodes[] = {200, 204, 301, 302, 304, 308, 400, 401, 403, 404,
                                     405, 408, 413, 429, 500, 502, 503, 504};
inline constexpr size_t kCodeSlots = kGrpcCodes + std::size(kHttpCodes) + 5 /* 1xx..5xx */ + 1 /* none */;
size_t grpc_code_slot(int grpc_status);  // out of range -> UNKNOWN (2)
size_t http_code_slot(int http_status);  // 0 (no answer) -> "none"
bool is_grpc_code_slot(size_t slot);
const char* grpc_code_name(size_t grpc_status);  // "OK" ... "UNAUTHENTICATED"
// {"grpc_code", "OK"} or {"http_code", "503"}.
std::pair<const char*, std::string> code_label(size_t slot);

// Histogram bounds: seconds of streaming calls (up to 4 h), and gRPC message sizes in bytes.
inline constexpr double kStreamDurationBounds[] = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 14400};
inline constexpr double kMessageBytesBounds[] = {64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                                                 16777216};

// A histogram written by one thread: counts per bucket (last: +Inf) and the
// sum of the observations, in whole units (microseconds, bytes).
template <const auto& Bounds>
struct Histogram {
  static constexpr const auto& kBounds = Bounds;
  static constexpr size_t kBuckets = std::size(Bounds);
  std::array<std::atomic<uint64_t>, kBuckets + 1> buckets{};
  std::atomic<uint64_t> sum{0};

  // `value` in the bounds' unit; `units` the same value for the sum.
  void observe(double value, uint64_t units) {
    size_t bucket = 0;
    while (bucket < kBuckets && value > Bounds[bucket]) ++bucket;
    bump(buckets[bucket]);
    bump(sum, units);
  }
  void observe_duration(std::chrono::microseconds duration) {
    observe(static_cast<double>(duration.count()) / 1e6, static_cast<uint64_t>(duration.count()));
  }
};
using DurationHistogram = Histogram<kDurationBucketBounds>;
using StreamDurationHistogram = Histogram<kStreamDurationBounds>;
using MessageBytesHistogram = Histogram<kMessageBytesBounds>;

// Counters of one worker, each written by that worker only and read by scrapes.

// Requests per (ingress namespace, ingress, service).
struct RouteStats {
  std::string namespace_name, ingress, service;
  std::string key;  // names the route to the method bound
  std::array<std::atomic<uint64_t>, kCodeSlots> requests{};
  DurationHistogram duration;                // unary gRPC calls and plain HTTP requests
  StreamDurationHistogram stream_duration;   // streaming calls: more than one message in a direction
  DurationHistogram stream_first_message;    // streaming calls: request headers to the first response message
  MessageBytesHistogram request_message_bytes, response_message_bytes;
  // --metrics-grpc-method-labels: gRPC calls are counted by method here
  // instead of in `requests`; null: off.
  MethodBound* method_bound = nullptr;
  MethodTable methods;

  // A finished request: its code, and for gRPC its :path (the method).
  void count(size_t code_slot, std::string_view grpc_path);
};

// Upstream traffic per Service port (cluster).
struct ClusterStats {
  std::string namespace_name, service, port;
  DurationHistogram upstream_response;  // per attempt: request headers sent -> response headers
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
  // --metrics-grpc-method-labels: routes resolved from now on count gRPC
  // calls by method, within `bound` (shared by the workers, outlives them).
  void count_methods(MethodBound* bound);
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
  // Requests refused at the edge (docs/edge-access.md), by reason.
  std::array<std::atomic<uint64_t>, kAccessRefusals> access_refused{};

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<RouteStats>> routes_;
  std::map<std::string, std::unique_ptr<ClusterStats>> clusters_;
  EndpointMap<EndpointStats> endpoints_;
  MethodBound* method_bound_ = nullptr;
};

}  // namespace grpc_ingress
