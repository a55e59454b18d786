// Dataplane::write_metrics and endpoints_json: sums the per-worker counters.

#include "dataplane/dataplane.h"
#include "common/log.h"
#include "common/tls_certificate.h"
#include "dataplane/worker.h"

#include <nlohmann/json.hpp>

#include <map>
#include <span>

namespace grpc_ingress {
namespace {

// A histogram summed over the workers.
struct HistogramTotals {
  std::vector<uint64_t> buckets;  // last: +Inf
  uint64_t sum = 0;
  template <const auto& Bounds>
  void add(const Histogram<Bounds>& h) {
    buckets.resize(Histogram<Bounds>::kBuckets + 1);
    for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += read(h.buckets[i]);
    sum += read(h.sum);
  }
};

// Writes `h` (bounds `bounds`) as Prometheus buckets, sum and count; `scale`
// turns its sum's units into the exported unit.
void write_histogram(MetricsWriter& out, const std::string& name, const Labels& labels, std::span<const double> bounds,
                     const HistogramTotals& h, double scale) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += i < h.buckets.size() ? h.buckets[i] : 0;
    Labels with_le = labels;
    char le[32];
    if (i < bounds.size()) {
      std::snprintf(le, sizeof(le), "%g", bounds[i]);
    } else {
      std::snprintf(le, sizeof(le), "+Inf");
    }
    with_le.emplace_back("le", le);
    out.sample(name + "_bucket", with_le, static_cast<double>(cumulative));
  }
  out.sample(name + "_sum", labels, static_cast<double>(h.sum) * scale);
  out.sample(name + "_count", labels, static_cast<double>(cumulative));
}

struct MethodTotals {
  std::string service, method;
  std::array<uint64_t, kGrpcCodes> requests{};
};

struct RouteTotals {
  Labels labels;
  std::array<uint64_t, kCodeSlots> requests{};
  HistogramTotals duration, stream_duration, stream_first_message, request_message_bytes, response_message_bytes;
  std::map<std::pair<std::string, std::string>, MethodTotals> methods;  // by (service, method)
};

struct ClusterTotals {
  Labels labels;
  HistogramTotals upstream_response;
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

// notAfter of every certificate `tls` serves, by the Secret it came from
// (parsed at each scrape: a scrape is rare, a certificate a few microseconds).
void write_certificate_expiry(MetricsWriter& out, const TlsSettings& tls) {
  out.family("grpc_ingress_tls_certificate_expiry_timestamp_seconds", "gauge",
             "When each certificate served on the TLS port expires (notAfter, unix time), by the Secret it "
             "came from.");
  std::map<std::string, const TlsCertificate*> by_secret;
  for (const auto& [_, certificate] : tls.certificates) by_secret.emplace(certificate.secret, &certificate);
  if (tls.default_certificate) by_secret.emplace(tls.default_certificate->secret, &*tls.default_certificate);
  for (const auto& [secret, certificate] : by_secret) {
    auto not_after = certificate_not_after(certificate->cert_pem);
    if (!not_after) continue;
    size_t slash = secret.find('/');
    Labels labels = {{"namespace", slash == std::string::npos ? "" : secret.substr(0, slash)},
                     {"secret", slash == std::string::npos ? secret : secret.substr(slash + 1)}};
    out.sample("grpc_ingress_tls_certificate_expiry_timestamp_seconds", labels,
               static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                       not_after->time_since_epoch()).count()));
  }
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
      totals.duration.add(r.duration);
      totals.stream_duration.add(r.stream_duration);
      totals.stream_first_message.add(r.stream_first_message);
      totals.request_message_bytes.add(r.request_message_bytes);
      totals.response_message_bytes.add(r.response_message_bytes);
      r.methods.for_each([&](const MethodStats& m) {
        auto& method = totals.methods[{m.service, m.method}];
        method.service = m.service;
        method.method = m.method;
        for (size_t i = 0; i < kGrpcCodes; ++i) method.requests[i] += read(m.requests[i]);
      });
    });
    stats.for_each_cluster([&](const ClusterStats& c) {
      auto& totals = clusters[c.namespace_name + "/" + c.service + ":" + c.port];
      totals.labels = {{"namespace", c.namespace_name}, {"service", c.service}, {"port", c.port}};
      totals.upstream_response.add(c.upstream_response);
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
             "Finished requests by Ingress, backend Service and code: grpc_code (the status name) for gRPC and "
             "gRPC-Web calls, http_code for plain HTTP ('none' when reset before an answer).");
  for (const auto& [_, totals] : routes) {
    for (size_t slot = 0; slot < kCodeSlots; ++slot) {
      if (!totals.requests[slot]) continue;
      Labels labels = totals.labels;
      auto [name, value] = code_label(slot);
      labels.emplace_back(name, std::move(value));
      out.sample("grpc_ingress_requests_total", labels, static_cast<double>(totals.requests[slot]));
    }
    for (const auto& [_, method] : totals.methods) {
      for (size_t code = 0; code < kGrpcCodes; ++code) {
        if (!method.requests[code]) continue;
        Labels labels = totals.labels;
        labels.emplace_back("grpc_service", method.service);
        labels.emplace_back("grpc_method", method.method);
        labels.emplace_back("grpc_code", grpc_code_name(code));
        out.sample("grpc_ingress_requests_total", labels, static_cast<double>(method.requests[code]));
      }
    }
  }
  auto route_histogram = [&](const std::string& name, const char* help, std::span<const double> bounds,
                             HistogramTotals RouteTotals::*field, double scale) {
    out.family(name, "histogram", help);
    for (const auto& [_, totals] : routes) write_histogram(out, name, totals.labels, bounds, totals.*field, scale);
  };
  route_histogram("grpc_ingress_request_duration_seconds",
                  "Time from a request's headers to the end of its stream: unary gRPC calls and plain HTTP requests.",
                  kDurationBucketBounds, &RouteTotals::duration, 1e-6);
  route_histogram("grpc_ingress_stream_duration_seconds",
                  "Time from a streaming gRPC call's headers (more than one message in a direction) to its end.",
                  kStreamDurationBounds, &RouteTotals::stream_duration, 1e-6);
  route_histogram("grpc_ingress_stream_first_message_seconds",
                  "Streaming gRPC calls: time from the request headers to the first response message.",
                  kDurationBucketBounds, &RouteTotals::stream_first_message, 1e-6);
  route_histogram("grpc_ingress_request_message_bytes", "Sizes of gRPC request messages (the length prefix).",
                  kMessageBytesBounds, &RouteTotals::request_message_bytes, 1);
  route_histogram("grpc_ingress_response_message_bytes", "Sizes of gRPC response messages (the length prefix).",
                  kMessageBytesBounds, &RouteTotals::response_message_bytes, 1);

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
  out.family("grpc_ingress_upstream_response_seconds", "histogram",
             "Per attempt: time from the request headers sent to a pod to its response headers, by backend "
             "Service port.");
  for (const auto& [_, c] : clusters) {
    write_histogram(out, "grpc_ingress_upstream_response_seconds", c.labels, kDurationBucketBounds,
                    c.upstream_response, 1e-6);
  }
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

  out.family("grpc_ingress_access_log_dropped_total", "counter",
             "Access-log lines dropped because the queue to the writer was full.");
  out.sample("grpc_ingress_access_log_dropped_total", static_cast<double>(access_log_dropped()));
  if (table) write_certificate_expiry(out, table->tls);

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
