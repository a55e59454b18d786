// Dataplane::write_metrics and endpoints_json: sums the per-worker counters.

#include "dataplane/dataplane.h"
#include "dataplane/worker.h"

#include <nlohmann/json.hpp>

#include <map>

namespace grpc_ingress {
namespace {

struct RouteTotals {
  Labels labels;
  std::array<uint64_t, kCodeSlots> requests{};
  std::array<uint64_t, kDurationBuckets + 1> buckets{};
  uint64_t sum_us = 0;
};

struct ClusterTotals {
  Labels labels;
  uint64_t requests = 0, connect_failures = 0, retries = 0, retries_over_budget = 0, ejections = 0, over_limit = 0;
  int64_t active = 0;
};

struct EndpointTotals {
  uint64_t requests = 0;
  int64_t active = 0;
};

EndpointTotals sum_endpoint(const std::vector<std::unique_ptr<Worker>>& workers, const Cluster& cluster,
                            const Endpoint& endpoint) {
  EndpointTotals totals;
  for (const auto& worker : workers) {
    if (auto stats = worker->stats().find_endpoint(cluster.name, endpoint.pod_address())) {
      totals.requests += read(stats->requests);
      totals.active += read(stats->active_streams);
    }
  }
  return totals;
}

}  // namespace

void Dataplane::write_metrics(MetricsWriter& out, const RouteTable* table, bool per_endpoint) const {
  std::map<std::string, RouteTotals> routes;
  std::map<std::string, ClusterTotals> clusters;
  uint64_t downstream_errors = 0, upstream_errors = 0, tls_handshake_failures = 0, proxy_protocol_errors = 0;
  uint64_t buffered_bytes = 0;
  std::array<uint64_t, kBufferBudgets> buffer_resets{};
  std::array<uint64_t, kAccessRefusals> access_refused{};
  std::array<uint64_t, kDownstreamProtocols> connections_total{};
  std::array<int64_t, kDownstreamProtocols> open_connections{};
  int64_t upstream_connections = 0;
  std::array<uint64_t, kResetReasons> downstream_resets{}, upstream_resets{};

  for (const auto& worker : workers_) {
    const WorkerStats& stats = worker->stats();
    stats.for_each_route([&](const RouteStats& r) {
      auto& totals = routes[r.namespace_name + "/" + r.ingress + "|" + r.service];
      totals.labels = {{"namespace", r.namespace_name}, {"ingress", r.ingress}, {"service", r.service}};
      for (size_t i = 0; i < kCodeSlots; ++i) totals.requests[i] += read(r.requests[i]);
      for (size_t i = 0; i <= kDurationBuckets; ++i) totals.buckets[i] += read(r.duration_buckets[i]);
      totals.sum_us += read(r.duration_sum_us);
    });
    stats.for_each_cluster([&](const ClusterStats& c) {
      auto& totals = clusters[c.namespace_name + "/" + c.service + ":" + c.port];
      totals.labels = {{"namespace", c.namespace_name}, {"service", c.service}, {"port", c.port}};
      totals.requests += read(c.upstream_requests);
      totals.connect_failures += read(c.connect_failures);
      totals.active += read(c.active_streams);
      totals.retries += read(c.retries);
      totals.retries_over_budget += read(c.retries_over_budget);
      totals.ejections += read(c.outlier_ejections);
      totals.over_limit += read(c.over_limit);
    });
    for (size_t i = 0; i < kDownstreamProtocols; ++i) {
      connections_total[i] += read(stats.downstream_connections_by_protocol[i]);
      open_connections[i] += read(stats.downstream_open_by_protocol[i]);
    }
    downstream_errors += read(stats.downstream_protocol_errors);
    buffered_bytes += read(stats.buffered_bytes);
    for (size_t i = 0; i < kBufferBudgets; ++i) buffer_resets[i] += read(stats.buffer_resets[i]);
    for (size_t i = 0; i < kAccessRefusals; ++i) access_refused[i] += read(stats.access_refused[i]);
    tls_handshake_failures += read(stats.tls_handshake_failures);
    proxy_protocol_errors += read(stats.proxy_protocol_errors);
    upstream_errors += read(stats.upstream_protocol_errors);
    upstream_connections += read(stats.upstream_connections);
    for (size_t i = 0; i < kResetReasons; ++i) {
      downstream_resets[i] += read(stats.downstream_resets[i]);
      upstream_resets[i] += read(stats.upstream_resets[i]);
    }
  }

  out.family("grpc_ingress_requests_total", "counter",
             "Finished requests by Ingress, backend Service and code (gRPC status, or HTTP status for "
             "non-gRPC requests; 'none' when the stream was reset before an answer).");
  for (const auto& [_, totals] : routes) {
    for (size_t slot = 0; slot < kCodeSlots; ++slot) {
      if (!totals.requests[slot]) continue;
      Labels labels = totals.labels;
      labels.emplace_back("code", code_label(slot));
      out.sample("grpc_ingress_requests_total", labels, static_cast<double>(totals.requests[slot]));
    }
  }
  out.family("grpc_ingress_request_duration_seconds", "histogram",
             "Time from a request's headers to the end of its stream.");
  for (const auto& [_, totals] : routes) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kDurationBuckets; ++i) {
      cumulative += totals.buckets[i];
      Labels labels = totals.labels;
      char le[32];
      if (i < kDurationBuckets) {
        std::snprintf(le, sizeof(le), "%g", kDurationBucketBounds[i]);
      } else {
        std::snprintf(le, sizeof(le), "+Inf");
      }
      labels.emplace_back("le", le);
      out.sample("grpc_ingress_request_duration_seconds_bucket", labels, static_cast<double>(cumulative));
    }
    out.sample("grpc_ingress_request_duration_seconds_sum", totals.labels,
               static_cast<double>(totals.sum_us) / 1e6);
    out.sample("grpc_ingress_request_duration_seconds_count", totals.labels, static_cast<double>(cumulative));
  }

  out.family("grpc_ingress_upstream_requests_total", "counter",
             "Streams opened to pods (a retried request counts once per attempt), by backend Service port.");
  for (const auto& [_, c] : clusters) out.sample("grpc_ingress_upstream_requests_total", c.labels, static_cast<double>(c.requests));
  out.family("grpc_ingress_upstream_active_streams", "gauge", "Streams open to pods, by backend Service port.");
  for (const auto& [_, c] : clusters) out.sample("grpc_ingress_upstream_active_streams", c.labels, static_cast<double>(c.active));
  out.family("grpc_ingress_upstream_connect_failures_total", "counter",
             "Requests that met a failed connection attempt to a pod, by backend Service port.");
  for (const auto& [_, c] : clusters) {
    out.sample("grpc_ingress_upstream_connect_failures_total", c.labels, static_cast<double>(c.connect_failures));
  }
  auto cluster_counter = [&](const char* name, const char* help, uint64_t ClusterTotals::*field) {
    out.family(name, "counter", help);
    for (const auto& [_, c] : clusters) out.sample(name, c.labels, static_cast<double>(c.*field));
  };
  cluster_counter("grpc_ingress_upstream_retries_total",
                  "Attempts after the first (on another pod), by backend Service port.", &ClusterTotals::retries);
  cluster_counter("grpc_ingress_upstream_retries_over_budget_total",
                  "Retries not made because the retry budget (20% of calls) was spent, by backend Service port.",
                  &ClusterTotals::retries_over_budget);
  cluster_counter("grpc_ingress_outlier_ejections_total",
                  "Endpoints ejected by outlier detection after failures in a row, by backend Service port.",
                  &ClusterTotals::ejections);
  cluster_counter("grpc_ingress_upstream_over_limit_total",
                  "Calls answered RESOURCE_EXHAUSTED because every endpoint was at its circuit limit.",
                  &ClusterTotals::over_limit);
  out.family("grpc_ingress_upstream_connections", "gauge", "Open HTTP/2 connections to pods.");
  out.sample("grpc_ingress_upstream_connections", static_cast<double>(upstream_connections));

  out.family("grpc_ingress_downstream_connections", "gauge",
             "Open client connections, by protocol (h2c, h2, http1, http1-tls).");
  for (size_t i = 0; i < kDownstreamProtocols; ++i) {
    out.sample("grpc_ingress_downstream_connections", {{"protocol", protocol_label(static_cast<DownstreamProtocol>(i))}},
               static_cast<double>(open_connections[i]));
  }
  out.family("grpc_ingress_downstream_connections_total", "counter",
             "Client connections whose protocol was detected, by protocol.");
  for (size_t i = 0; i < kDownstreamProtocols; ++i) {
    out.sample("grpc_ingress_downstream_connections_total",
               {{"protocol", protocol_label(static_cast<DownstreamProtocol>(i))}},
               static_cast<double>(connections_total[i]));
  }
  out.family("grpc_ingress_tls_handshake_failures_total", "counter",
             "Connections to the TLS port whose handshake failed or timed out.");
  out.sample("grpc_ingress_tls_handshake_failures_total", static_cast<double>(tls_handshake_failures));
  out.family("grpc_ingress_proxy_protocol_errors_total", "counter",
             "Connections closed for a missing, malformed, cut short or late PROXY protocol header "
             "(--use-proxy-protocol).");
  out.sample("grpc_ingress_proxy_protocol_errors_total", static_cast<double>(proxy_protocol_errors));
  out.family("grpc_ingress_protocol_errors_total", "counter",
             "Connections closed for an HTTP/2 protocol error, by side (downstream: a client; upstream: a pod).");
  out.sample("grpc_ingress_protocol_errors_total", {{"side", "downstream"}}, static_cast<double>(downstream_errors));
  out.sample("grpc_ingress_protocol_errors_total", {{"side", "upstream"}}, static_cast<double>(upstream_errors));
  out.family("grpc_ingress_buffered_bytes", "gauge",
             "Request and response body bytes the proxy holds for streams now (bounded per stream by the "
             "stream window, and by --max-connection-buffer and --max-worker-buffer).");
  out.sample("grpc_ingress_buffered_bytes", static_cast<double>(buffered_bytes));
  out.family("grpc_ingress_buffer_resets_total", "counter",
             "Streams reset because they held the most buffered bytes when a budget was exceeded, by budget.");
  out.sample("grpc_ingress_buffer_resets_total", {{"budget", "connection"}},
             static_cast<double>(buffer_resets[kBudgetConnection]));
  out.sample("grpc_ingress_buffer_resets_total", {{"budget", "worker"}}, static_cast<double>(buffer_resets[kBudgetWorker]));
  out.family("grpc_ingress_access_denied_total", "counter",
             "Requests refused at the edge by an Ingress's access annotations (source ranges, client "
             "certificates, rate limits, auth-url) or for cleartext to a TLS host, by reason.");
  for (size_t i = 0; i < kAccessRefusals; ++i) {
    out.sample("grpc_ingress_access_denied_total", {{"reason", access_refusal_label(i)}},
               static_cast<double>(access_refused[i]));
  }
  out.family("grpc_ingress_stream_resets_total", "counter",
             "Streams closed with an HTTP/2 error code, by side and code.");
  for (size_t i = 0; i < kResetReasons; ++i) {
    if (downstream_resets[i]) {
      out.sample("grpc_ingress_stream_resets_total", {{"side", "downstream"}, {"reason", reset_reason_label(i)}},
                 static_cast<double>(downstream_resets[i]));
    }
    if (upstream_resets[i]) {
      out.sample("grpc_ingress_stream_resets_total", {{"side", "upstream"}, {"reason", reset_reason_label(i)}},
                 static_cast<double>(upstream_resets[i]));
    }
  }

  if (!per_endpoint || !table) return;
  out.family("grpc_ingress_endpoint_requests_total", "counter",
             "Streams opened to each pod (--metrics-per-endpoint).");
  std::vector<std::pair<Labels, EndpointTotals>> endpoints;
  table->for_each_cluster([&](uint32_t, const Cluster& cluster) {
    for (const Endpoint& endpoint : cluster.endpoints) {
      endpoints.push_back({{{"namespace", cluster.service_namespace},
                            {"service", cluster.service},
                            {"port", cluster.port},
                            {"endpoint", endpoint.address()},
                            {"pod", endpoint.pod}},
                           sum_endpoint(workers_, cluster, endpoint)});
    }
  });
  for (const auto& [labels, totals] : endpoints) {
    out.sample("grpc_ingress_endpoint_requests_total", labels, static_cast<double>(totals.requests));
  }
  out.family("grpc_ingress_endpoint_active_streams", "gauge", "Streams open to each pod (--metrics-per-endpoint).");
  for (const auto& [labels, totals] : endpoints) {
    out.sample("grpc_ingress_endpoint_active_streams", labels, static_cast<double>(totals.active));
  }
}

std::string Dataplane::endpoints_json(const RouteTable* table) const {
  nlohmann::json clusters = nlohmann::json::array();
  if (table) {
    table->for_each_cluster([&](uint32_t, const Cluster& cluster) {
      nlohmann::json endpoints = nlohmann::json::array();
      for (const Endpoint& endpoint : cluster.endpoints) {
        EndpointTotals totals = sum_endpoint(workers_, cluster, endpoint);
        auto state = endpoint_states_.find(cluster.name, endpoint.pod_address());
        static const char* const kHealth[] = {"unknown", "healthy", "unhealthy"};
        endpoints.push_back({{"address", endpoint.address()},
                             {"pod", endpoint.pod},
                             {"state", endpoint.ready ? "ready" : "terminating"},
                             {"active_streams", totals.active},
                             {"calls", totals.requests},
                             {"health", cluster.health_check.enabled && state ? kHealth[state->health.load() % 3]
                                                                             : "not checked"},
                             {"ejected", state && state->ejected(std::chrono::steady_clock::now())}});
      }
      clusters.push_back({{"cluster", cluster.name},
                          {"namespace", cluster.service_namespace},
                          {"service", cluster.service},
                          {"port", cluster.port},
                          {"endpoints", endpoints}});
    });
  }
  return nlohmann::json{{"version", table ? table->version : 0}, {"clusters", clusters}}.dump(2) + "\n";
}

}  // namespace grpc_ingress
